import type { Config } from '../config/index.ts';
import { NotesError } from '../errors.ts';
import type { NotesIndex } from '../index/index.ts';
import type { Logger } from '../log.ts';
import { type NotesWatcher, watchNotes } from '../notes/index.ts';

/** Feed the watcher's batches into the index (HTTP and stdio daemons alike); none with --no-watch. */
export async function watchIntoIndex(
  config: Config,
  index: NotesIndex,
  log: Logger,
): Promise<NotesWatcher | undefined> {
  if (!config.watch) return undefined;
  return watchNotes(config.notesDir, {
    include: config.include,
    exclude: config.exclude,
    skipDirs: [config.stateDir],
    log,
    onBatch: async (batch) => {
      try {
        const s = await index.apply(batch);
        log.debug({ indexed: s.indexed, removed: s.removed, seconds: s.seconds }, 'applied changes');
      } catch (err) {
        // Stopping: the next start's sync indexes what this batch named.
        if (err instanceof NotesError && err.code === 'NOTES_E_SHUTTING_DOWN') return;
        log.error({ err }, 'applying note changes failed');
      }
    },
  });
}
