import { type BigIntStats, constants, lstatSync } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NotesError } from '../errors.ts';
import { fsyncPathAsync, writeFileAtomic } from '../fs-atomic.ts';
import { contentHash } from './hash.ts';
import { firstInvalidUtf8Line, MAX_NOTE_BYTES, noteFileError, readNoteFile } from './file.ts';
import { isInside, resolveNotePath, throwPathError } from './paths.ts';
import { TEMP_PREFIX } from './temp.ts';
import type { WriteMode, WriteResult } from './types.ts';

export interface WriteOptions {
  mode: WriteMode;
  /** sha256 hex the note must have now (from readNote or a previous write), else a conflict. */
  expectedHash?: string;
  /** Largest note (after the write) accepted, in bytes; default MAX_NOTE_BYTES. */
  maxBytes?: number;
  /**
   * Called under the note's lock after every check passed, right before the file is replaced:
   * the last moment to refuse (it throws) with nothing changed, and to keep the old version.
   */
  beforeWrite?: (change: NoteChange) => void | Promise<void>;
  /**
   * Compute the new text from the current one, under the note's lock (mode overwrite): an edit
   * applied to exactly the text on disk, however many writers race for the note. It may throw
   * to refuse (nothing is written). An edit never creates the note: one moved or deleted since
   * it was read is NOTES_E_NOTE_NOT_FOUND, and one whose bytes are not all UTF-8 is refused
   * (decoding would turn every stray byte into U+FFFD, on lines the edit never touched).
   */
  edit?: (current: { text: string; hash: string }) => string;
}

/** A note about to be replaced: its path, and its bytes before (null: new note) and after. */
export interface NoteChange {
  path: string;
  before: Buffer | null;
  after: Buffer;
}

// One writer per note at a time within this process; writes to different notes run freely.
const locks = new Map<string, Promise<unknown>>();

/**
 * Run fn as the one writer of a note within this process (moves and the trash use it too),
 * keyed by the note's real place (PathCheck.key): a symlink and its target are one note here.
 */
export function withNoteLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  return withLock(key, fn);
}

async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

interface Current {
  bytes: Buffer;
  mode: number;
  /** The real file to replace (a symlinked note is replaced at its target). */
  target: string;
}

async function current(root: string, abs: string, rel: string): Promise<Current | null> {
  const r = await readNoteFile(abs, await realpath(root));
  if (r.ok) return { bytes: r.bytes, mode: r.mode, target: r.real };
  if (r.kind === 'missing') {
    // Nothing there, or a dangling link: a write would create a file somewhere unknown.
    if ((await lstat(abs).catch(() => null)) === null) return null;
    throw new NotesError('NOTES_E_PATH_OUTSIDE', [JSON.stringify(rel)]);
  }
  throw noteFileError(r, rel);
}

function nextContent(mode: WriteMode, cur: Current | null, add: Buffer): Buffer {
  if (mode !== 'append' || cur === null || cur.bytes.length === 0) return add;
  // Appending starts on a new line: a note that ends mid-line gets one first.
  const sep = cur.bytes[cur.bytes.length - 1] === 0x0a ? [] : [Buffer.from('\n')];
  return Buffer.concat([cur.bytes, ...sep, add]);
}

/** Create the note's folder (inside the root) and fsync what was created. */
export async function ensureDir(root: string, dir: string, rel: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  const [rootReal, dirReal] = await Promise.all([realpath(root), realpath(dir)]);
  if (dirReal !== rootReal && !isInside(rootReal, dirReal)) {
    throw new NotesError('NOTES_E_PATH_OUTSIDE', [JSON.stringify(rel)]);
  }
  if (first === undefined) return;
  // Each new folder's entry lives in its parent: sync the parent of the top-most new folder
  // and every new folder but the last (the rename syncs that one).
  const top = dirname(first);
  const chain: string[] = [];
  for (let d = dirname(dir); d.length > top.length; d = dirname(d)) chain.unshift(d);
  for (const d of [top, ...chain]) await fsyncPathAsync(d);
}

/**
 * Write a note atomically: a temp file in the same folder, fsync, rename over the note,
 * fsync the folder. Modes: `create` fails with NOTES_E_NOTE_EXISTS when the note exists;
 * `append` adds to the end (on a new line) and creates the note when it is missing;
 * `overwrite` replaces or creates it. With `expectedHash`, a note whose current hash differs
 * (or that does not exist) is not touched: NOTES_E_NOTE_CONFLICT. Missing folders are
 * created inside the root. Writes to one note are serialised within the process.
 * WriteResult.bytes and .hash describe the whole note after the write.
 */
