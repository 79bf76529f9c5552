import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, realpath, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { NotesError } from '../errors.ts';
import { contentHash } from './hash.ts';
import { isInside, realNotePath, resolveNotePath, throwPathError } from './paths.ts';
import { TEMP_PREFIX } from './temp.ts';
import type { WriteMode, WriteResult } from './types.ts';

export interface WriteOptions {
  mode: WriteMode;
  /** sha256 hex the note must have now (from readNote or a previous write), else a conflict. */
  expectedHash?: string;
  /** Largest note (after the write) accepted, in bytes; default MAX_NOTE_BYTES. */
  maxBytes?: number;
}

export const MAX_NOTE_BYTES = 5 * 1024 * 1024;

// One writer per note at a time within this process; writes to different notes run freely.
const locks = new Map<string, Promise<unknown>>();

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

/** fsync a folder so a rename or a new entry in it survives a power cut. */
async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory; the data itself was synced already.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    await fh?.close();
  }
}

interface Current {
  bytes: Buffer;
  mode: number;
  /** The real file to replace (a symlinked note is replaced at its target). */
  target: string;
}

async function current(root: string, abs: string, rel: string): Promise<Current | null> {
  try {
    await lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const target = await realNotePath(root, abs);
  if (target === null) throw new NotesError('NOTES_E_PATH_OUTSIDE', [JSON.stringify(rel)]);
  const fh = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await fh.stat();
    return { bytes: await fh.readFile(), mode: st.mode & 0o7777, target };
  } finally {
    await fh.close();
  }
}

function nextContent(mode: WriteMode, cur: Current | null, add: Buffer): Buffer {
  if (mode !== 'append' || cur === null || cur.bytes.length === 0) return add;
  // Appending starts on a new line: a note that ends mid-line gets one first.
  const sep = cur.bytes[cur.bytes.length - 1] === 0x0a ? [] : [Buffer.from('\n')];
  return Buffer.concat([cur.bytes, ...sep, add]);
}

/** Create the note's folder (inside the root) and fsync what was created. */
async function ensureDir(root: string, dir: string, rel: string): Promise<void> {
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
  for (const d of [top, ...chain]) await syncDir(d);
}

/**
 * Put `data` at `target` through a synced temp file. `exclusive`: fail with EEXIST when
 * something appeared at `target` meanwhile (link(2) never replaces), instead of renaming over it.
 */
async function replaceFile(target: string, data: Buffer, mode: number | null, exclusive: boolean): Promise<void> {
  const dir = dirname(target);
  const tmp = join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode ?? 0o666);
  let placed = false;
  try {
    try {
      await fh.writeFile(data);
      // open() applies the umask; an existing note keeps exactly the mode it had.
      if (mode !== null) await fh.chmod(mode);
      // libuv turns this into F_FULLFSYNC on macOS, so the bytes reach the disk itself.
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (exclusive && (await linkExclusive(tmp, target))) {
      placed = true;
      await unlink(tmp);
    } else {
      await rename(tmp, target);
      placed = true;
    }
    await syncDir(dir);
  } finally {
    if (!placed) await unlink(tmp).catch(() => undefined);
  }
}

/** Hard-link tmp to target; false when the file system has no hard links (rename instead). */
async function linkExclusive(tmp: string, target: string): Promise<boolean> {
  try {
    await link(tmp, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') return false;
    throw err;
  }
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
export async function writeNote(root: string, rel: string, content: string, opts: WriteOptions): Promise<WriteResult> {
  const syntax = await resolveNotePath(root, rel, { forWrite: true });
  if (!syntax.ok) throwPathError(syntax, rel);
  return withLock(`${resolve(root)}\0${syntax.rel}`, async () => {
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
    const data = nextContent(opts.mode, cur, Buffer.from(content, 'utf8'));
    const limit = opts.maxBytes ?? MAX_NOTE_BYTES;
    if (data.length > limit) throw new NotesError('NOTES_E_NOTE_TOO_LARGE', [check.rel, data.length, limit]);
    const target = cur?.target ?? check.abs;
    if (cur === null) await ensureDir(root, dirname(target), rel);
    try {
      await replaceFile(target, data, cur?.mode ?? null, cur === null && opts.mode === 'create');
    } catch (err) {
      // Another program created the note between our check and the write.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new NotesError('NOTES_E_NOTE_EXISTS', [check.rel]);
      throw err;
    }
    return { path: check.rel, hash: contentHash(data), bytes: data.length, created: cur === null };
  });
}
