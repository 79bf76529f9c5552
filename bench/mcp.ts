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
// Both servers run in child processes (this file with --child), clients in this process:
// the daemon's peak RSS is then its own, and on a small machine clients and server do not
// share one event loop.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import { chunkNote, DEFAULT_CHUNK_OPTIONS } from '../src/chunk/index.ts';
import { BIN, REPO_ROOT, unpackCorpus } from '../tests/helpers/tmp.ts';

const TOKEN = 'bench-token-0123456789abcdef';
const CLIENTS = 16;
const CACHE_ROOT = join(tmpdir(), 'notes-mcp-bench-mcp');
const QUESTIONS = join(REPO_ROOT, 'bench', 'eval', 'tldr-en-questions.json');
const SELF = fileURLToPath(import.meta.url);

type Corpus = 'tldr-en' | 'tldr-all';
type Era = '2025-11-25' | '2026-07-28';
type Op = 'tools/list' | 'search_notes';
type Mode = 'sequential' | '16 concurrent' | '16 paced';
/** Aggregate request rate of the paced (open-loop) mode, over the 16 clients. */
const PACED_RATE = 100;
const MODES: readonly Mode[] = ['sequential', '16 concurrent', '16 paced'];

interface Plan {
  corpus: Corpus;
  chunksTarget: number | undefined;
  sequential: number;
  perClient: number;
  /** Requests per client in the paced mode. */
  pacedPerClient: number;
  warmup: number;
  shutdownLoadMs: number;
  ops: readonly Op[];
  eras: readonly Era[];
  /** Write the daemon's V8 CPU profile (.cpuprofile) into this folder. */
  profileDir: string | undefined;
  shutdown: boolean;
}

// ---------------------------------------------------------------------------------------
// Child processes: the notes-mcp daemon and the baseline server, driven over IPC.

const ChildArgs = z.object({ notes: z.string(), state: z.string(), maxTokens: z.number().int().positive() });
const ReadyMsg = z.object({
  type: z.literal('ready'),
  url: z.string(),
  notes: z.number(),
  chunks: z.number(),
  indexed: z.number(),
  seconds: z.number(),
});
const StatsMsg = z.object({ type: z.literal('stats'), peakKb: z.number(), nowKb: z.number(), cpuUs: z.number() });
const ParentMsg = z.object({
  type: z.enum(['stats', 'stop', 'profile-start', 'profile-stop']),
  dir: z.string().optional(),
});
const ProfiledMsg = z.object({ type: z.literal('profiled'), file: z.string() });

function send(msg: z.input<typeof ReadyMsg> | z.input<typeof StatsMsg> | z.input<typeof ProfiledMsg>): void {
  process.send?.(msg);
}

