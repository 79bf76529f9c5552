import { lstat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NotesError } from '../errors.ts';
import { fsyncPathAsync } from '../fs-atomic.ts';
import type { Logger } from '../log.ts';
import { readNote, writeNote } from '../notes/index.ts';
import { ChangeRecorder, type History } from './history.ts';
import { applyTextEdits, editsFit, type MovePlan } from './move-plan.ts';

/**
 * Finish moves a crash interrupted. move_note links the new name before it unlinks the old
 * one, so a kill in between leaves the note under both names (the same file, two links):
 * nothing is lost, but both would be indexed. At start, for the recent moves the journal
 * records, an old name that is still a second link to the new one is removed. Then the link
 * rewrites of a move cut short are run (see move-plan.ts). Returns the moves finished.
 */
export async function finishInterruptedMoves(history: History, root: string, log: Logger): Promise<number> {
  await dropUnwrittenChanges(history, root, log);
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
  const plans = await history.movePlans.pending(log);
  if (plans.length === 0) return finished;
  const moves = new Map((await history.entries()).map((e) => [e.id, e]));
  for (const plan of plans) {
    const move = moves.get(plan.id);
    // Aborted (not in the journal) or never renamed: the links still name a note that is there.
    if (
      move?.to === plan.to &&
      (await exists(join(root, ...plan.to.split('/')))) &&
      !(await exists(join(root, ...plan.from.split('/'))))
    ) {
      await rewriteLinks(history, root, plan, log);
      finished++;
    }
    await history.movePlans.drop(plan.id);
  }
  return finished;
}

async function exists(abs: string): Promise<boolean> {
  return lstat(abs).then(
    () => true,
    () => false,
  );
}

/**
 * The rewrites a move planned, on each note still exactly as planned (its hash): one already
 * rewritten, or edited since, is left as it is. Recorded under the move, as the move's own
 * rewrites are, so that restore_note undoes them with it.
 */
async function rewriteLinks(history: History, root: string, plan: MovePlan, log: Logger): Promise<void> {
  let rewritten = 0;
  let left = 0;
  for (const rw of plan.rewrites) {
    const path = rw.path === plan.from ? plan.to : rw.path;
    const rec = new ChangeRecorder(history, 'move_note', plan.who);
    try {
      await rec.run(() =>
        writeNote(root, path, '', {
          mode: 'overwrite',
          expectedHash: rw.hash,
          edit: ({ text }) => {
            if (!editsFit(text, rw.edits)) throw new NotesError('NOTES_E_NOTE_CONFLICT', [path, rw.hash, 'other']);
            return applyTextEdits(text, rw.edits);
          },
          beforeWrite: async (c) => {
            await rec.before({ ...c, call: plan.id });
          },
        }),
      );
      rewritten++;
    } catch (err) {
      left++;
      if (!(err instanceof NotesError)) log.warn({ err, path }, 'a link rewrite left by a crash failed');
    }
  }
  log.info(
    { from: plan.from, to: plan.to, rewritten, left },
    'finished the link rewrites of a move a crash interrupted (notes changed since were left as they are)',
  );
}

/**
 * A change is recorded right before the note is replaced: a daemon killed in between leaves an
 * entry for a write that never happened, and the note reads as "changed outside notes-mcp"
 * (restore_note then undid that phantom, not the last real change). At start, the newest
 * entry of a recently changed note whose text is still exactly its `before` is taken back.
 */
async function dropUnwrittenChanges(history: History, root: string, log: Logger): Promise<void> {
  const seen = new Set<string>();
  for (const e of await history.recent(200)) {
    if (seen.has(e.path)) continue;
    seen.add(e.path);
    if (e.to !== undefined || e.after === null || e.before === null || e.before === e.after) continue;
    try {
      if ((await readNote(root, e.path)).hash !== e.before) continue;
    } catch {
      continue;
    }
    await history.abort(e.id);
    log.info(
      { path: e.path, tool: e.tool },
      'took back the history entry of a change a crash stopped before it was written',
    );
  }
}
