import { lstat, mkdir, unlink } from 'node:fs/promises';
import { renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { NotesError } from '../errors.ts';
import { fsyncPathAsync, writeFileAtomic } from '../fs-atomic.ts';
import { contentHash } from './hash.ts';
import { placeExclusive, readPlainNote } from './move.ts';
import { resolveNotePath, throwPathError } from './paths.ts';
import type { WriteResult } from './types.ts';
import { ensureDir, unchangedSince, withNoteLock } from './write.ts';

// Deleting a note moves its file into a trash folder the caller names (inside the state
// folder); nothing is unlinked before its bytes are safely elsewhere. Restoring moves it back,
// never over a note that took its place.

export interface TrashOptions {
  expectedHash?: string | undefined;
  /** Called under the note's lock with every check passed, right before the move: may refuse. */
  beforeTrash?: (c: { path: string; bytes: Buffer }) => void | Promise<void>;
}

async function ensureFolder(dir: string): Promise<void> {
  const made = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (made !== undefined) await fsyncPathAsync(dirname(made));
}

/** Move a note to `trashFile` (a path in the trash folder that does not exist yet). */
export async function trashNote(
  root: string,
  rel: string,
  trashFile: string,
  opts: TrashOptions = {},
): Promise<{ path: string; hash: string; bytes: number }> {
  const first = await resolveNotePath(root, rel);
  if (!first.ok) throwPathError(first, rel);
  return withNoteLock(first.key, async () => {
    const check = await resolveNotePath(root, rel);
    if (!check.ok) throwPathError(check, rel);
    const cur = await readPlainNote(check.abs, check.rel);
    const hash = contentHash(cur.bytes);
    if (opts.expectedHash !== undefined && opts.expectedHash !== hash) {
      throw new NotesError('NOTES_E_NOTE_CONFLICT', [check.rel, opts.expectedHash, hash]);
    }
    await opts.beforeTrash?.({ path: check.rel, bytes: cur.bytes });
    await ensureFolder(dirname(trashFile));
    // An editor's save since the read would go to the trash unrecorded (and unrestorable).
    const last = await unchangedSince(check.abs, hash, check.rel);
    try {
      last();
      renameSync(check.abs, trashFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // The state folder is on another disk: a synced copy first, then the note goes.
      await writeFileAtomic(trashFile, cur.bytes, { mode: cur.mode, exclusive: true });
      await unlink(check.abs);
    }
    await fsyncPathAsync(dirname(trashFile));
    await fsyncPathAsync(dirname(check.abs));
    return { path: check.rel, hash, bytes: cur.bytes.length };
  });
}

export interface UntrashOptions {
  beforeRestore?: (c: { path: string; bytes: Buffer }) => void | Promise<void>;
  /** The hash the note had when it was deleted: a trashed file that differs is not put back… */
  expectedHash?: string | null | undefined;
  /**
   * …unless it is those bytes with more after them: a program that had the note open when it
   * was deleted (an editor, a logger) appended to the same file, now in the trash. That text is
   * the user's, and is put back with the rest.
   */
  deletedBytes?: Buffer | undefined;
}

/** Move a trashed note back to `rel`; NOTES_E_TARGET_EXISTS when a note is there now. */
export async function untrashNote(
  root: string,
  rel: string,
  trashFile: string,
  opts: UntrashOptions = {},
): Promise<WriteResult> {
  const first = await resolveNotePath(root, rel, { forWrite: true });
  if (!first.ok) throwPathError(first, rel);
  return withNoteLock(first.key, async () => {
    const check = await resolveNotePath(root, rel, { forWrite: true });
    if (!check.ok) throwPathError(check, rel);
    const exists = await lstat(check.abs).then(
      () => true,
      (err: NodeJS.ErrnoException) => err.code !== 'ENOENT',
    );
    if (exists) throw new NotesError('NOTES_E_TARGET_EXISTS', [check.rel, 'restore_note']);
    const { bytes } = await readPlainNote(trashFile, check.rel);
    if (opts.expectedHash && contentHash(bytes) !== opts.expectedHash && !appendedTo(bytes, opts.deletedBytes)) {
      // Something changed the trash (or planted a file there): putting it back would restore
      // text notes-mcp never had.
      throw new NotesError('NOTES_E_VERSION_NOT_FOUND', [
        check.rel,
        'the trashed copy is not the text that was deleted (it was changed in the trash)',
      ]);
    }
    await opts.beforeRestore?.({ path: check.rel, bytes });
    await ensureDir(root, dirname(check.abs), rel);
    try {
      await placeExclusive(trashFile, check.abs, bytes, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new NotesError('NOTES_E_TARGET_EXISTS', [check.rel, 'restore_note']);
      throw err;
    }
    // The note is back: from here on nothing may turn that into a reported failure (a trash
    // folder the daemon may not write made restore_note say "internal error" with the note
    // restored, and took back its history entry). A trashed copy left behind is only space.
    await fsyncPathAsync(dirname(check.abs)).catch(() => undefined);
    await unlink(trashFile)
      .then(() => fsyncPathAsync(dirname(trashFile)))
      .catch(() => undefined);
    return { path: check.rel, hash: contentHash(bytes), bytes: bytes.length, created: true };
  });
}

function appendedTo(bytes: Buffer, prefix: Buffer | undefined): boolean {
  return prefix !== undefined && bytes.length > prefix.length && bytes.subarray(0, prefix.length).equals(prefix);
}
