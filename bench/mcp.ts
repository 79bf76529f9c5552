// MCP protocol benchmark: tools/list and search_notes latency over HTTP, both protocol
// revisions, sequential and 16 concurrent clients, against a minimal SDK v2 server started in
// the same run (the protocol floor); then graceful shutdown of `notes-mcp serve` under a
// write_note load. Prints one table plus the shutdown and memory lines.
//   npm run bench:mcp                       tldr-all at ~100k chunks (index cached in os.tmpdir())
//   npm run bench:mcp -- --quick            tldr-en, default chunk size, fewer requests
//   npm run bench:mcp -- --chunks-target 50000
//   npm run bench:mcp -- --only search_notes --era 2026-07-28 --profile /tmp/prof
//                                           one slice, with the daemon's CPU profile written
//
// The parts: mcp/plan.ts (flags, constants), mcp/servers.ts (the two servers, each in a child
// process), mcp/corpus-cache.ts (corpus and chunk size), mcp/measure.ts (clients and the
// alternating-block measurement), mcp/shutdown.ts, mcp/report.ts (the table); bench/lib/ holds
// what every bench shares (child processes, clients, corpus location, percentiles).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CHUNK_OPTIONS } from '../src/chunk/index.ts';
import { chooseMaxTokens, corpusNotes } from './mcp/corpus-cache.ts';
import { benchProtocols } from './mcp/measure.ts';
import { BLOCKS, CACHE_ROOT, CLIENTS, PACED_SHARE, parsePlan } from './mcp/plan.ts';
import { cpuSplit, int, SEARCH_CPU_RATIO, table } from './mcp/report.ts';
import { startServer } from './mcp/servers.ts';
import { benchShutdown } from './mcp/shutdown.ts';

