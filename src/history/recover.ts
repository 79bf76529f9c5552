import { lstat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncPathAsync } from '../fs-atomic.ts';
import type { Logger } from '../log.ts';
import type { History } from './history.ts';

/**
 * Finish moves a crash interrupted. move_note links the new name before it unlinks the old
 * one, so a kill in between leaves the note under both names (the same file, two links):
 * nothing is lost, but both would be indexed. At start, for the recent moves the journal
 * records, an old name that is still a second link to the new one is removed.
 */
export async function finishInterruptedMoves(history: History, root: string, log: Logger): Promise<number> {
  let finished = 0;
  for (const e of await history.recent(200)) {
    if (e.tool !== 'move_note' || e.to === undefined || e.to === e.path) continue;
    const from = join(root, ...e.path.split('/'));
    const to = join(root, ...e.to.split('/'));
    try {
      const [a, b] = await Promise.all([lstat(from), lstat(to)]);
      if (!a.isFile() || a.dev !== b.dev || a.ino !== b.ino || a.nlink < 2) continue;
      await unlink(from);
      await fsyncPathAsync(dirname(from));
      finished++;
      log.info({ from: e.path, to: e.to }, 'finished a move a crash interrupted');
    } catch {
      // One of the names is gone (the move finished, or was undone): nothing to do.
    }
  }
  return finished;
}
