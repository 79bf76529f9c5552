// CPU per search and RSS of the steady daemon in one process, to weigh V8 flags such as
// --max-semi-space-size against each other: run it alternately with and without the flag, on
// the bench:serving tldr-all state (run `npm run bench:serving` once first).
//   node dist/bench/semi-space.js
//   node --max-semi-space-size=16 dist/bench/semi-space.js
import { SERVING_QUERIES, startSteadyDaemon } from './lib/steady-daemon.ts';

const QUERIES = [
  ...SERVING_QUERIES,
  'find files larger than 100 MB',
  'download a file from a URL',
  'replace a word in a file',
];
const WARM = 300;
const N = 1500;

async function main(): Promise<void> {
  const { search } = await import('../src/search/index.ts');
  const d = await startSteadyDaemon();
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
