import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../../src/daemon/daemon.ts';
import type { CorpusName } from './corpus.ts';
import { CHILD_TOKEN } from './daemon-child.ts';
import { corpusNotes } from '../mcp/corpus-cache.ts';

/** The searches bench:serving probes with; the in-process benches of the steady daemon too. */
export const SERVING_QUERIES = [
  'extract a tar archive',
  'list open ports',
  'git undo last commit',
  'compress a folder',
  'show disk usage',
] as const;

/** Where bench:serving keeps a corpus's state (its first run indexes it). */
export function servingState(corpus: CorpusName): string {
  return join(tmpdir(), 'notes-mcp-bench-serving', corpus, 'state');
}

/**
 * The daemon in this process on bench:serving's tldr-all state, ready and idle: for benches
 * that weigh node flags or memory without a harness around the daemon.
 */
export async function startSteadyDaemon(): Promise<Daemon> {
  const [{ startDaemon }, { loadConfig }, { silentLogger }] = await Promise.all([
    import('../../src/daemon/daemon.ts'),
    import('../../src/config/index.ts'),
    import('../../src/log.ts'),
  ]);
  const state = servingState('tldr-all');
  const config = loadConfig({
    env: { HOME: state },
    flags: { notes: corpusNotes('tldr-all'), state, model: 'bundled', logLevel: 'silent', port: 0, token: CHILD_TOKEN },
  });
  const d = await startDaemon({ config, log: silentLogger() });
  await d.ready;
  await d.index.idle();
  return d;
}
