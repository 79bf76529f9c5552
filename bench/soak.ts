// Soak: 100,000 mixed calls over both protocol revisions against one daemon, with sessions
// and listen streams opening and closing all along, sampling the daemon's RSS, V8 heap (after a
// full collection), array buffers, open descriptors, sessions and streams. Flat is the target:
// each measure's slope per 10k calls, fitted after the warm-up, against its warm-up baseline.
//   npm run bench:soak                   100,000 calls
//   npm run bench:soak -- --calls 20000  a short run
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { ChildStats } from './lib/children.ts';
import { type BenchClient, connect, ERAS, type Era } from './lib/clients.ts';
import { unpackCorpus } from './lib/corpus.ts';
import { CHILD_TOKEN as TOKEN, startDaemonChild } from './lib/daemon-child.ts';
import { seeded } from './lib/random.ts';

const WORKERS = 8;
/** A worker's client is closed and replaced after this many calls (a new session for 2025). */
const CALLS_PER_SESSION = 250;
const NOTES = 400;
const QUERIES = ['extract a tar archive', 'list open ports', 'git undo last commit', 'compress a folder', 'disk usage'];

const { values } = parseArgs({ options: { calls: { type: 'string', default: '100000' } } });
const CALLS = Number(values.calls);
if (!Number.isInteger(CALLS) || CALLS < 1000) throw new Error('--calls takes a whole number >= 1000');
const SAMPLE_EVERY = Math.max(500, Math.floor(CALLS / 40));
const WARMUP = Math.floor(CALLS / 10);

const Health = z.object({ sessions: z.number(), listen_streams: z.number() }).loose();