/** Answer the parent's stats/stop/profile requests until told to stop. */
function serveParent(stop: () => Promise<void>): void {
  let profiler: Session | undefined;
  process.on('message', async (raw: unknown) => {
    const m = ParentMsg.safeParse(raw);
    if (!m.success) return;
    if (m.data.type === 'stats') {
      const cpu = process.cpuUsage();
      send({
        type: 'stats',
        peakKb: process.resourceUsage().maxRSS,
        nowKb: Math.round(process.memoryUsage().rss / 1024),
        cpuUs: cpu.user + cpu.system,
      });
    } else if (m.data.type === 'profile-start') {
      // Main thread only, and only while requests are measured (not the index load).
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
    } else if (m.data.type === 'profile-stop') {
      if (!profiler) return;
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      const file = join(m.data.dir ?? tmpdir(), `daemon-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      send({ type: 'profiled', file });
    } else {
      void stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  // The parent died: do not linger holding the index lock.
  process.on('disconnect', () => void stop().finally(() => process.exit(1)));
}

async function childNotes(args: z.infer<typeof ChildArgs>): Promise<void> {
  const [{ startDaemon }, { loadConfig }, { silentLogger }] = await Promise.all([
    import('../src/daemon/daemon.ts'),
    import('../src/config/index.ts'),
    import('../src/log.ts'),
  ]);
  const config = loadConfig({
    env: { HOME: args.state },
    flags: {
      notes: args.notes,
      state: args.state,
      model: 'bundled',
      logLevel: 'silent',
      port: 0,
      token: TOKEN,
      // The bench sends thousands of requests a minute from one token.
      rateLimitPerMinute: 100_000_000,
    },
  });
  const t0 = performance.now();
  const d = await startDaemon({ config, log: silentLogger(), chunkOptions: { maxTokens: args.maxTokens } });
  let indexed = 0;
  d.index.once('synced', (s) => {
    indexed = s.indexed;
  });
  const progress = setInterval(() => {
    const s = d.index.status();
    process.stderr.write(`  indexing: ${s.notes} notes, ${s.chunks} chunks so far\n`);
  }, 15_000);
  await d.ready;
  await d.index.idle();
  clearInterval(progress);
  const s = d.index.status();
  send({
    type: 'ready',
    url: d.url,
    notes: s.notes,
    chunks: s.chunks,
    indexed,
    seconds: (performance.now() - t0) / 1000,
  });
  serveParent(() => d.shutdown('bench done'));
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new Error('body too large');
    parts.push(b);
  }
  const text = Buffer.concat(parts).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

/**
 * The protocol floor: SDK v2, one trivial tool, the same two lanes as src/http/mcp-endpoint.ts
 * (createMcpHandler + toNodeHandler for 2026-07-28, a sessionful NodeStreamableHTTPServerTransport
 * for 2025 clients) on bare node:http, without auth, express, rate limit or metrics.
 */
async function childBaseline(): Promise<void> {
  const { McpServer, createMcpHandler, isLegacyRequest } = await import('@modelcontextprotocol/server');
  const { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } = await import('@modelcontextprotocol/node');
  const factory = () => {
    const s = new McpServer({ name: 'baseline', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.registerTool(
      'echo',
      { description: 'Return the text unchanged.', inputSchema: z.object({ text: z.string() }) },
      ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    return s;
  };
  const handler = createMcpHandler(factory, { legacy: 'reject' });
  const modern = toNodeHandler(handler);
  const sessions = new Map<string, InstanceType<typeof NodeStreamableHTTPServerTransport>>();
  const limit = 4 * 1024 * 1024;

  const server = createServer(async (req, res) => {
    try {
      const body = req.method === 'POST' ? await readJsonBody(req, limit) : undefined;
      const web = await toWebRequest(req, body, { maxRequestBodySize: limit });
      if (!(await isLegacyRequest(web, body, { maxRequestBodySize: limit }))) {
        await modern(req, res, body);
        return;
      }
      const sid = req.headers['mcp-session-id'];
      const id = Array.isArray(sid) ? sid[0] : sid;
      if (id === undefined) {
        const isInit = typeof body === 'object' && body !== null && 'method' in body && body.method === 'initialize';
        if (req.method !== 'POST' || !isInit) return jsonRpcError(res, 400, 'Mcp-Session-Id header is required');
        const transport = new NodeStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (newId) => {
            sessions.set(newId, transport);
          },
        });
        transport.onclose = () => {
          if (transport.sessionId) sessions.delete(transport.sessionId);
        };
        await factory().connect(transport);
        await transport.handleRequest(req, res, body);
        return;
      }
      const transport = sessions.get(id);
      if (!transport) return jsonRpcError(res, 404, 'Session not found');
      await transport.handleRequest(req, res, body);
    } catch (err) {
      jsonRpcError(res, 500, (err as Error).message);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  send({ type: 'ready', url: `http://127.0.0.1:${port}/mcp`, notes: 0, chunks: 0, indexed: 0, seconds: 0 });
  serveParent(async () => {
    server.closeAllConnections();
    server.close();
    await handler.close();
  });
}

interface Child {
  proc: ChildProcess;
  ready: z.infer<typeof ReadyMsg>;
  /** Peak and current RSS, and CPU time used so far (all threads). */
  stats(): Promise<z.infer<typeof StatsMsg>>;
  stop(): Promise<number | null>;
  /** Profile the child's main thread until `profileStop`, which returns the file written. */
  profileStart(): void;
  profileStop(dir: string): Promise<string>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

async function startChild(kind: 'notes' | 'baseline', args: unknown): Promise<Child> {
  const proc = fork(SELF, ['--child', kind, JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(proc);
  const messages: unknown[] = [];
  let wake: (() => void) | undefined;
  proc.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  proc.on('exit', () => wake?.());
  const next = async <T>(schema: z.ZodType<T>): Promise<T> => {
    for (;;) {
      const m = messages.shift();
      if (m !== undefined) return schema.parse(m);
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`${kind} server exited (${proc.exitCode ?? proc.signalCode}) before answering`);
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  };
  const ready = await next(ReadyMsg);
  return {
    proc,
    ready,
    stats: () => {
      proc.send({ type: 'stats' });
      return next(StatsMsg);
    },
    profileStart: () => proc.send({ type: 'profile-start' }),
    profileStop: async (dir) => {
      proc.send({ type: 'profile-stop', dir });
      return (await next(ProfiledMsg)).file;
    },
    stop: async () => {
      if (proc.exitCode === null) {
        proc.send({ type: 'stop' });
        await once(proc, 'exit');
      }
      children.delete(proc);
      return proc.exitCode;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Corpus, chunk size and the cached index.

function listNotes(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listNotes(p));
    else if (/\.(md|markdown)$/i.test(e.name)) out.push(p);
  }
  return out;
}

/** The corpus unpacked once under the cache root; read-only for the search bench. */
function corpusNotes(corpus: Corpus): string {
  const dir = join(CACHE_ROOT, corpus, 'notes');
  const marker = join(CACHE_ROOT, corpus, 'unpacked');
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    unpackCorpus(corpus, dir);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
  }
  return dir;
}

const ChoiceFile = z.object({ maxTokens: z.number().int().positive(), estimate: z.number() });

/**
 * The chunk size whose chunk count is closest to the target, found by binary search over
 * chunking alone (no embedding) on every 4th note: about a second per probe on tldr-all.
 */
function chooseMaxTokens(corpus: Corpus, notes: string, target: number): z.infer<typeof ChoiceFile> {
  const file = join(CACHE_ROOT, corpus, `chunk-size-for-${target}.json`);
  if (existsSync(file)) return ChoiceFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  const sample = listNotes(notes)
    .sort()
    .filter((_, i) => i % 4 === 0)
    .map((p) => ({ text: readFileSync(p, 'utf8'), name: basename(p) }));
  const estimate = (maxTokens: number): number => {
    let n = 0;
    for (const s of sample) n += chunkNote(s.text, s.name, { ...DEFAULT_CHUNK_OPTIONS, maxTokens }).chunks.length;
    return n * 4;
  };
  // Fewer tokens per chunk, more chunks: find the largest size still reaching the target.
  let lo = 8;
  let hi = 2000;
  const seen = new Map<number, number>();
  const at = (t: number): number => {
    const v = seen.get(t) ?? estimate(t);
    seen.set(t, v);
    return v;
  };
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) >= target) lo = mid;
    else hi = mid;
  }
  const best = Math.abs(at(lo) - target) <= Math.abs(at(hi) - target) ? lo : hi;
  const choice = { maxTokens: best, estimate: at(best) };
  writeFileSync(file, JSON.stringify(choice));
  return choice;
}

// ---------------------------------------------------------------------------------------
// Clients and measurement.

interface BenchClient {
  listTools(): Promise<number>;
  call(name: string, args: Record<string, unknown>): Promise<boolean>;
  close(): Promise<void>;
}

async function connect(era: Era, url: string, token: string | undefined, name: string): Promise<BenchClient> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  if (era === '2025-11-25') {
    const c = new ClientV1({ name, version: '1.0.0' }, { capabilities: {} });
    const t = new TransportV1(new URL(url), { requestInit: { headers } });
    await c.connect(t);
    return {
      listTools: async () => (await c.listTools()).tools.length,
      call: async (tool, args) => {
        const r = await c.callTool({ name: tool, arguments: args });
        return !('isError' in r && r.isError === true);
      },
      close: async () => {
        // End the session on the server too, so the next lane starts from the same state.
        await t.terminateSession().catch(() => undefined);
        await c.close();
      },
    };
  }
  const c = new ClientV2(
    { name, version: '2.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await c.connect(new TransportV2(new URL(url), { requestInit: { headers } }));
  return {
    // 'refresh': always a round trip, never the client's response cache.
    listTools: async () => (await c.listTools(undefined, { cacheMode: 'refresh' })).tools.length,
    call: async (tool, args) => (await c.callTool({ name: tool, arguments: args })).isError !== true,
    close: () => c.close(),
  };
}

interface Stats {
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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
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
  async block(mode: Mode, count: number): Promise<void> {
    const first = this.clients[0];
    if (!first) throw new Error('no clients');
    const serverCpu0 = (await this.server.stats()).cpuUs;
    const clientCpu0 = process.cpuUsage();
    const start = performance.now();
    if (mode === 'sequential') {
      for (let i = 0; i < count; i++) await this.one(first);
    } else if (mode === '16 paced') {
      // Open loop, like agents arriving on their own schedule: requests start at random
      // (Poisson) times, PACED_RATE a second on average, spread over the clients in turn,
      // whether or not earlier ones have been answered.
      const inflight: Array<Promise<void>> = [];
      let next = performance.now();
      for (let i = 0; i < count * this.clients.length; i++) {
        next += -Math.log(1 - Math.random()) * (1000 / PACED_RATE);
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
    this.serverCpuUs += (await this.server.stats()).cpuUs - serverCpu0;
  }

  stats(): Stats {
    const times = [...this.times].sort((a, b) => a - b);
    const n = times.length + this.errors;
    return {
      n,
      p50: percentile(times, 50),
      p95: percentile(times, 95),
      p99: percentile(times, 99),
      rps: (n / this.wallMs) * 1000,
      errors: this.errors,
      serverCpuMs: this.serverCpuUs / 1000 / n,
      clientCpuMs: this.clientCpuUs / 1000 / n,
    };
  }
}

const BLOCKS = 10;

/**
 * notes-mcp and the baseline measured in alternating blocks (10 each), so a slow patch of a
 * shared machine lands on both sides instead of skewing the ratio.
 */
async function measurePair(notes: Side, base: Side, mode: Mode, plan: Plan): Promise<{ notes: Stats; base: Stats }> {
  const total = mode === 'sequential' ? plan.sequential : mode === '16 paced' ? plan.pacedPerClient : plan.perClient;
  for (let b = 0; b < BLOCKS; b++) {
    const count = Math.floor((total * (b + 1)) / BLOCKS) - Math.floor((total * b) / BLOCKS);
    await notes.block(mode, count);
    await base.block(mode, count);
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
  const qs = Questions.parse(JSON.parse(readFileSync(QUESTIONS, 'utf8'))).map((x) => x.q);
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return [...qs, ...qs.map((q) => `${q}?`), ...qs.map(cap), ...qs.map((q) => `${cap(q)}?`)];
}

interface Row {
  op: Op;
  era: Era;
  mode: Mode;
  notes: Stats;
  base: Stats;
}

async function benchProtocols(notesServer: Child, baseServer: Child, plan: Plan): Promise<Row[]> {
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
        'tools/list': async (c) => (await c.listTools()) === 5,
        search_notes: (c) => c.call('search_notes', { query: nextQuery(), k: 8 }),
      },
      base: {
        'tools/list': async (c) => (await c.listTools()) === 1,
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
      // Paced load only for search: it shows the latency agents see below saturation.
      const modes = op === 'search_notes' ? MODES : MODES.filter((m) => m !== '16 paced');
      for (const mode of modes) {
        const { notes, base } = await measurePair(
          new Side(pools.notes, notesServer, requests.notes[op]),
          new Side(pools.base, baseServer, requests.base[op]),
          mode,
          plan,
        );
        rows.push({ op, era, mode, notes, base });
        process.stderr.write(`  measured ${op} ${era} ${mode}\n`);
      }
    }
    await Promise.all([...pools.notes, ...pools.base].map((c) => c.close()));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------
// Graceful shutdown under a write_note load, on a spawned `notes-mcp serve`.

interface ShutdownResult {
  exitCode: number | null;
  signal: string | null;
  exitMs: number;
  acknowledged: number;
  ackedAfterSigterm: number;
  refused: number;
  failedAcknowledged: number;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  srv.close();
  return port;
}

async function waitIndexed(port: number, child: ChildProcess): Promise<void> {
  const Health = z.object({ index: z.object({ syncing: z.boolean() }) });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`notes-mcp serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok && !Health.parse(await r.json()).index.syncing) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('notes-mcp serve did not finish its initial index in 60 s');
}

async function benchShutdown(corpusDir: string, plan: Plan): Promise<ShutdownResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'notes-mcp-bench-shutdown-'));
  try {
    const notes = join(tmp, 'notes');
    const state = join(tmp, 'state');
    const from = join(corpusDir, 'pages', 'common');
    mkdirSync(join(notes, 'common'), { recursive: true });
    for (const f of readdirSync(from).sort().slice(0, 200)) cpSync(join(from, f), join(notes, 'common', f));
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          HOME: state,
          NOTES_MCP_TOKEN: TOKEN,
          NOTES_MCP_RATE_LIMIT: '100000000',
          NOTES_MCP_LOG_LEVEL: 'warn',
        },
      },
    );
    children.add(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await waitIndexed(port, child);

    const url = `http://127.0.0.1:${port}/mcp`;
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        connect(i % 2 === 0 ? '2025-11-25' : '2026-07-28', url, TOKEN, `bench-writer-${i}`),
      ),
    );
    const acked: Array<{ path: string; content: string }> = [];
    let sigtermAt = 0;
    let ackedAfter = 0;
    let refused = 0;
    let stop = false;
    const workers = clients.map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        const path = `burst/c${i}-${n}.md`;
        const content = `# write ${i}-${n}\n\n${'acknowledged writes must survive SIGTERM. '.repeat(20)}\n`;
        try {
          if (await c.call('write_note', { path, content })) {
            acked.push({ path, content });
            if (sigtermAt > 0) ackedAfter++;
          } else refused++;
        } catch {
          refused++;
          // Refused while draining or the socket is gone: back off instead of spinning.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await new Promise((r) => setTimeout(r, plan.shutdownLoadMs));
    sigtermAt = performance.now();
    child.kill('SIGTERM');
    const [exitCode, signal] = await exited;
    const exitMs = performance.now() - sigtermAt;
    children.delete(child);
    stop = true;
    await Promise.allSettled(workers);
    await Promise.allSettled(clients.map((c) => c.close()));

    let failed = 0;
    for (const w of acked) {
      try {
        if (readFileSync(join(notes, w.path), 'utf8') !== w.content) failed++;
      } catch {
        failed++;
      }
    }
    if (exitCode !== 0) process.stderr.write(`notes-mcp serve stderr:\n${stderr.slice(-2000)}\n`);
    return {
      exitCode,
      signal,
      exitMs,
      acknowledged: acked.length,
      ackedAfterSigterm: ackedAfter,
      refused,
      failedAcknowledged: failed,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// Report.

const ms = (v: number) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const int = (v: number) => Math.round(v).toLocaleString('en-US');

function table(rows: Row[]): string {
  const head = [
    'request',
    'protocol',
    'load',
    'notes p50',
    'p95',
    'p99',
    'req/s',
    'err',
    'CPU/req srv+cli',
    'baseline p50',
    'p95',
    'p99',
    'req/s',
    'err',
    'CPU/req srv+cli',
    'p50 ratio',
    'srv CPU ratio',
    'target',
  ];
  const cpu = (s: Stats) => `${s.serverCpuMs.toFixed(2)}+${s.clientCpuMs.toFixed(2)}`;
  const body = rows.map((r) => {
    const ratio = r.notes.p50 / r.base.p50;
    let target = '';
    if (r.op === 'tools/list') target = `p50 <= 1.5x: ${ratio <= 1.5 ? 'met' : 'MISSED'}`;
    else if (r.mode === '16 concurrent')
      target = `p99 <= 30 ms, 0 err: ${r.notes.p99 <= 30 && r.notes.errors === 0 ? 'met' : 'MISSED'}`;
    else if (r.mode === '16 paced') target = `(context) p99 ${r.notes.p99 <= 30 ? '<=' : '>'} 30 ms`;
    return [
      r.op === 'tools/list' ? 'tools/list' : 'search_notes (baseline: echo)',
      r.era,
      r.mode,
      ms(r.notes.p50),
      ms(r.notes.p95),
      ms(r.notes.p99),
      int(r.notes.rps),
      String(r.notes.errors),
      cpu(r.notes),
      ms(r.base.p50),
      ms(r.base.p95),
      ms(r.base.p99),
      int(r.base.rps),
      String(r.base.errors),
      cpu(r.base),
      `${ratio.toFixed(2)}x`,
      `${(r.notes.serverCpuMs / r.base.serverCpuMs).toFixed(2)}x`,
      target,
    ];
  });
  const text = new Set([0, 1, 2, 17]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (text.has(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (text.has(i) ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      'chunks-target': { type: 'string' },
      only: { type: 'string' },
      era: { type: 'string' },
      profile: { type: 'string' },
    },
  });
  const target = values['chunks-target'] === undefined ? undefined : Number(values['chunks-target']);
  if (target !== undefined && !(Number.isInteger(target) && target > 0)) {
    throw new Error('--chunks-target takes a positive whole number of chunks, e.g. 100000');
  }
  const ops = z
    .enum(['tools/list', 'search_notes'])
    .optional()
    .parse(values.only, { error: () => '--only takes tools/list or search_notes' });
  const era = z
    .enum(['2025-11-25', '2026-07-28'])
    .optional()
    .parse(values.era, { error: () => '--era takes 2025-11-25 or 2026-07-28' });
  const slice = {
    ops: ops ? [ops] : (['tools/list', 'search_notes'] as const),
    eras: era ? [era] : (['2025-11-25', '2026-07-28'] as const),
    profileDir: values.profile,
    // A partial run is for looking at one thing: skip the shutdown part.
    shutdown: ops === undefined && era === undefined,
  };
  const plan: Plan = values.quick
    ? {
        corpus: 'tldr-en',
        chunksTarget: target,
        sequential: 100,
        perClient: 25,
        pacedPerClient: 10,
        warmup: 3,
        shutdownLoadMs: 1000,
        ...slice,
      }
    : {
        corpus: 'tldr-all',
        chunksTarget: target ?? 100_000,
        sequential: 300,
        perClient: 100,
        pacedPerClient: 40,
        warmup: 10,
        shutdownLoadMs: 2000,
        ...slice,
      };
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
  const notes = await startChild('notes', { notes: notesDir, state, maxTokens } satisfies z.infer<typeof ChildArgs>);
  const base = await startChild('baseline', {});
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
      `${plan.pacedPerClient} started at random (Poisson) times, ${PACED_RATE} req/s on average in all, answered ` +
      'or not; ' +
      `after ${plan.warmup} warm-up calls per client, notes-mcp and baseline in ${BLOCKS} alternating blocks; ` +
      'loopback HTTP, times in ms, clients in one process',
  );
  console.log(
    'notes-mcp: the daemon (express, bearer auth, rate limit, metrics) in a child process; 2025 clients on ' +
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
  const searchRows = rows.filter((x) => x.op === 'search_notes' && x.mode === '16 concurrent');
  const searchMet = searchRows.every((x) => x.notes.p99 <= 30 && x.notes.errors === 0);
  const atScale = r.chunks >= 95_000;
  console.log(
    `targets: tools/list p50 <= 1.5x baseline: ${listMet ? 'met' : 'MISSED'}; search_notes p99 <= 30 ms at 16 ` +
      `concurrent, no errors: ${searchMet ? 'met' : 'MISSED'}${atScale ? '' : ` (at ${int(r.chunks)} chunks, not 100k)`}; ` +
      `graceful shutdown: ${shutdownMet ? 'met' : 'MISSED'}`,
  );
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  const kind = argv[1];
  const run = kind === 'notes' ? childNotes(ChildArgs.parse(JSON.parse(argv[2] ?? '{}'))) : childBaseline();
  run.catch((err: unknown) => {
    process.stderr.write(`bench ${kind} server failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench:mcp failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
