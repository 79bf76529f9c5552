// CPU per search and RSS of the steady daemon in one process, to weigh V8 flags such as
// --max-semi-space-size against each other: run it alternately with and without the flag, on
// the bench:serving tldr-all state (run `npm run bench:serving` once first).
//   node dist/bench/semi-space.js
//   node --max-semi-space-size=16 dist/bench/semi-space.js
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHILD_TOKEN } from './lib/daemon-child.ts';
import { corpusNotes } from './mcp/corpus-cache.ts';

const QUERIES = [
  'extract a tar archive',
  'list open ports',
  'git undo last commit',
  'compress a folder',
  'show disk usage',
  'find files larger than 100 MB',
  'download a file from a URL',
  'replace a word in a file',
];
const WARM = 300;
const N = 1500;

async function main(): Promise<void> {
  const [{ startDaemon }, { loadConfig }, { silentLogger }, { search }] = await Promise.all([
    import('../src/daemon/daemon.ts'),
    import('../src/config/index.ts'),
    import('../src/log.ts'),
    import('../src/search/index.ts'),
  ]);
  const state = join(tmpdir(), 'notes-mcp-bench-serving', 'tldr-all', 'state');
  const config = loadConfig({
    env: { HOME: state },
    flags: { notes: corpusNotes('tldr-all'), state, model: 'bundled', logLevel: 'silent', port: 0, token: CHILD_TOKEN },
  });
  const d = await startDaemon({ config, log: silentLogger() });
  await d.ready;
  await d.index.idle();
  for (let i = 0; i < WARM; i++) await search(d.index, QUERIES[i % QUERIES.length]!, { k: 8 });
  await new Promise((r) => setTimeout(r, 3000));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await search(d.index, QUERIES[i % QUERIES.length]!, { k: 8 });
  const c = process.cpuUsage(c0);
  // Process CPU: the collector's helper threads count, which is what a flag like this moves.
  console.log(
    `${process.execArgv.join(' ') || '(no flags)'}: CPU per search ${((c.user + c.system) / 1000 / N).toFixed(3)} ms, ` +
      `wall ${((performance.now() - t0) / N).toFixed(3)} ms, RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
  );
  await d.shutdown('bench done');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`semi-space failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
