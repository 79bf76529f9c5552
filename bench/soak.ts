// Soak: mixed calls over both protocol revisions against one daemon, with sessions and listen
// streams opening and closing all along, sampling the daemon's RSS, V8 heap (after a full
// collection), array buffers, open descriptors, sessions and streams, and the bytes of its data
// on disk (notes, index database, history). Each sample is taken twice: after a full collection,
// and right after a memory-reducing one ("held"): after a full collection V8 keeps the pages it
// freed resident for reuse, so RSS alone stays at the highest the heap has been, a step up at
// each peak of garbage, and reads as a slope where nothing is kept.
//
// Two phases, each on a fresh daemon and vault, so that a slope can be told apart from growth:
//   constant  every write keeps the vault's size: a note is overwritten with a same-size variant
//             or edited to it and back, so notes, chunks and history blobs stop changing after
//             the first round. Only the history journal grows (a line per change, by design).
//             A slope here is a leak: judged flat against the warm-up baseline.
//   growth    appends and tag edits lengthen the notes, and each change keeps a new version in
//             the history: memory may follow the data. Its RSS slope is printed against the
//             growth of the data, and against the constant phase's slope.
//   npm run bench:soak                                      100,000 calls per phase
//   npm run bench:soak -- --calls 20000 --phase constant    a short run of one phase
//   ... --heap-snapshots DIR    the daemon's heap after the warm-up and at the end (slow)
//   ... --malloc /usr/lib/x86_64-linux-gnu/libjemalloc.so.2    the daemon on jemalloc
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { ChildStats } from './lib/children.ts';
import { type BenchClient, connect, ERAS, type Era } from './lib/clients.ts';
import { unpackCorpus } from './lib/corpus.ts';
import { CHILD_TOKEN as TOKEN, startDaemonChild } from './lib/daemon-child.ts';
import { listenRequestBody } from './lib/deaf-listener.ts';
import { seeded } from './lib/random.ts';

const WORKERS = 8;
/** A worker's client is closed and replaced after this many calls (a new session for 2025). */
const CALLS_PER_SESSION = 250;
const NOTES = 400;
/** Notes each worker writes to (its own, so a worker knows their text without reading it). */
const OWN_NOTES = 20;
const QUERIES = ['extract a tar archive', 'list open ports', 'git undo last commit', 'compress a folder', 'disk usage'];
/** The index database's page cache bound (`cache_size` in src/index/db.ts). */
const PAGE_CACHE_MB = 64;

const PHASES = ['constant', 'growth'] as const;
/** 'readonly' (on demand): the constant phase with its writes replaced by reads, a control. */
type Phase = (typeof PHASES)[number] | 'readonly';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '100000' },
    phase: { type: 'string', default: 'both' },
    /** Write the daemon's heap after the warm-up and after the run here, to diff what stayed. */
    'heap-snapshots': { type: 'string' },
    /**
     * Run the daemon on another malloc (LD_PRELOAD of this library, e.g. jemalloc): a slope that
     * goes away is memory glibc keeps after a peak, not memory the daemon holds.
     */
    malloc: { type: 'string' },
  },
});
const CALLS = Number(values.calls);
if (!Number.isInteger(CALLS) || CALLS < 1000) throw new Error('--calls takes a whole number >= 1000');
const RUN: readonly Phase[] =
  values.phase === 'both' ? PHASES : [...PHASES, 'readonly' as const].filter((p) => p === values.phase);
if (RUN.length === 0) throw new Error('--phase takes constant, growth, readonly or both');
const SAMPLE_EVERY = Math.max(500, Math.floor(CALLS / 40));
/**
 * Samples up to here are the warm-up: the page cache, the BM25 and query caches and V8's
 * code fill as the calls first touch them (the vault's pages are all read within ~5k calls).
 */
const WARMUP = Math.floor(CALLS / 5);

const Health = z.object({ chunks: z.number(), sessions: z.number(), listen_streams: z.number() }).loose();

