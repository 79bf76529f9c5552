import { randomBytes } from 'node:crypto';
import { link, stat, unlink, writeFile } from 'node:fs/promises';
import { readStateFile } from '../fs-atomic.ts';
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
    const [text, st] = await Promise.all([readStateFile(file, 64 * 1024).then((b) => b.toString('utf8')), stat(file)]);
    const pid = Number(text.trim());
    if (Date.now() - st.mtimeMs > STALE_MS) return true;
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid);
  } catch (err) {
    // Gone already: not stale, just free. Anything else there (a FIFO, a folder) is no lock.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
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

/**
 * Take the lock: the pid goes into a temp file first, which is then hard-linked to the lock's
 * name (atomic, and refused when the name exists), so a lock file never exists without the
 * pid that judges it stale: a holder killed at any moment leaves either nothing or its pid.
 */
async function take(file: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, String(process.pid), { mode: 0o600 });
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function holding<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await take(file))) {
    if (await stale(file)) {
      await unlink(file).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      const owner = await readStateFile(file, 64 * 1024).then(
        (b) => b.toString('utf8'),
        () => '',
      );
      throw new NotesError('NOTES_E_HISTORY_BUSY', [owner.trim() || 'unknown']);
    }
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
