// The steady daemon's memory in one process, without a bench harness around it: startDaemon on
// the bench:serving tldr-all state (run `npm run bench:serving` once first), 140 searches at
// ~14/s like the idle probes, 10 s idle, then memoryUsage and the V8 spaces, before and after a
// forced gc. Used to weigh the steps in bench/README.md's Memory section one at a time.
//   node --expose-gc dist/bench/serving-steady.js
//   node --expose-gc --max-semi-space-size=8 dist/bench/serving-steady.js
import v8 from 'node:v8';
import { SERVING_QUERIES as QUERIES, startSteadyDaemon } from './lib/steady-daemon.ts';

async function main(): Promise<void> {
  const { search } = await import('../src/search/index.ts');
  const d = await startSteadyDaemon();
  for (let i = 0; i < 140; i++) {
    await search(d.index, QUERIES[i % QUERIES.length]!, { k: 8 });
    await new Promise((r) => setTimeout(r, 70));
  }
  await new Promise((r) => setTimeout(r, 10_000));
  const mb = (v: number) => `${(v / 2 ** 20).toFixed(0)} MB`;
  const show = (label: string) => {
    const m = process.memoryUsage();
    const spaces = v8
      .getHeapSpaceStatistics()
      .filter((s) => s.space_size > 4 * 2 ** 20)
      .map((s) => `${s.space_name} ${mb(s.space_used_size)} of ${mb(s.space_size)}`);
    console.log(
      `${label}: RSS ${mb(m.rss)}, heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)}, array buffers ${mb(m.arrayBuffers)}; ${spaces.join(', ')}`,
    );
  };
  console.log(`node ${process.version} ${process.execArgv.join(' ')}`);
  show('idle 10 s after 140 searches');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
    await new Promise((r) => setTimeout(r, 1000));
    show('after gc');
  }
  await d.shutdown('bench done');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`serving-steady failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
