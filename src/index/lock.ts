import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { uptime } from 'node:os';
import { z } from 'zod';
import { NotesError } from '../errors.ts';
import { readStateFileSync } from '../fs-atomic.ts';

/** The lock file's text; never blocks, whatever is at its path (a FIFO was left there). */
function readLock(file: string): string {
  return readStateFileSync(file, 64 * 1024).toString('utf8');
}

// One writer per index folder. The lock file holds the owner's pid and the machine's boot
// time, so a lock left by a crash (or from before a reboot, when pids are reused) is stale.

const LockInfo = z.object({ pid: z.number().int(), boot: z.number(), command: z.string().optional() });

function bootTime(): number {
  // Rounded to 10 s: uptime and Date.now are read at slightly different moments.
  return Math.round((Date.now() / 1000 - uptime()) / 10) * 10;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Lock {
  readonly file: string;
  release(): void;
}

export function readLockOwner(file: string): number | undefined {
  try {
    const r = LockInfo.safeParse(JSON.parse(readLock(file)));
    if (!r.success) return undefined;
    const info = r.data;
    if (Math.abs(info.boot - bootTime()) > 30 || !alive(info.pid) || info.pid === process.pid) return undefined;
    return info.pid;
  } catch {
    return undefined;
  }
}

/**
 * Move a stale lock out of the way so that exactly one of several starters can take over.
 * rename() is atomic: of two processes renaming the same file, one gets ENOENT. The winner
 * then checks that what it moved is the stale lock it judged (a third process may have taken
 * the lock in between); if not, it puts that lock back (link() never replaces a file).
 */
function takeOverStale(file: string, judged: string): void {
  const moved = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, moved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another starter moved it
    throw err;
  }
  let content = '';
  try {
    content = readLock(moved);
  } catch {
    // unreadable: it was stale either way
  }
  if (content !== judged) {
    try {
      linkSync(moved, file);
    } catch {
      // Someone holds the lock now; theirs stays, this stray copy goes.
    }
  }
  rmSync(moved, { force: true, recursive: true });
}

/**
 * Create `file` holding `content` atomically: written to a temp name first, then hard-linked
 * into place (link() fails with EEXIST instead of replacing). No other process can ever see
 * the lock file empty and mistake a lock being written for a stale one. false: it exists.
 */
function createWithContent(file: string, content: string): boolean {
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    // No hard links here: exclusive create, with the (tiny) window of an empty file.
    try {
      const fd2 = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd2, content);
      } finally {
        closeSync(fd2);
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

const NO_WRITE = new Set(['EACCES', 'EPERM', 'EROFS']);

/** createWithContent, with "may not write here" as the one coded error a user can act on. */
function tryCreate(file: string, content: string, dir: string): boolean {
  try {
    return createWithContent(file, content);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && NO_WRITE.has(code)) throw new NotesError('NOTES_E_STATE_UNWRITABLE', [dir, code], { cause: err });
    throw err;
  }
}

export function acquireLock(file: string, dir: string, command = 'notes-mcp'): Lock {
  const content = JSON.stringify({ pid: process.pid, boot: bootTime(), command });
  for (let attempt = 0; attempt < 5; attempt++) {
    if (!tryCreate(file, content, dir)) {
      let judged = '';
      try {
        judged = readLock(file);
      } catch (err) {
        // Gone: try again. Unreadable (a FIFO, a folder, a device left there): no owner can be
        // named in it, so it is stale like a lock of a dead pid.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      }
      const owner = readLockOwner(file);
      if (owner !== undefined) throw new NotesError('NOTES_E_STATE_LOCKED', [dir, owner]);
      takeOverStale(file, judged);
      continue;
    }
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      // Only our own lock: never remove one another process took over.
      try {
        if (readLock(file) === content) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    };
    process.on('exit', release);
    return { file, release };
  }
  throw new NotesError('NOTES_E_STATE_LOCKED', [dir, readLockOwner(file) ?? 'unknown']);
}