interface Sample {
  calls: number;
  seconds: number;
  rssMb: number;
  heapMb: number;
  arrayBuffersMb: number;
  externalMb: number;
  fds: number;
  sessions: number;
  streams: number;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function openListen(url: string, uris: string[], holdMs: number): Promise<void> {
  const ctl = new AbortController();
  const r = await fetch(url, {
    method: 'POST',
    signal: ctl.signal,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        notifications: { resourcesListChanged: true, resourceSubscriptions: uris },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'soak', version: '1' },
        },
      },
    }),
  });
  // Read what arrives while held, as a live client would, then hang up.
  const reader = r.body?.getReader();
  const timer = setTimeout(() => ctl.abort(), holdMs);
  try {
    while (reader) if ((await reader.read()).done) break;
  } catch {
    // aborted: the client went away on purpose
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'notes-mcp-bench-soak-'));
  try {
    const corpus = join(tmp, 'corpus');
    mkdirSync(corpus);
    unpackCorpus('tldr-en', corpus);
    const notes = join(tmp, 'notes');
    mkdirSync(join(notes, 'tldr'), { recursive: true });
    const names = readdirSync(join(corpus, 'pages', 'common'))
      .sort()
      .slice(0, NOTES);
    for (const f of names) cpSync(join(corpus, 'pages', 'common', f), join(notes, 'tldr', f));
    const state = join(tmp, 'state');
    mkdirSync(state);
    const d = await startDaemonChild({ notes, state, maxSessions: 256 }, ['--expose-gc']);
    const url = d.ready.url;
    const port = Number(new URL(url).port);
    const rand = seeded(5);
    const uris = names.map((n) => `note://tldr/${encodeURIComponent(n)}`);

    let done = 0;
    let errors = 0;
    const byKind: Record<string, number> = {};
    const samples: Sample[] = [];
    const t0 = performance.now();
    let nextSample = 0;
    let sampling: Promise<void> = Promise.resolve();
    const sample = async () => {
      const s: ChildStats = await d.stats();
      const h = Health.parse(await (await fetch(`http://127.0.0.1:${port}/health`)).json());
      samples.push({
        calls: done,
        seconds: (performance.now() - t0) / 1000,
        rssMb: s.nowKb / 1024,
        heapMb: s.heapUsedKb / 1024,
        arrayBuffersMb: s.arrayBuffersKb / 1024,
        externalMb: s.externalKb / 1024,
        fds: s.fds,
        sessions: h.sessions,
        streams: h.listen_streams,
      });
    };
    const count = (kind: string) => {
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      done++;
      if (done >= nextSample) {
        nextSample = done + SAMPLE_EVERY;
        sampling = sampling.then(sample);
      }
    };

    // Each worker: one client at a time, replaced every CALLS_PER_SESSION calls, eras alternating.
    const worker = async (w: number) => {
      let era: Era = ERAS[w % 2]!;
      let c: BenchClient = await connect(era, url, TOKEN, `soak-${w}`);
      let own = 0;
      let n = 0;
      for (;;) {
        const i = done;
        if (i >= CALLS) break;
        const r = rand();
        try {
          let kind: string;
          if (r < 0.3) {
            kind = 'search_notes';
            if (!(await c.call('search_notes', { query: `${QUERIES[n % QUERIES.length]} ${n % 50}`, k: 8 }))) errors++;
          } else if (r < 0.45) {
            kind = 'read_note';
            if (!(await c.call('read_note', { path: `tldr/${names[n % names.length]}` }))) errors++;
          } else if (r < 0.53) {
            kind = 'list_notes';
            if (!(await c.call('list_notes', { limit: 50 }))) errors++;
          } else if (r < 0.6) {
            kind = 'write_note append';
            const ok = await c.call('write_note', {
              path: `soak/w${w}-${own % 20}.md`,
              content: `line ${n} of worker ${w}\n`,
              mode: 'append',
            });
            if (!ok) errors++;
            own++;
          } else if (r < 0.65) {
            kind = 'edit_note';
            // Fails (isError) when the note does not exist yet: still a full call, counted apart.
            const ok = await c.call('edit_note', {
              path: `soak/w${w}-${own % 20}.md`,
              operations: [{ op: 'add_tags', tags: [`t${n % 7}`] }],
            });
            if (!ok) byKind['edit_note refused'] = (byKind['edit_note refused'] ?? 0) + 1;
          } else if (r < 0.72) {
            kind = 'tools/list';
            await c.listTools();
          } else if (r < 0.85) {
            kind = 'resources/read';
            await c.readResource(uris[n % uris.length]!);
          } else if (r < 0.9) {
            kind = 'resources/list';
            await c.listResources();
          } else if (r < 0.93) {
            kind = 'listen stream';
            await openListen(url, uris.slice(0, 1 + (n % 50)), 50 + Math.floor(rand() * 400));
          } else {
            kind = 'note_history';
            if (!(await c.call('note_history', { limit: 10 }))) errors++;
          }
          count(kind);
        } catch {
          errors++;
          done++;
        }
        n++;
        if (n % CALLS_PER_SESSION === 0) {
          await c.close();
          era = era === ERAS[0] ? ERAS[1]! : ERAS[0]!;
          c = await connect(era, url, TOKEN, `soak-${w}-${n}`);
          count('session closed and opened');
        }
      }
      await c.close();
    };
    const progress = setInterval(() => {
      process.stderr.write(`  ${done.toLocaleString('en-US')} / ${CALLS.toLocaleString('en-US')} calls\n`);
    }, 30_000);
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    clearInterval(progress);
    await sampling;
    // Idle for the session sweeper and stream timers to settle, then one last sample.
    await new Promise((r) => setTimeout(r, 3_000));
    await sample();
    const wall = (performance.now() - t0) / 1000;
    await d.stop();

    const cpu = cpus();
    console.log(`# notes-mcp soak, ${new Date().toISOString()}`);
    console.log(
      `machine: ${cpu.length} cores, node ${process.version}, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(
          ' ',
        )}; ${CALLS.toLocaleString('en-US')} calls in ${wall.toFixed(0)} s (${(CALLS / wall).toFixed(0)}/s), ` +
        `${WORKERS} workers, each client replaced every ${CALLS_PER_SESSION} calls, eras alternating; ${errors} errors; ` +
        `${NOTES} tldr pages`,
    );
    console.log(
      `calls: ${Object.entries(byKind)
        .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
        .join(', ')}`,
    );
    console.log('');
    const head = ['calls', 's', 'RSS MB', 'heap MB', 'array buffers MB', 'external MB', 'fds', 'sessions', 'streams'];
    const rows = samples.map((s) => [
      s.calls.toLocaleString('en-US'),
      s.seconds.toFixed(0),
      s.rssMb.toFixed(0),
      s.heapMb.toFixed(1),
      s.arrayBuffersMb.toFixed(1),
      s.externalMb.toFixed(1),
      String(s.fds),
      String(s.sessions),
      String(s.streams),
    ]);
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padStart(w[i]!)).join(' | ')} |`;
    console.log(line(head));
    console.log(`|${w.map((x) => `${'-'.repeat(x + 1)}:`).join('|')}|`);
    for (const r of rows) console.log(line(r));
    console.log('');

    // Flat: after the warm-up, each measure's fitted slope per 10k calls is within a bound of
    // its warm-up baseline (the mean of the samples up to WARMUP calls).
    const warm = samples.filter((s) => s.calls <= WARMUP);
    const after = samples.filter((s) => s.calls > WARMUP && s.calls < CALLS);
    const measures: Array<[string, (s: Sample) => number, (base: number) => number]> = [
      ['RSS', (s) => s.rssMb, (b) => Math.max(2, b * 0.01)],
      ['V8 heap', (s) => s.heapMb, (b) => Math.max(1, b * 0.02)],
      ['array buffers', (s) => s.arrayBuffersMb, (b) => Math.max(0.5, b * 0.05)],
      ['fds', (s) => s.fds, () => 1],
      ['sessions', (s) => s.sessions, () => 1],
    ];
    const verdicts: string[] = [];
    let flat = true;
    for (const [name, f, bound] of measures) {
      const base = warm.reduce((a, s) => a + f(s), 0) / Math.max(1, warm.length);
      const k = slope(
        after.map((s) => s.calls / 10_000),
        after.map(f),
      );
      const ok = after.length >= 3 && Math.abs(k) <= bound(base);
      flat &&= ok;
      verdicts.push(
        `${name} ${k >= 0 ? '+' : ''}${k.toFixed(2)}/10k calls (baseline ${base.toFixed(1)}, bound ${bound(base).toFixed(1)}): ${ok ? 'flat' : 'NOT flat'}`,
      );
    }
    const last = samples.at(-1);
    console.log(`slopes after the first ${WARMUP.toLocaleString('en-US')} calls: ${verdicts.join('; ')}`);
    console.log(
      `after the run: ${last?.sessions} sessions, ${last?.streams} listen streams open (target 0 and 0 once clients ` +
        `have gone, but a session closes only when its client ends it or it idles out); ` +
        `target flat: ${flat ? 'met' : 'MISSED'}`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:soak failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
