// Many notes appearing in one folder at once (a checkout, an unzip, a sync tool's first pass):
// does /health keep answering while the watcher and the indexer take them in? The baseline,
// in the same run on the same daemon, is /health polled the same way with nothing happening.
//   npm run bench:bulk-create                    30,000 notes
//   npm run bench:bulk-create -- --notes 50000
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnDaemon } from './lib/daemon.ts';
import { percentile } from './lib/percentile.ts';

const { values } = parseArgs({
  options: { notes: { type: 'string', default: '30000' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('usage: npm run bench:bulk-create -- [--notes N]\n  /health latency while N notes appear in one folder');
  process.exit(0);
}
const N = Number(values.notes);
const POLL_MS = 100;

const root = mkdtempSync(join(tmpdir(), 'bench-bulk-create-'));
const notes = join(root, 'notes');
const state = join(root, 'state');
mkdirSync(join(notes, 'bulk'), { recursive: true });
mkdirSync(state);
const d = await spawnDaemon({ notes, state });

/** Poll /health every POLL_MS until `until` resolves; the latencies in ms. */
async function poll(until: Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  while (!done) {
    const t = performance.now();
    await d.health();
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return out;
}

function row(name: string, ms: number[]): string {
  const f = (p: number) => percentile(ms, p).toFixed(0);
  return `| ${name} | ${ms.length} | ${f(50)} | ${f(99)} | ${Math.max(...ms).toFixed(0)} |`;
}

try {
  const idle = await poll(new Promise((r) => setTimeout(r, 5_000)));
  const t0 = performance.now();
  const work = (async () => {
    // Written 64 at a time, so this process keeps polling while it writes.
    for (let i = 0; i < N; i += 64) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 64); j++)
        batch.push(writeFile(join(notes, 'bulk', `n${j}.md`), `# Note ${j}\n\nzqword${j} about item ${j}\n`));
      await Promise.all(batch);
    }
    for (let i = 0; i < 6000; i++) {
      const h = await d.health();
      if (h.notes >= N && !h.index.syncing) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the notes were not indexed in 10 minutes');
  })();
  const busy = await poll(work);
  await work;
  console.log(
    `load ${loadavg()[0]?.toFixed(2)}; ${N} notes created and indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  console.log('| /health, polled every 100 ms | samples | p50 ms | p99 ms | max ms |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(row('idle (baseline)', idle));
  console.log(row(`while ${N} notes appear in one folder`, busy));
} finally {
  await d.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
}
