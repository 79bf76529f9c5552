// The protocol measurement: for each era, 16 clients on each server, then every operation in
// every load mode, notes-mcp and the baseline in alternating blocks.
import { TOOLS } from '../../src/mcp/index.ts';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Child } from '../lib/children.ts';
import { type BenchClient, connect, type Era } from '../lib/clients.ts';
import { QUESTIONS_FILE } from '../lib/paths.ts';
import { percentile } from '../lib/percentile.ts';
import { BLOCKS, CLIENTS, MODES, type Mode, type Op, PACED_SHARE, type Plan, TOKEN } from './plan.ts';

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  rps: number;
  errors: number;
  /** CPU time per request, server process and this (client) process. */
  serverCpuMs: number;
  clientCpuMs: number;
}

export interface Row {
  op: Op;
  era: Era;
  mode: Mode;
  notes: Stats;
  base: Stats;
  /** Requests a second offered in the paced mode (half of notes-mcp's measured capacity). */
  rate?: number;
}

type Call = (client: BenchClient) => Promise<boolean>;

/** One server's side of a measurement: latencies and CPU, accumulated over its blocks. */
class Side {
  readonly times: number[] = [];
  errors = 0;
  wallMs = 0;
  serverCpuUs = 0;
  clientCpuUs = 0;

  readonly clients: BenchClient[];
  readonly server: Child;
  readonly request: Call;

  constructor(clients: BenchClient[], server: Child, request: Call) {
    this.clients = clients;
    this.server = server;
    this.request = request;
  }

  async one(c: BenchClient): Promise<void> {
    const t0 = performance.now();
    let ok = false;
    try {
      ok = await this.request(c);
    } catch {
      ok = false;
    }
    if (ok) this.times.push(performance.now() - t0);
    else this.errors++;
  }

  /** A block of requests: `count` on the first client, or `count` on each client at once. */
  async block(mode: Mode, count: number, rate: number): Promise<void> {
    const first = this.clients[0];
    if (!first) throw new Error('no clients');
    const serverCpu0 = (await this.server.usage()).cpuUs;
    const clientCpu0 = process.cpuUsage();
    const start = performance.now();
    if (mode === 'sequential') {
      for (let i = 0; i < count; i++) await this.one(first);
    } else if (mode === '16 paced') {
      // Open loop, like agents arriving on their own schedule: requests start at random
      // (Poisson) times, `rate` a second on average, spread over the clients in turn,
      // whether or not earlier ones have been answered.
      const inflight: Array<Promise<void>> = [];
      let next = performance.now();
      for (let i = 0; i < count * this.clients.length; i++) {
        next += -Math.log(1 - Math.random()) * (1000 / rate);
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        inflight.push(this.one(this.clients[i % this.clients.length] ?? first));
      }
      await Promise.all(inflight);
    } else {
      await Promise.all(
        this.clients.map(async (c) => {
          for (let i = 0; i < count; i++) await this.one(c);
        }),
      );
    }
    this.wallMs += performance.now() - start;
    const clientCpu = process.cpuUsage(clientCpu0);
    this.clientCpuUs += clientCpu.user + clientCpu.system;
    this.serverCpuUs += (await this.server.usage()).cpuUs - serverCpu0;
  }

  stats(): Stats {
    const n = this.times.length + this.errors;
    return {
      n,
      p50: percentile(this.times, 50),
      p95: percentile(this.times, 95),
      p99: percentile(this.times, 99),
      rps: (n / this.wallMs) * 1000,
      errors: this.errors,
      serverCpuMs: this.serverCpuUs / 1000 / n,
      clientCpuMs: this.clientCpuUs / 1000 / n,
    };
  }
}

/**
 * notes-mcp and the baseline measured in alternating blocks (10 each), so a slow patch of a
 * shared machine lands on both sides instead of skewing the ratio.
 */
