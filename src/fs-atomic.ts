import { closeSync, fsyncSync, lstatSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// Replacing a file so that a crash at any moment leaves the old or the new one, never half of
// either: write a temp file in the same folder, fsync it, rename it over, fsync the folder.
// (Notes have their own async writer with locks and conflict checks: src/notes/write.ts.)

/** fsync a file or folder by path; folders that refuse fsync are skipped (data is synced). */
export function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw err;
  } finally {
    closeSync(fd);
  }
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array, mode = 0o644): void {
  // A device (/dev/stdout) or a symlink is written through, never replaced by a regular file.
  const existing = lstatSync(file, { throwIfNoEntry: false });
  if (existing && !existing.isFile()) {
    writeFileSync(file, data);
    return;
  }
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w', mode);
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
  renameSync(tmp, file);
  fsyncPath(dirname(file));
}
