import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { uptime } from 'node:os';
import { z } from 'zod';
import { NotesError } from '../errors.ts';

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
    const r = LockInfo.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!r.success) return undefined;
    const info = r.data;
    if (Math.abs(info.boot - bootTime()) > 30 || !alive(info.pid) || info.pid === process.pid) return undefined;
    return info.pid;
  } catch {
    return undefined;
  }
}

export function acquireLock(file: string, dir: string, command = 'notes-mcp'): Lock {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readLockOwner(file);
      if (owner !== undefined) throw new NotesError('NOTES_E_STATE_LOCKED', [dir, owner]);
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, boot: bootTime(), command }));
    } finally {
      closeSync(fd);
    }
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      rmSync(file, { force: true });
    };
    process.on('exit', release);
    return { file, release };
  }
  throw new NotesError('NOTES_E_STATE_LOCKED', [dir, 'unknown']);
}