export async function writeNote(
  root: string,
  rel: string,
  content: string | Buffer,
  opts: WriteOptions,
): Promise<WriteResult> {
  const syntax = await resolveNotePath(root, rel, { forWrite: true });
  if (!syntax.ok) throwPathError(syntax, rel);
  return withNoteLock(syntax.key, async () => {
    // Checked again under the lock: the disk may have changed while waiting for it.
    const check = await resolveNotePath(root, rel, { forWrite: true });
    if (!check.ok) throwPathError(check, rel);
    const cur = await current(root, check.abs, rel);
    const curHash = cur ? contentHash(cur.bytes) : null;
    if (opts.expectedHash !== undefined && opts.expectedHash !== curHash) {
      throw new NotesError('NOTES_E_NOTE_CONFLICT', [
        check.rel,
        opts.expectedHash,
        curHash ?? 'none (the note does not exist)',
      ]);
    }
    if (opts.mode === 'create' && cur !== null) throw new NotesError('NOTES_E_NOTE_EXISTS', [check.rel]);
    let body: string | Buffer = content;
    if (opts.edit !== undefined) {
      if (cur === null) throw new NotesError('NOTES_E_NOTE_NOT_FOUND', [check.rel]);
      const bad = firstInvalidUtf8Line(cur.bytes);
      if (bad !== null) throw new NotesError('NOTES_E_NOTE_NOT_UTF8', [check.rel, bad]);
      body = opts.edit({ text: cur.bytes.toString('utf8'), hash: curHash! });
    }
    const data = nextContent(opts.mode, cur, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
    const limit = opts.maxBytes ?? MAX_NOTE_BYTES;
    if (data.length > limit) throw new NotesError('NOTES_E_NOTE_TOO_LARGE', [check.rel, data.length, limit]);
    const target = cur?.target ?? check.abs;
    await opts.beforeWrite?.({ path: check.rel, before: cur?.bytes ?? null, after: data });
    try {
      if (cur === null) await ensureDir(root, dirname(target), rel);
      await writeFileAtomic(target, data, {
        mode: cur?.mode ?? null,
        exclusive: cur === null && opts.mode === 'create',
        tempPrefix: TEMP_PREFIX,
        // An editor's save since the read (while the history was kept) is never overwritten.
        beforeRename: () => unchangedSince(target, curHash, check.rel),
      });
    } catch (err) {
      // Another program created the note between our check and the write.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new NotesError('NOTES_E_NOTE_EXISTS', [check.rel]);
      throw writeFailure(err, check.rel);
    }
    return { path: check.rel, hash: contentHash(data), bytes: data.length, created: cur === null };
  });
}

/**
 * Refuse (NOTES_E_NOTE_RACED) when the note on disk is no longer the one read (hash null:
 * there was none). The lock keeps out this process's writers, not an editor. The bytes are
 * compared now; the returned check compares the file's identity and change time with what
 * they were when those bytes were read, and is meant to run in the same tick as the rename
 * that replaces the note (a save in between would be lost, its text in no version).
 */
export async function unchangedSince(abs: string, hash: string | null, rel: string): Promise<() => void> {
  const raced = (): never => {
    throw new NotesError('NOTES_E_NOTE_RACED', [rel]);
  };
  const stampOf = (st: BigIntStats | undefined): string =>
    st === undefined ? 'none' : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}`;
  let stamp = 'none';
  if (hash === null) {
    if ((await lstat(abs).catch(() => null)) !== null) raced();
  } else {
    const fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
    if (fh === null) return raced();
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile() || st.size > BigInt(MAX_NOTE_BYTES)) raced();
      stamp = stampOf(st);
      if (contentHash(await fh.readFile()) !== hash) raced();
    } finally {
      await fh.close();
    }
  }
  return () => {
    if (stampOf(lstatSync(abs, { bigint: true, throwIfNoEntry: false })) !== stamp) raced();
  };
}

const WRITE_FAILURES: Record<string, string> = {
  EROFS: 'the notes folder is on a read-only file system',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: "permission denied: the daemon's user may not write there",
  EPERM: "permission denied: the daemon's user may not write there",
  EFBIG: 'the file system refuses a file this large',
  EIO: 'the disk reported an I/O error',
  EMFILE: 'the daemon has too many files open: retry shortly',
  ENFILE: 'the system has too many files open: retry shortly',
};

/** What the file system refused, as a coded error naming the note, never an absolute path. */
export function writeFailure(err: unknown, rel: string): unknown {
  if (err instanceof NotesError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === undefined ? undefined : WRITE_FAILURES[code];
  return why === undefined ? err : new NotesError('NOTES_E_WRITE_FAILED', [rel, `${why} (${code})`], { cause: err });
}