interface Sample {
  calls: number;
  seconds: number;
  rssMb: number;
  /** RSS right after a memory-reducing collection: what the daemon holds, without V8's kept pages. */
  heldMb: number;
  /** RSS of anonymous memory (heaps of V8, malloc, onnxruntime) and of mapped files. */
  anonMb: number;
  fileMb: number;
  /** Of the RSS, pages freed lazily (MADV_FREE) that the kernel has not taken back yet. */
  lazyFreeMb: number;
  heapMb: number;
  heapTotalMb: number;
  /** Committed V8 old and new space (after the collection: new space is empty, only kept). */
  oldSpaceMb: number;
  newSpaceMb: number;
  arrayBuffersMb: number;
  externalMb: number;
  fds: number;
  sessions: number;
  streams: number;
  chunks: number;
  notesMb: number;
  /** The index database file, and its write-ahead log (kept at its size between checkpoints). */
  dbMb: number;
  walMb: number;
  historyMb: number;
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

/** Bytes of the regular files under dir, by the first matching bucket of their path. */
function bytesUnder(dir: string, bucket: (path: string) => string, into: Map<string, number>): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // removed while walked (a temp file renamed into place)
  }
  for (const n of names) {
    const p = join(dir, n);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) bytesUnder(p, bucket, into);
    else if (st.isFile()) {
      const b = bucket(p);
      into.set(b, (into.get(b) ?? 0) + st.size);
    }
  }
}

