import { existsSync } from 'node:fs';
import { NotesError } from '../errors.ts';
import { moveNote, readNote, resolveNotePath, throwPathError, untrashNote, writeNote } from '../notes/index.ts';
import type { ChangeRecorder, History, HistoryEntry } from './history.ts';

// Undoing a change notes-mcp made, for restore_note and `notes-mcp restore` alike. Every
// restore is itself a recorded change, and never replaces text notes-mcp did not write without
// being told the hash of that text: edits from an editor or git are not history, so a restore
// over them needs expected_hash, like any write.

export interface RestoreRequest {
  path: string;
  /** A content hash from the note's history; default: undo the note's last recorded change. */
  version?: string | undefined;
  /** The note's current hash, confirming the restore may replace it. */
  expectedHash?: string | undefined;
}

export interface RestoreResult {
  path: string;
  hash: string;
  bytes: number;
  /** version: text written back; trash: the deleted file moved back; move: a move undone. */
  how: 'version' | 'trash' | 'move' | 'unchanged';
  /** The recorded change this restore undid (absent when a version was named). */
  undid?: string | undefined;
  /** For a move undone: where the note was. */
  movedFrom?: string | undefined;
}

/** The hash notes-mcp last left the note at (null: it removed or moved the note away). */
function lastLeft(path: string, newest: HistoryEntry): string | null {
  // A move has a destination; links rewritten after one are plain edits.
  if (newest.to !== undefined) return newest.to === path ? newest.after : null;
  return newest.after;
}

async function currentHash(root: string, path: string): Promise<string | null> {
  try {
    return (await readNote(root, path)).hash;
  } catch (err) {
    if (err instanceof NotesError && err.code === 'NOTES_E_NOTE_NOT_FOUND') return null;
    throw err;
  }
}

function versionGone(path: string, why: string): NotesError {
  return new NotesError('NOTES_E_VERSION_NOT_FOUND', [path, why]);
}

export async function restoreNote(
  root: string,
  history: History,
  req: RestoreRequest,
  rec: ChangeRecorder,
): Promise<RestoreResult> {
  const check = await resolveNotePath(root, req.path, { forWrite: true });
  if (!check.ok) throwPathError(check, req.path);
  const path = check.rel;
  const versions = await history.versions(path);
  const newest = versions[0];
  if (!newest) throw versionGone(path, 'notes-mcp has recorded no change to it');
  const cur = await currentHash(root, path);
  // Without expected_hash, what notes-mcp last left there is all a restore may replace.
  const expected = req.expectedHash ?? lastLeft(path, newest);

  const writeBack = async (hash: string, undid?: string): Promise<RestoreResult> => {
    if (cur === hash) return { path, hash, bytes: 0, how: 'unchanged', undid };
    const kept = await history.blob(hash);
    if (!kept.ok)
      throw versionGone(
        path,
        kept.why === 'missing'
          ? `the kept copy of version ${hash} is missing from the history folder (removed outside notes-mcp)`
          : `the kept copy of version ${hash} no longer matches its hash (changed outside notes-mcp)`,
      );
    const bytes = kept.data;
    if (cur !== null && cur !== expected) {
      throw new NotesError('NOTES_E_NOTE_CONFLICT', [path, expected ?? 'none', cur]);
    }
    // The kept bytes as they are: a version with a stray non-UTF-8 byte comes back unchanged.
    const w = await rec.run(() =>
      writeNote(root, path, bytes, {
        mode: cur === null ? 'create' : 'overwrite',
        ...(cur === null ? {} : { expectedHash: cur }),
        beforeWrite: async (c) => {
          await rec.before({ path: c.path, before: c.before, after: c.after });
        },
      }),
    );
    return { path: w.path, hash: w.hash, bytes: w.bytes, how: 'version', undid };
  };

  if (req.version !== undefined) {
    const known = versions.some((e) => e.before === req.version || e.after === req.version);
    if (!known) throw versionGone(path, `${req.version} is not one of the versions note_history lists for it`);
    return writeBack(req.version);
  }

  if (newest.to !== undefined) {
    const [from, to] = [newest.path, newest.to ?? newest.path];
    if (cur !== null && path === from) throw new NotesError('NOTES_E_TARGET_EXISTS', [path, 'restore_note']);
    const m = await rec.run(() =>
      moveNote(root, to, from, {
        // The note must be what the move left, or what the caller says it is now.
        expectedHash: req.expectedHash ?? newest.after ?? undefined,
        beforeMove: async (c) => {
          await rec.before({ path: c.from, to: c.to, before: c.bytes, after: c.bytes });
        },
      }),
    );
    return { path: m.to, hash: m.hash, bytes: m.bytes, how: 'move', undid: newest.id, movedFrom: m.from };
  }

  if (cur === null) {
    // The note is gone: the trash holds it when delete_note took it (the newest such delete
    // whose file is still there), else the last text notes-mcp recorded for it is written back.
    const deleted = versions.find((e) => e.tool === 'delete_note' && e.trash && existsSync(history.trashFile(e.trash)));
    if (deleted?.trash) {
      const trash = history.trashFile(deleted.trash);
      const w = await rec.run(() =>
        untrashNote(root, path, trash, {
          expectedHash: deleted.before,
          beforeRestore: async (c) => {
            await rec.before({ path: c.path, before: null, after: c.bytes });
          },
        }),
      );
      return { path: w.path, hash: w.hash, bytes: w.bytes, how: 'trash', undid: deleted.id };
    }
    const last = versions.map((e) => e.after ?? e.before).find((h) => h !== null);
    if (last) return writeBack(last, newest.id);
  }

  if (newest.before === null) {
    throw versionGone(
      path,
      `its last recorded change (${newest.tool}, ${newest.at}) created it: delete_note removes it`,
    );
  }
  return writeBack(newest.before, newest.id);
}
