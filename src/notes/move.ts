import { link, lstat, realpath, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NotesError } from '../errors.ts';
import { fsyncPathAsync, writeFileAtomic } from '../fs-atomic.ts';
import { MAX_NOTE_BYTES, noteFileError, readNoteFile } from './file.ts';
import { contentHash } from './hash.ts';
import { resolveNotePath, throwPathError } from './paths.ts';
import { TEMP_PREFIX } from './temp.ts';
import { ensureDir, withNoteLock, writeFailure } from './write.ts';

// Moving a note never replaces another: the new name is a hard link (which fails when the name
// is taken) and only then is the old name removed. Killed in between, both names show the same
// text: nothing is lost, and moving the old name to the new one again finishes the job.

export interface MoveOptions {
  /** sha256 the note must have now, else NOTES_E_NOTE_CONFLICT and nothing moves. */
  expectedHash?: string | undefined;
  /** Called with both locks held and every check passed, right before the move: may refuse. */
  beforeMove?: (c: { from: string; to: string; bytes: Buffer }) => void | Promise<void>;
}

export interface MoveResult {
  from: string;
  to: string;
  hash: string;
  bytes: number;
}

/** Bytes, mode and identity of a note that must be a plain file (not a symbolic link). */
export async function readPlainNote(
  abs: string,
  rel: string,
): Promise<{ bytes: Buffer; mode: number; dev: number; ino: number; nlink: number }> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotesError('NOTES_E_NOTE_NOT_FOUND', [rel]);
    throw err;
  }
  if (st.isSymbolicLink()) {
    throw new NotesError('NOTES_E_PATH_INVALID', [
      JSON.stringify(rel),
      'it is a symbolic link: move, delete or restore the note it points to instead',
    ]);
  }
  // Opened without blocking and checked after (a FIFO swapped in since the lstat is refused,
  // never waited on), bounded by the one note size limit, like every other read of a note.
  const r = await readNoteFile(abs, await realpath(dirname(abs)), MAX_NOTE_BYTES, { followLink: false });
  if (!r.ok) {
    if (r.kind === 'not-a-file' && r.reason === 'a symbolic link') {
      throw new NotesError('NOTES_E_PATH_INVALID', [
        JSON.stringify(rel),
        'it is a symbolic link: move, delete or restore the note it points to instead',
      ]);
    }
    throw noteFileError(r, rel);
  }
  return { bytes: r.bytes, mode: r.mode, dev: r.dev, ino: r.ino, nlink: r.nlink };
}

/** The note at `abs`, when one is there (any kind of entry counts as taken). */
async function taken(abs: string): Promise<{ dev: number; ino: number } | null> {
  try {
    const st = await lstat(abs);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Put `bytes` (the file at `from`) at the new name `toAbs` without replacing anything there:
 * a hard link, or on file systems without them an exclusive copy. EEXIST when taken.
 */
export async function placeExclusive(fromAbs: string, toAbs: string, bytes: Buffer, mode: number): Promise<void> {
  try {
    await link(fromAbs, toAbs);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK')
      throw err;
  }
  await writeFileAtomic(toAbs, bytes, { mode, exclusive: true, tempPrefix: TEMP_PREFIX });
}

/**
 * Move (rename) a note inside the notes folder. Both paths are checked after symlinks against
 * the root; the destination must be free (NOTES_E_TARGET_EXISTS otherwise), its folders are
 * created. A case-only rename of one file is a plain rename.
 */
export async function moveNote(root: string, from: string, to: string, opts: MoveOptions = {}): Promise<MoveResult> {
  const src0 = await resolveNotePath(root, from);
  if (!src0.ok) throwPathError(src0, from);
  const dst0 = await resolveNotePath(root, to, { forWrite: true });
  if (!dst0.ok) throwPathError(dst0, to);
  if (src0.rel === dst0.rel) {
    throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(to), 'it is where the note already is']);
  }
  // Keys are folded to lower case: a case-only rename has one key, and one lock (two would
  // wait on each other for ever).
  const [first, second] = [src0.key, dst0.key].sort();
  const both = <T>(fn: () => Promise<T>): Promise<T> =>
    first === second ? withNoteLock(first!, fn) : withNoteLock(first!, () => withNoteLock(second!, fn));
  return both(async () => {
    const src = await resolveNotePath(root, from);
    if (!src.ok) throwPathError(src, from);
    const dst = await resolveNotePath(root, to, { forWrite: true });
    if (!dst.ok) throwPathError(dst, to);
    const cur = await readPlainNote(src.abs, src.rel);
    const hash = contentHash(cur.bytes);
    if (opts.expectedHash !== undefined && opts.expectedHash !== hash) {
      throw new NotesError('NOTES_E_NOTE_CONFLICT', [src.rel, opts.expectedHash, hash]);
    }
    const there = await taken(dst.abs);
    // The same file under another spelling (case-insensitive disks): a rename of one file.
    const sameFile = there !== null && there.dev === cur.dev && there.ino === cur.ino;
    if (there !== null && !sameFile) throw new NotesError('NOTES_E_TARGET_EXISTS', [dst.rel, 'move_note']);
    await opts.beforeMove?.({ from: src.rel, to: dst.rel, bytes: cur.bytes });
    await ensureDir(root, dirname(dst.abs), to);
    // Two links to one file: a move killed before its unlink; finish it. One link under two
    // spellings: a case-only rename on a case-insensitive disk.
    if (sameFile && cur.nlink > 1) await unlink(src.abs);
    else if (sameFile) await rename(src.abs, dst.abs);
    else {
      try {
        await placeExclusive(src.abs, dst.abs, cur.bytes, cur.mode);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new NotesError('NOTES_E_TARGET_EXISTS', [dst.rel, 'move_note']);
        throw err;
      }
      await fsyncPathAsync(dirname(dst.abs));
      try {
        await unlink(src.abs);
      } catch (err) {
        // The old name cannot go (its folder is read-only, say): take the new one back, so
        // that an error means nothing moved, never a note under two names.
        await unlink(dst.abs).catch(() => undefined);
        await fsyncPathAsync(dirname(dst.abs)).catch(() => undefined);
        throw writeFailure(err, src.rel);
      }
    }
    await fsyncPathAsync(dirname(src.abs));
    if (dirname(src.abs) !== dirname(dst.abs)) await fsyncPathAsync(dirname(dst.abs));
    return { from: src.rel, to: dst.rel, hash, bytes: cur.bytes.length };
  });
}

/**
 * One move at a time per notes folder, in this process. A move plans its link rewrites on the
 * notes as they are: two at once (A and B linking to each other) each planned on the other's
 * old path, and both links broke. Moves are rare; waiting for the one before is cheap. The
 * note locks' queue, under a key no note path can have (a NUL).
 */
export function withMoveLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  return withNoteLock(`\0move\0${root}`, fn);
}
