import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// The one place that replaces files so that a crash at any moment leaves the old or the new
// one, never half of either: write a temp file in the same folder, fsync it, rename it over
// (or hard-link it, to never replace), fsync the folder. Notes, tokens, the vector graph and
// its manifest, downloaded models and generated ops files all go through here.

/** Errors of fsync on a folder some file systems refuse; the data itself was synced already. */
const FSYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EPERM', 'EBADF']);

function unsupported(err: unknown): boolean {
  return FSYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '');
}

/** A temp name beside `file`, unique per process and call (hidden unless a prefix says otherwise). */
export function tempPathFor(file: string, prefix = `.${basename(file)}.tmp-`): string {
  return join(dirname(file), `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** What a non-regular file is, in words ("a FIFO (named pipe)"). */
export function fileKind(mode: number): string {
  const type = mode & constants.S_IFMT;
  if (type === constants.S_IFDIR) return 'a folder';
  if (type === constants.S_IFIFO) return 'a FIFO (named pipe)';
  if (type === constants.S_IFSOCK) return 'a socket';
  if (type === constants.S_IFCHR || type === constants.S_IFBLK) return 'a device';
  return 'not a regular file';
}

/**
 * Read a state file the daemon keeps (tokens, lock, runtime file, manifests, snapshots) so that
 * no damage to it can hang a start: readFileSync on a FIFO blocks in open() for ever, and on a
 * symlink to /dev/zero reads until memory runs out. Opened without blocking, then fstat on the
 * descriptor decides: only a regular file of at most maxBytes is read. A symlink to a regular
 * file is followed (its content is judged by the caller). Throws like fs does, with
 * code EINVAL (not a regular file) or EFBIG (too large) and a message saying which.
 */
export function readStateFileSync(file: string, maxBytes = 16 * 1024 * 1024): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    const refuse = (code: string, why: string): never => {
      throw notStateFile(file, code, why);
    };
    if (!st.isFile()) refuse('EINVAL', `${fileKind(st.mode)}, not a regular file`);
    if (st.size > maxBytes) refuse('EFBIG', `${st.size} bytes, more than the ${maxBytes}-byte limit`);
    // What fstat promised and one byte more: a file still growing is refused, not read without end.
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    if (n > maxBytes) refuse('EFBIG', `more than the ${maxBytes}-byte limit`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bytes of an open regular file of `size` bytes (as fstat said), reading one byte more so
 * that a file still growing past `maxBytes` is refused (undefined), not read without end. The
 * one bounded read for state files and notes alike.
 */
export async function readOpenFile(fh: FileHandle, size: number, maxBytes: number): Promise<Buffer | undefined> {
  const buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n > maxBytes ? undefined : buf.subarray(0, n);
}

/** readStateFileSync for async callers (the history journal and kept versions). */
export async function readStateFile(file: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notStateFile(file, 'EINVAL', `${fileKind(st.mode)}, not a regular file`);
    if (st.size > maxBytes) throw notStateFile(file, 'EFBIG', `${st.size} bytes, more than the ${maxBytes}-byte limit`);
    const bytes = await readOpenFile(fh, st.size, maxBytes);
    if (!bytes) throw notStateFile(file, 'EFBIG', `more than the ${maxBytes}-byte limit`);
    return bytes;
  } finally {
    await fh.close();
  }
}

function notStateFile(file: string, code: string, why: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${why}`), { code, path: file });
}

/**
 * Why a state file that exists cannot be used as one (a folder, a FIFO, a device, no
 * permission to read, or to write when `write`), or undefined when it is a usable regular file
 * or absent. For files opened by a library (SQLite) that would block on a FIFO or misreport a
 * device: judged before the open, since there is no descriptor to fstat.
 */
export function stateFileProblem(file: string, write: boolean): string | undefined {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return lstatSync(file, { throwIfNoEntry: false }) ? 'a broken symbolic link' : undefined;
    return `cannot be examined (${code ?? 'error'})`;
  }
  if (!st.isFile()) return `${fileKind(Number(st.mode))}, not a regular file`;
  try {
    accessSync(file, write ? constants.R_OK | constants.W_OK : constants.R_OK);
  } catch (err) {
    return `permission denied (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return undefined;
}

/** fsync a file or folder by path (sync); a path that is gone or a folder that refuses is skipped. */
export function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    if (!unsupported(err)) throw err;
  } finally {
    closeSync(fd);
  }
}

/** fsync a file or folder by path, so a rename or a new entry in it survives a power cut. */
export async function fsyncPathAsync(path: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY);
  } catch {
    return;
  }
  try {
    // libuv turns this into F_FULLFSYNC on macOS, so the bytes reach the disk itself.
    await fh.sync();
  } catch (err) {
    if (!unsupported(err)) throw err;
  } finally {
    await fh.close();
  }
}

/** Rename, then fsync the destination's folder: the rename is durable when this returns. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncPathAsync(dirname(to));
}

/**
 * `writeThrough`: a device (/dev/stdout) or a symlink at `file` is written through rather than
 * replaced, for output paths a user names (`launchd --out`). Never for state files: a
 * lexical.bin or manifest symlinked elsewhere had the file it points at overwritten by the
 * daemon; replaced, the link goes and the target is left alone.
 */
export function writeFileAtomicSync(
  file: string,
  data: string | Uint8Array,
  mode = 0o644,
  opts: { writeThrough?: boolean } = {},
): void {
  const existing = opts.writeThrough ? lstatSync(file, { throwIfNoEntry: false }) : undefined;
  if (existing && !existing.isFile()) {
    writeFileSync(file, data);
    return;
  }
  const tmp = tempPathFor(file);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    if (typeof data === 'string') writeSync(fd, data);
    else writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncPath(dirname(file));
}

export interface AtomicWriteOptions {
  /** Mode of the new file; null: the default (0666 less the umask). Applied after open, so exact. */
  mode?: number | null;
  /** Fail with EEXIST when `file` exists (hard link, which never replaces) instead of renaming over it. */
  exclusive?: boolean;
  /** Temp file name prefix (notes use one no scanner or watcher picks up). */
  tempPrefix?: string;
  /**
   * Called with the new bytes synced, right before they replace `file`: the last moment to
   * refuse (it throws; the temp file is removed and `file` is untouched). Its sync result, if
   * any, runs in the same tick as the rename, so that nothing can happen in between.
   */
  beforeRename?: () => Promise<(() => void) | undefined>;
}

/** Put `data` at `file` through a synced temp file in the same folder. */
export async function writeFileAtomic(file: string, data: Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(file, opts.tempPrefix);
  const mode = opts.mode ?? null;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode ?? 0o666);
  let placed = false;
  try {
    try {
      await fh.writeFile(data);
      // open() applies the umask; an existing note keeps exactly the mode it had.
      if (mode !== null) await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const last = await opts.beforeRename?.();
    if (opts.exclusive && (await linkExclusive(tmp, file))) {
      placed = true;
      await unlink(tmp);
    } else if (last !== undefined) {
      last();
      renameSync(tmp, file);
      placed = true;
    } else {
      await rename(tmp, file);
      placed = true;
    }
    await fsyncPathAsync(dirname(file));
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
