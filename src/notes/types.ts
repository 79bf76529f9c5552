/** A Markdown file found under the notes root. */
export interface NoteFile {
  /** Path relative to the notes root, '/'-separated, Unicode NFC: the note's identity. */
  path: string;
  /** Absolute path on disk as the file system spells it (may be NFD on macOS). */
  absPath: string;
  size: number;
  mtimeMs: number;
  /**
   * Status change time: unlike mtime, no tool can set it back, so an edit that kept size and
   * mtime (cp -p, rsync -a, sync tools) still shows.
   */
  ctimeMs: number;
}

export type PathCheck =
  | {
      ok: true;
      rel: string;
      abs: string;
      /** The file's real place (its folder's, for a new note): one writer at a time per key. */
      key: string;
    }
  | { ok: false; code: 'NOTES_E_PATH_INVALID' | 'NOTES_E_PATH_OUTSIDE'; reason: string };

export type WriteMode = 'create' | 'append' | 'overwrite';

export interface WriteResult {
  path: string;
  /** sha256 hex of the note's full content after the write. */
  hash: string;
  bytes: number;
  created: boolean;
}

/** One debounced batch of changes seen by the watcher, as note paths (relative, NFC). */
export interface ChangeBatch {
  /** Notes that exist now and may have changed (added or modified). */
  upserted: string[];
  /** Notes (or whole folders, expanded by the index) that no longer exist. */
  removed: string[];
  /** Folder paths that were removed or renamed away; every note under them is gone. */
  removedDirs: string[];
}
