// read_note of a long note: what one call costs the daemon, and whether /health keeps
// answering while greedy clients read it without pause. The long note is 8 MB of 170k lines,
// each holding a link (the shape of an exported log or a generated index); the baseline, in the
// same run on the same daemon, is read_note of a one-line note.
//   npm run bench:read-note                  both protocol revisions, 200 sequential calls each
//   npm run bench:read-note -- --calls 50    fewer
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, ERAS } from './lib/clients.ts';
import { BENCH_TOKEN, spawnDaemon } from './lib/daemon.ts';
import { percentile } from './lib/percentile.ts';
import { cpuMs } from './lib/proc.ts';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '200' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(
    'usage: npm run bench:read-note -- [--calls N]\n  server CPU per read_note call, and /health under 32 greedy readers',
  );
  process.exit(0);
}
const CALLS = Number(values.calls);
const READERS = 32;
const GREEDY_MS = 10_000;

const root = mkdtempSync(join(tmpdir(), 'bench-read-note-'));
const notes = join(root, 'notes');
const state = join(root, 'state');
mkdirSync(notes);
mkdirSync(state);
writeFileSync(join(notes, 'short.md'), '# Short\n\nOne line.\n');
writeFileSync(join(notes, 'long.md'), `# Long\n${'lorem ipsum [[link]] dolor sit amet consectetur\n'.repeat(170_000)}`);
const d = await spawnDaemon({ notes, state });
try {
  console.log(`load ${loadavg()[0]?.toFixed(2)}; ${CALLS} sequential calls per row; server CPU from /proc\n`);
  console.log('| protocol | read_note of | server CPU per call | ratio to the one-line note |');
  console.log('|---|---|---:|---:|');
  for (const era of ERAS) {
    const c = await connect(era, d.url, BENCH_TOKEN, 'bench-read-note');
    const perCall = async (args: Record<string, unknown>): Promise<number> => {
      for (let i = 0; i < 5; i++) await c.call('read_note', args);
      const t0 = cpuMs(d.pid);
      for (let i = 0; i < CALLS; i++) if (!(await c.call('read_note', args))) throw new Error('read_note failed');
      return (cpuMs(d.pid) - t0) / CALLS;
    };
    const base = await perCall({ path: 'short.md' });
    const rows: Array<[string, number]> = [
      ['a one-line note', base],
      ['the 8 MB note, first page', await perCall({ path: 'long.md' })],
      ['the 8 MB note, page at line 150,000', await perCall({ path: 'long.md', start_line: 150_000 })],
    ];
    for (const [what, ms] of rows)
      console.log(`| ${era} | ${what} | ${ms.toFixed(2)} ms | ${(ms / base).toFixed(1)}x |`);
    await c.close();
  }

  // 32 clients reading the long note back to back; /health probed every 50 ms, open loop.
  const health: number[] = [];
  let calls = 0;
  const until = Date.now() + GREEDY_MS;
  const probe = (async () => {
    while (Date.now() < until) {
      const t0 = performance.now();
      await fetch(`http://127.0.0.1:${d.port}/health`).then((r) => r.text());
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const readers = await Promise.all(
    Array.from({ length: READERS }, () => connect('2026-07-28', d.url, BENCH_TOKEN, 'bench-greedy')),
  );
  const cpu0 = cpuMs(d.pid);
  await Promise.all(
    readers.map(async (c) => {
      while (Date.now() < until) if (await c.call('read_note', { path: 'long.md' })) calls++;
    }),
  );
  const cpu = cpuMs(d.pid) - cpu0;
  await probe;
  for (const c of readers) await c.close();
  console.log(`\n${READERS} clients reading the 8 MB note without pause for ${GREEDY_MS / 1000} s:`);
  console.log('| read_note calls/s | server CPU per call | /health p50 | p99 | max | target |');
  console.log('|---:|---:|---:|---:|---:|---|');
  console.log(
    `| ${(calls / (GREEDY_MS / 1000)).toFixed(0)} | ${(cpu / Math.max(calls, 1)).toFixed(1)} ms | ` +
      `${percentile(health, 50).toFixed(0)} ms | ${percentile(health, 99).toFixed(0)} ms | ` +
      `${Math.max(...health).toFixed(0)} ms | /health within 1 s |`,
  );
} finally {
  await d.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
}
