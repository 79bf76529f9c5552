import { constants } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { NotesError } from '../errors.ts';

// The journal has two writers at times: the daemon, and `notes-mcp restore` run next to it.
// Appends and the pruning rewrite hold this lock (milliseconds each), so a prune never drops
// an entry appended while it ran. Within one process, a promise chain orders the holders.

/** A lock older than this is a crashed holder's (every hold is a few file operations). */
const STALE_MS = 30_000;
const WAIT_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function stale(file: string): Promise<boolean> {
  try {
    const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    const pid = Number(text.trim());
    if (Date.now() - st.mtimeMs > STALE_MS) return true;
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid);
  } catch {
    // Gone already, or half-written by a holder that just created it: not stale.
    return false;
  }
}

const chains = new Map<string, Promise<unknown>>();

/** Run fn holding the lock file (one process at a time, one holder at a time within it). */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(file) ?? Promise.resolve();
  const run = prev.then(
    () => holding(file, fn),
    () => holding(file, fn),
  );
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(file, tail);
  try {
    return await run;
  } finally {
    if (chains.get(file) === tail) chains.delete(file);
  }
}

async function holding<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await fh.writeFile(String(process.pid));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await stale(file)) {
        await unlink(file).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        const owner = await readFile(file, 'utf8').catch(() => 'unknown');
        throw new NotesError('NOTES_E_STATE_LOCKED', [file, owner.trim() || 'unknown']);
      }
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