function dataSizes(notes: string, state: string): { notesMb: number; dbMb: number; walMb: number; historyMb: number } {
  const m = new Map<string, number>();
  bytesUnder(notes, () => 'notes', m);
  bytesUnder(
    state,
    (p) =>
      p.includes('/history/') ? 'history' : /\.db-(wal|shm)$/.test(p) ? 'wal' : p.endsWith('.db') ? 'db' : 'other',
    m,
  );
  const mb = (k: string) => (m.get(k) ?? 0) / 2 ** 20;
  return { notesMb: mb('notes'), dbMb: mb('db'), walMb: mb('wal'), historyMb: mb('history') };
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
    body: listenRequestBody(1, uris, 'soak'),
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

/**
 * The two texts a constant-phase note takes in turn: the same length and the same words but
 * one, so overwriting with the other or editing the one word gives one of two known versions.
 */
function variant(w: number, k: number, which: 0 | 1): string {
  const body = Array.from(
    { length: 6 },
    (_, i) => `- step ${i + 1} of worker ${w}, note ${k}: archive the folder, then list the open ports`,
  ).join('\n');
  return `# Soak note ${w}-${k}\n\nstate: ${which === 0 ? 'alpha' : 'omega'}\n\n${body}\n`;
}

interface PhaseResult {
  phase: Phase;
  samples: Sample[];
  byKind: Record<string, number>;
  errors: number;
  wall: number;
}

async function runPhase(phase: Phase): Promise<PhaseResult> {
  const tmp = mkdtempSync(join(tmpdir(), `notes-mcp-bench-soak-${phase}-`));
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
    rmSync(corpus, { recursive: true, force: true });
    // The constant phase's notes exist from the start, so its first writes replace text of the
    // same size instead of creating notes.
    const current: Array<Array<0 | 1>> = Array.from({ length: WORKERS }, () => Array<0 | 1>(OWN_NOTES).fill(0));
    if (phase !== 'growth') {
      mkdirSync(join(notes, 'soak'));
      for (let w = 0; w < WORKERS; w++)
        for (let k = 0; k < OWN_NOTES; k++) writeFileSync(join(notes, 'soak', `w${w}-${k}.md`), variant(w, k, 0));
    }
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
      const held: ChildStats = await d.stats({ reduce: true });
      const h = Health.parse(await (await fetch(`http://127.0.0.1:${port}/health`)).json());
      samples.push({
        calls: done,
        seconds: (performance.now() - t0) / 1000,
        rssMb: s.nowKb / 1024,
        heldMb: held.nowKb / 1024,
        anonMb: s.rssAnonKb / 1024,
        fileMb: s.rssFileKb / 1024,
        lazyFreeMb: s.lazyFreeKb / 1024,
        heapMb: s.heapUsedKb / 1024,
        heapTotalMb: s.heapTotalKb / 1024,
        oldSpaceMb: (s.spacesKb.old_space ?? 0) / 1024,
        newSpaceMb: (s.spacesKb.new_space ?? 0) / 1024,
        arrayBuffersMb: s.arrayBuffersKb / 1024,
        externalMb: s.externalKb / 1024,
        fds: s.fds,
        sessions: h.sessions,
        streams: h.listen_streams,
        chunks: h.chunks,
        ...dataSizes(notes, state),
      });
    };
    const snapshots = values['heap-snapshots'];
    let snapshotted = false;
    const snapshot = async () => {
      if (snapshots) process.stderr.write(`  ${phase}: heap snapshot ${await d.heapSnapshot(snapshots)}\n`);
    };
    const count = (kind: string) => {
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      done++;
      if (done >= nextSample) {
        nextSample = done + SAMPLE_EVERY;
        sampling = sampling.then(sample);
        if (!snapshotted && done > WARMUP) {
          snapshotted = true;
          sampling = sampling.then(snapshot);
        }
      }
    };

    // The writes of a phase: in the growth phase appends and tags; in the constant phase the
    // note flips between its two variants, by overwrite or by editing the one word.
    const writeCall = async (c: BenchClient, w: number, own: number, n: number): Promise<string> => {
      const k = own % OWN_NOTES;
      const path = `soak/w${w}-${k}.md`;
      if (phase === 'growth') {
        if (!(await c.call('write_note', { path, content: `line ${n} of worker ${w}\n`, mode: 'append' }))) errors++;
        return 'write_note append';
      }
      if (phase === 'readonly') {
        if (!(await c.call('read_note', { path }))) errors++;
        return 'read_note (own)';
      }
      const next: 0 | 1 = current[w]![k] === 0 ? 1 : 0;
      if (!(await c.call('write_note', { path, content: variant(w, k, next), mode: 'overwrite' }))) errors++;
      current[w]![k] = next;
      return 'write_note overwrite';
    };
    const editCall = async (c: BenchClient, w: number, own: number, n: number): Promise<string> => {
      const k = own % OWN_NOTES;
      const path = `soak/w${w}-${k}.md`;
      if (phase === 'growth') {
        // Fails (isError) when the note does not exist yet: still a full call, counted apart.
        const ok = await c.call('edit_note', { path, operations: [{ op: 'add_tags', tags: [`t${n % 7}`] }] });
        if (!ok) byKind['edit_note refused'] = (byKind['edit_note refused'] ?? 0) + 1;
        return 'edit_note add_tags';
      }
      if (phase === 'readonly') {
        if (!(await c.call('read_note', { path }))) errors++;
        return 'read_note (own)';
      }
      const [from, to] = current[w]![k] === 0 ? ['alpha', 'omega'] : ['omega', 'alpha'];
      const ok = await c.call('edit_note', {
        path,
        operations: [{ op: 'replace', old: `state: ${from}`, new: `state: ${to}`, expected_count: 1 }],
      });
      if (ok) current[w]![k] = current[w]![k] === 0 ? 1 : 0;
      else errors++;
      return 'edit_note replace';
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
            kind = await writeCall(c, w, own, n);
            own++;
          } else if (r < 0.65) {
            kind = await editCall(c, w, own, n);
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
      process.stderr.write(`  ${phase}: ${done.toLocaleString('en-US')} / ${CALLS.toLocaleString('en-US')} calls\n`);
    }, 30_000);
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    clearInterval(progress);
    await sampling;
    // Idle for the session sweeper and stream timers to settle, then one last sample.
    await new Promise((r) => setTimeout(r, 3_000));
    await sample();
    const wall = (performance.now() - t0) / 1000;
    await snapshot();
    await d.stop();
    return { phase, samples, byKind, errors, wall };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function table(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padStart(w[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${w.map((x) => `${'-'.repeat(x + 1)}:`).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
}

interface MeasureOpts {
  /** Printed, not judged. */
  judged?: false;
  /** Fitted on the least value of each 4 samples: the floor, without what calls in flight hold. */
  floor?: true;
}
type Measure = [name: string, value: (s: Sample) => number, bound: (base: number) => number, opts?: MeasureOpts];
/**
 * Flat: per 10k calls after the warm-up, within 1% RSS, 2% heap, 5% buffers, 1 fd, 1 session.
 * RSS after a full collection is printed, not judged: it keeps V8's freed pages (see the top).
 */
const MEASURES: Measure[] = [
  ['RSS', (s) => s.rssMb, (b) => Math.max(2, b * 0.01), { judged: false }],
  ['RSS held', (s) => s.heldMb, (b) => Math.max(2, b * 0.01)],
  ['V8 heap', (s) => s.heapMb, (b) => Math.max(1, b * 0.02)],
  // Buffers of the 8 workers' calls in flight come and go by 10-15 MB between samples.
  ['array buffers', (s) => s.arrayBuffersMb, (b) => Math.max(0.5, b * 0.05), { floor: true }],
  ['fds', (s) => s.fds, () => 1],
  ['sessions', (s) => s.sessions, () => 1],
];

interface Fit {
  base: number;
  perTenK: number;
}

/** Warm-up baseline (mean up to WARMUP calls) and slope per 10k calls after it. */
function fit(samples: readonly Sample[], f: (s: Sample) => number, floor = false): Fit & { points: number } {
  const warm = samples.filter((s) => s.calls <= WARMUP);
  const after = samples.filter((s) => s.calls > WARMUP && s.calls < CALLS);
  let xs = after.map((s) => s.calls / 10_000);
  let ys = after.map(f);
  if (floor) {
    const wx: number[] = [];
    const wy: number[] = [];
    for (let i = 0; i + 4 <= ys.length; i += 4) {
      wx.push(xs.slice(i, i + 4).reduce((a, b) => a + b, 0) / 4);
      wy.push(Math.min(...ys.slice(i, i + 4)));
    }
    xs = wx;
    ys = wy;
  }
  return {
    base: warm.reduce((a, s) => a + f(s), 0) / Math.max(1, warm.length),
    perTenK: slope(xs, ys),
    points: xs.length,
  };
}

const signed = (v: number, digits = 2) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

function report(r: PhaseResult): { flat: boolean; fits: Map<string, Fit> } {
  console.log(`## phase: ${r.phase}`);
  console.log(
    `${CALLS.toLocaleString('en-US')} calls in ${r.wall.toFixed(0)} s (${(CALLS / r.wall).toFixed(0)}/s); ${r.errors} errors`,
  );
  console.log(
    `calls: ${Object.entries(r.byKind)
      .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
      .join(', ')}`,
  );
  console.log('');
  table(
    [
      'calls',
      's',
      'RSS MB',
      'held MB',
      'anon',
      'file',
      'lazy free',
      'heap MB',
      'heap total MB',
      'old space',
      'new space',
      'array buffers MB',
      'external MB',
      'fds',
      'sessions',
      'streams',
      'chunks',
      'notes MB',
      'index db MB',
      'wal MB',
      'history MB',
    ],
    r.samples.map((s) => [
      s.calls.toLocaleString('en-US'),
      s.seconds.toFixed(0),
      s.rssMb.toFixed(0),
      s.heldMb.toFixed(0),
      s.anonMb.toFixed(0),
      s.fileMb.toFixed(0),
      s.lazyFreeMb.toFixed(0),
      s.heapMb.toFixed(1),
      s.heapTotalMb.toFixed(0),
      s.oldSpaceMb.toFixed(0),
      s.newSpaceMb.toFixed(0),
      s.arrayBuffersMb.toFixed(1),
      s.externalMb.toFixed(1),
      String(s.fds),
      String(s.sessions),
      String(s.streams),
      String(s.chunks),
      s.notesMb.toFixed(2),
      s.dbMb.toFixed(2),
      s.walMb.toFixed(1),
      s.historyMb.toFixed(2),
    ]),
  );
  const fits = new Map<string, Fit>();
  const verdicts: string[] = [];
  let flat = true;
  for (const [name, f, bound, opts] of MEASURES) {
    const k = fit(r.samples, f, opts?.floor);
    fits.set(name, k);
    const ok = k.points >= 3 && Math.abs(k.perTenK) <= bound(k.base);
    if (opts?.judged !== false) flat &&= ok;
    verdicts.push(
      `${name}${opts?.floor ? ' (floor)' : ''} ${signed(k.perTenK)} (baseline ${k.base.toFixed(1)}, bound ` +
        `${bound(k.base).toFixed(1)}): ${ok ? 'flat' : 'NOT flat'}${opts?.judged === false ? ' (not judged)' : ''}`,
    );
  }
  const data: Array<[string, (s: Sample) => number]> = [
    ['notes', (s) => s.notesMb],
    ['index db', (s) => s.dbMb],
    ['history', (s) => s.historyMb],
  ];
  for (const [name, f] of data) fits.set(name, fit(r.samples, f));
  console.log(`slopes per 10k calls after the first ${WARMUP.toLocaleString('en-US')} calls: ${verdicts.join('; ')}`);
  console.log(
    `data on disk per 10k calls: ${data.map(([n]) => `${n} ${signed(fits.get(n)!.perTenK)} MB`).join(', ')} ` +
      `(index db at the end ${r.samples.at(-1)?.dbMb.toFixed(1)} MB, page cache bound ${PAGE_CACHE_MB} MiB)`,
  );
  // Where an RSS slope lives: V8's committed heap, what is freed lazily, or the rest of the
  // anonymous memory (malloc, onnxruntime, SQLite, the HNSW worker), or mapped files.
  const parts: Array<[string, (s: Sample) => number]> = [
    ['V8 committed heap', (s) => s.heapTotalMb],
    ['anonymous outside the V8 heap', (s) => s.anonMb - s.heapTotalMb],
    ['lazily freed', (s) => s.lazyFreeMb],
    ['mapped files', (s) => s.fileMb],
  ];
  console.log(
    `RSS parts per 10k calls: ${parts.map(([n, f]) => `${n} ${signed(fit(r.samples, f).perTenK)} MB`).join(', ')}`,
  );
  const last = r.samples.at(-1);
  console.log(
    `after the run: ${last?.sessions} sessions, ${last?.streams} listen streams open (target 0 and 0 once clients ` +
      `have gone, but a session closes only when its client ends it or it idles out)`,
  );
  console.log('');
  return { flat, fits };
}

async function main(): Promise<void> {
  const malloc = values.malloc;
  if (malloc !== undefined) {
    if (!existsSync(malloc)) throw new Error(`--malloc: no such library ${malloc}`);
    // Forked children inherit the environment: the daemon starts on this allocator.
    process.env.LD_PRELOAD = malloc;
  }
  const cpu = cpus();
  console.log(`# notes-mcp soak, ${new Date().toISOString()}`);
  console.log(
    `machine: ${cpu.length} cores, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${CALLS.toLocaleString('en-US')} calls per phase, ${WORKERS} workers, each client replaced every ` +
      `${CALLS_PER_SESSION} calls, eras alternating; ${NOTES} tldr pages and ${WORKERS * OWN_NOTES} written notes; ` +
      `malloc ${malloc ?? "the system's"}`,
  );
  console.log('');
  const results = new Map<Phase, { flat: boolean; fits: Map<string, Fit> }>();
  for (const p of RUN) results.set(p, report(await runPhase(p)));

  const constant = results.get('constant');
  const growth = results.get('growth');
  if (constant) console.log(`constant-size phase, target flat: ${constant.flat ? 'met' : 'MISSED'}`);
  if (growth) {
    // What the growth phase's held RSS slope is made of: the constant phase's (same calls, no
    // growth), the live heap and buffers it grew beyond the constant phase's, and the page cache
    // following the database (a page read stays cached up to the bound). What is left over is
    // not explained by the data.
    const g = (n: string) => growth.fits.get(n)!.perTenK;
    const c = (n: string) => constant?.fits.get(n)?.perTenK ?? 0;
    const rss = g('RSS held');
    const baseline = c('RSS held');
    const heap = g('V8 heap') + g('array buffers') - (c('V8 heap') + c('array buffers'));
    const db = Math.max(0, g('index db'));
    const rest = rss - baseline - heap - db;
    const bound = Math.max(2, growth.fits.get('RSS held')!.base * 0.01);
    console.log(
      `growth phase, RSS held ${signed(rss)} MB per 10k calls: the constant phase's ${signed(baseline)}, live heap and ` +
        `array buffers beyond the constant phase's ${signed(heap)}, index db (page cache) ${signed(db)}, history ` +
        `${signed(g('history'))} on disk; not explained ${signed(rest)} (bound ${bound.toFixed(1)}): ` +
        `${Math.abs(rest) <= bound ? 'explained' : 'NOT explained'}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:soak failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