async function main(): Promise<void> {
  const plan = parsePlan(process.argv.slice(2));
  if (plan.profileDir) mkdirSync(plan.profileDir, { recursive: true });

  const cpu = cpus();
  console.log(`# notes-mcp MCP benchmark, ${new Date().toISOString()}`);
  console.log(
    `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, ` +
      `${platform()} ${arch()}, node ${process.version}, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );

  const notesDir = corpusNotes(plan.corpus);
  let maxTokens = DEFAULT_CHUNK_OPTIONS.maxTokens;
  if (plan.chunksTarget !== undefined) {
    process.stderr.write(`choosing a chunk size for ~${plan.chunksTarget} chunks...\n`);
    maxTokens = chooseMaxTokens(plan.corpus, notesDir, plan.chunksTarget).maxTokens;
  }
  const state = join(CACHE_ROOT, plan.corpus, `state-t${maxTokens}`);
  const marker = join(state, 'bench-complete');
  const cached = existsSync(marker);
  process.stderr.write(cached ? 'starting notes-mcp on the cached index...\n' : 'indexing (first run)...\n');
  const notes = await startServer('notes', { notes: notesDir, state, maxTokens });
  const base = await startServer('baseline');
  const r = notes.ready;
  const reused = cached && r.indexed === 0;
  console.log(
    `corpus: ${plan.corpus}, ${int(r.notes)} notes, ${int(r.chunks)} chunks (maxTokens ${maxTokens}); index ${
      reused
        ? `reused from cache (${state})`
        : `built this run: ${int(r.indexed)} notes indexed in ${r.seconds.toFixed(0)} s (cached in ${state})`
    }`,
  );
  console.log(
    `requests: ${plan.sequential} sequential on 1 client; ${CLIENTS} clients x ${plan.perClient} concurrent ` +
      `(each sends its next request as soon as the last is answered); "16 paced": ${CLIENTS} clients x ` +
      `${plan.pacedPerClient} started at random (Poisson) times, at ${PACED_SHARE}x the req/s notes-mcp managed ` +
      '16 concurrent (its capacity) in this run, answered or not, the baseline offered the same rate; ' +
      `after ${plan.warmup} warm-up calls per client (and ${plan.sequentialWarmup} more on the first before the sequential blocks), ` +
      `notes-mcp and baseline in ${BLOCKS} alternating blocks; ` +
      'loopback HTTP, times in ms, clients in one process',
  );
  console.log(
    'notes-mcp: the daemon (express, bearer auth, rate limit, metrics) in a child process, measured once its ' +
      'background warm-up (word vectors for late interaction) is done; 2025 clients on ' +
      'its sessionful lane. baseline: SDK v2 McpServer with one tool "echo" on bare node:http, no auth, ' +
      'createMcpHandler + toNodeHandler for 2026-07-28 and a sessionful NodeStreamableHTTPServerTransport for 2025.',
  );
  console.log('');

  if (plan.profileDir) notes.profileStart();
  const rows = await benchProtocols(notes, base, plan);
  const profile = plan.profileDir ? await notes.profileStop(plan.profileDir) : undefined;
  const notesRss = await notes.stats();
  const baseRss = await base.stats();
  const [notesExit] = await Promise.all([notes.stop(), base.stop()]);
  if (notesExit === 0 && !cached) writeFileSync(marker, `${new Date().toISOString()}\n`);

  console.log(table(rows));
  console.log('');
  for (const line of cpuSplit(rows)) console.log(line);
  const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
  console.log(
    `daemon memory: peak RSS ${mb(notesRss.peakKb)}${reused ? '' : ' (this run includes indexing)'}, ` +
      `RSS after the load ${mb(notesRss.nowKb)}; baseline peak RSS ${mb(baseRss.peakKb)}`,
  );

  if (profile) console.log(`daemon CPU profile (main thread, measured requests only): ${profile}`);
  if (!plan.shutdown) return;
  process.stderr.write('graceful shutdown under write_note load...\n');
  const s = await benchShutdown(notesDir, plan);
  const shutdownMet = s.exitCode === 0 && s.exitMs < 5000 && s.failedAcknowledged === 0;
  console.log(
    `shutdown under load (${CLIENTS} clients, half 2025-11-25 half 2026-07-28, write_note in a loop, SIGTERM after ` +
      `${plan.shutdownLoadMs / 1000} s): exit code ${s.exitCode}${s.signal ? ` (${s.signal})` : ''}, ` +
      `exited ${int(s.exitMs)} ms after SIGTERM, ${int(s.acknowledged)} acknowledged writes ` +
      `(${s.ackedAfterSigterm} acknowledged after SIGTERM), ${s.failedAcknowledged} missing or wrong on disk, ` +
      `${int(s.refused)} calls refused or failed; target exit 0 < 5 s, 0 lost: ${shutdownMet ? 'met' : 'MISSED'}`,
  );

  const listMet = rows.filter((x) => x.op === 'tools/list').every((x) => x.notes.p50 / x.base.p50 <= 1.5);
  // The closed-loop "p99 <= 30 ms at 16 clients" target is retired: on 2 cores a closed loop's
  // latency is clients / throughput, bounded by client and server CPU together. What the daemon
  // controls is its CPU per call; latency is shown open-loop at half the measured capacity.
  const searchRows = rows.filter((x) => x.op === 'search_notes' && x.mode === 'sequential');
  const searchMet = searchRows.every((x) => x.notes.serverCpuMs / x.base.serverCpuMs <= SEARCH_CPU_RATIO);
  const paced = rows.filter((x) => x.op === 'search_notes' && x.mode === '16 paced');
  const atScale = r.chunks >= 95_000;
  console.log(
    `targets: tools/list p50 <= 1.5x baseline: ${listMet ? 'met' : 'MISSED'}; search_notes server CPU per call <= ` +
      `${SEARCH_CPU_RATIO}x a trivial SDK tool call (sequential): ${searchMet ? 'met' : 'MISSED'} (${searchRows
        .map((x) => `${x.era} ${x.notes.serverCpuMs.toFixed(2)} vs ${x.base.serverCpuMs.toFixed(2)} ms`)
        .join(', ')})${atScale ? '' : ` (at ${int(r.chunks)} chunks, not 100k)`}; ` +
      `open-loop search_notes p99 at half capacity: ${paced.map((x) => `${x.era} ${x.notes.p99.toFixed(0)} ms at ${int(x.rate ?? Number.NaN)} req/s`).join(', ')}; ` +
      `graceful shutdown: ${shutdownMet ? 'met' : 'MISSED'}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:mcp failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