async function measurePair(
  notes: Side,
  base: Side,
  mode: Mode,
  plan: Plan,
  rate: number,
): Promise<{ notes: Stats; base: Stats }> {
  const total = mode === 'sequential' ? plan.sequential : mode === '16 paced' ? plan.pacedPerClient : plan.perClient;
  for (let b = 0; b < BLOCKS; b++) {
    const count = Math.floor((total * (b + 1)) / BLOCKS) - Math.floor((total * b) / BLOCKS);
    await notes.block(mode, count, rate);
    await base.block(mode, count, rate);
  }
  return { notes: notes.stats(), base: base.stats() };
}

const Questions = z.array(z.object({ q: z.string().min(1) })).min(1);

/**
 * The eval questions in four spellings (as asked, with '?', capitalised, both): more distinct
 * strings than search's 256-entry query-vector cache, and cycled in order, so every search
 * embeds its query as an agent's fresh question would.
 */
function loadQueries(): string[] {
  const qs = Questions.parse(JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8'))).map((x) => x.q);
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return [...qs, ...qs.map((q) => `${q}?`), ...qs.map(cap), ...qs.map((q) => `${cap(q)}?`)];
}

export async function benchProtocols(notesServer: Child, baseServer: Child, plan: Plan): Promise<Row[]> {
  const queries = loadQueries();
  let q = 0;
  const nextQuery = () => queries[q++ % queries.length] ?? 'tar';
  const rows: Row[] = [];
  for (const era of plan.eras) {
    const pools = {
      notes: await Promise.all(
        Array.from({ length: CLIENTS }, (_, i) => connect(era, notesServer.ready.url, TOKEN, `bench-notes-${i}`)),
      ),
      base: await Promise.all(
        Array.from({ length: CLIENTS }, (_, i) => connect(era, baseServer.ready.url, undefined, `bench-base-${i}`)),
      ),
    };
    const requests: Record<'notes' | 'base', Record<Op, Call>> = {
      notes: {
        'tools/list': async (c) => (await c.listTools()) === TOOLS.length,
        list_notes: (c) => c.call('list_notes', { limit: 1 }),
        search_notes: (c) => c.call('search_notes', { query: nextQuery(), k: 8 }),
      },
      base: {
        'tools/list': async (c) => (await c.listTools()) === 1,
        list_notes: (c) => c.call('echo', { text: 'list' }),
        search_notes: (c) => c.call('echo', { text: nextQuery() }),
      },
    };
    for (const op of plan.ops) {
      // Warm every client (JIT, keep-alive sockets, the client's tools/list for output checks).
      for (const server of ['notes', 'base'] as const) {
        for (const c of pools[server]) {
          for (let i = 0; i < plan.warmup; i++) await requests[server][op](c).catch(() => false);
        }
      }
      // Paced load only for search: it shows the latency agents see below saturation. The
      // trivial tool is there for its CPU per call: sequential only.
      const modes =
        op === 'search_notes'
          ? MODES
          : op === 'list_notes'
            ? (['sequential'] as const)
            : MODES.filter((m) => m !== '16 paced');
      let capacity = Number.NaN;
      for (const mode of modes) {
        if (mode === 'sequential') {
          for (const server of ['notes', 'base'] as const) {
            const first = pools[server][0];
            if (!first) continue;
            for (let i = 0; i < plan.sequentialWarmup; i++) await requests[server][op](first).catch(() => false);
          }
        }
        const rate = capacity * PACED_SHARE;
        const { notes, base } = await measurePair(
          new Side(pools.notes, notesServer, requests.notes[op]),
          new Side(pools.base, baseServer, requests.base[op]),
          mode,
          plan,
          rate,
        );
        // MODES runs '16 concurrent' (saturation) before '16 paced'.
        if (mode === '16 concurrent') capacity = notes.rps;
        rows.push({ op, era, mode, notes, base, ...(mode === '16 paced' ? { rate } : {}) });
        process.stderr.write(`  measured ${op} ${era} ${mode}\n`);
      }
    }
    await Promise.all([...pools.notes, ...pools.base].map((c) => c.close()));
  }
  return rows;
}
