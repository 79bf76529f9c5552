// Crash bench: SIGKILL the real daemon (bin/notes-mcp.js serve) at random moments while
// clients of both protocol revisions create, append to, overwrite (with expected_hash), edit,
// move, delete and restore notes; restart it each time and check what is on disk, then compare
// the index the daemon healed into with a fresh rebuild of the same notes.
//   npm run bench:crash                  100 kills (seed 11)
//   npm run bench:crash -- --kills 10    a short run
//   npm run bench:crash -- --seed 7      other kill moments and choices
//   npm run bench:crash -- --keep        keep the notes and both indexes for a post-mortem
// Proves: 0 acknowledged writes lost, 0 duplicates (an acknowledged append is there exactly
// once), 0 torn files, and the same notes, chunk texts and search results as a rebuild.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.ts';
import { openEmbedder } from '../src/embed/index.ts';
import { NotesIndex } from '../src/index/index.ts';
import { silentLogger } from '../src/log.ts';
import { search } from '../src/search/index.ts';
import { type BenchClient, connect, ERAS } from './lib/clients.ts';
import { unpackCorpus } from './lib/corpus.ts';
import { BENCH_TOKEN, type SpawnedDaemon, spawnDaemon } from './lib/daemon.ts';
import { BIN } from './lib/paths.ts';
import { seeded } from './lib/random.ts';

const APPENDERS = 3;
const CREATORS = 2;
const OVERWRITERS = 2;
const EDITORS = 2;
const MOVED = '# Moved\n\nThis note travels between two folders.\n';
const DELETED = '# Deleted\n\nThis note goes to the trash and comes back.\n';
const QUERIES = [
  'extract a tar archive',
  'list files',
  'git commit',
  'version 3',
  'line 7',
  'count',
  'Moved',
  'network',
];

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '100' },
    seed: { type: 'string', default: '11' },
    keep: { type: 'boolean', default: false },
  },
});
const KILLS = Number(values.kills);
const SEED = Number(values.seed);
if (!Number.isInteger(KILLS) || KILLS < 1) throw new Error('--kills takes a positive whole number');
const rand = seeded(SEED);
const between = (lo: number, hi: number) => Math.floor(lo + rand() * (hi - lo));

/** Filler that makes a write span several pages, so a torn one would show. */
const filler = (tag: string, n: number) => `${tag} `.repeat(50 + (n % 7) * 300);

const appendLine = (i: number, n: number) => `A${i}-${n} ${'a'.repeat(20 + (n % 5) * 400)}`;
const createText = (i: number, n: number) => `# Created ${i}-${n}\n\n${filler(`c${i}`, n)}\n`;
const overText = (i: number, v: number) => `# Over ${i}\n\nversion ${v}\n\n${filler(`o${i}`, v)}\n`;

interface Tally {
  acked: Record<string, number>;
  lost: number;
  duplicates: number;
  torn: number;
  inFlightAtKill: number;
  failures: string[];
}

class Crashed extends Error {}

/** What the writers know, across kills: the last acknowledged state of each of their notes. */
class Model {
  appended = Array.from({ length: APPENDERS }, () => new Set<number>());
  /** Appends sent but not answered: at most once on disk. */
  appendTried = Array.from({ length: APPENDERS }, () => new Set<number>());
  appendNext = Array.from({ length: APPENDERS }, () => 0);
  created = Array.from({ length: CREATORS }, () => new Set<number>());
  createNext = Array.from({ length: CREATORS }, () => 0);
  overAcked = Array.from({ length: OVERWRITERS }, () => 0);
  edits = Array.from({ length: EDITORS }, () => 0);
}

function fail(t: Tally, what: string): void {
  if (t.failures.length < 20) t.failures.push(what);
}

/** Every invariant of the notes on disk after a kill; the model moves on to what is there. */
function verify(notes: string, trash: string, m: Model, t: Tally): void {
  for (let i = 0; i < APPENDERS; i++) {
    const file = join(notes, 'append', `a${i}.md`);
    const lines = existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
    const seen = new Map<number, number>();
    for (const l of lines) {
      const n = Number(/^A\d+-(\d+) /.exec(l)?.[1] ?? Number.NaN);
      if (!l.startsWith(`A${i}-`) || Number.isNaN(n) || l !== appendLine(i, n)) {
        t.torn++;
        fail(t, `append/a${i}.md: a line that was never sent whole: ${l.slice(0, 60)}`);
        continue;
      }
      seen.set(n, (seen.get(n) ?? 0) + 1);
    }
    for (const [n, c] of seen) {
      if (c > 1) {
        t.duplicates += c - 1;
        fail(t, `append/a${i}.md: line ${n} ${c} times`);
      }
      if (!m.appended[i]!.has(n) && !m.appendTried[i]!.has(n)) fail(t, `append/a${i}.md: line ${n} never sent`);
    }
    for (const n of m.appended[i]!) {
      if (!seen.has(n)) {
        t.lost++;
        fail(t, `append/a${i}.md: acknowledged line ${n} lost`);
      }
    }
    // An append that landed unanswered counts as done from now on (the writer learns it by reading).
    for (const n of m.appendTried[i]!) if (seen.has(n)) m.appended[i]!.add(n);
    m.appendTried[i]!.clear();
  }
  for (let i = 0; i < CREATORS; i++) {
    const dir = join(notes, 'create');
    const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`c${i}-`)) : [];
    for (const f of names) {
      const n = Number(/^c\d+-(\d+)\.md$/.exec(f)?.[1] ?? Number.NaN);
      if (Number.isNaN(n) || readFileSync(join(dir, f), 'utf8') !== createText(i, n)) {
        t.torn++;
        fail(t, `create/${f}: not the text sent`);
      } else m.created[i]!.add(n);
    }
    for (const n of m.created[i]!) {
      if (!names.includes(`c${i}-${n}.md`)) {
        t.lost++;
        fail(t, `create/c${i}-${n}.md: acknowledged, gone`);
      }
    }
  }
  for (let i = 0; i < OVERWRITERS; i++) {
    const text = readFileSync(join(notes, 'over', `o${i}.md`), 'utf8');
    const v = Number(/^version (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
    if (Number.isNaN(v) || text !== overText(i, v)) {
      t.torn++;
      fail(t, `over/o${i}.md: torn`);
    } else if (v < m.overAcked[i]! || v > m.overAcked[i]! + 1) {
      t.lost++;
      fail(t, `over/o${i}.md: version ${v}, acknowledged ${m.overAcked[i]}`);
    } else m.overAcked[i] = v;
  }
  for (let i = 0; i < EDITORS; i++) {
    const text = readFileSync(join(notes, 'edit', `e${i}.md`), 'utf8');
    const count = Number(/^count: (\d+)$/m.exec(text)?.[1] ?? -1);
    const lines = text.split('\n').filter((l) => l.startsWith('line '));
    const inOrder = lines.every((l, n) => l === `line ${n}`);
    if (count !== lines.length || !inOrder) {
      t.torn++;
      fail(t, `edit/e${i}.md: half an edit (count ${count}, ${lines.length} lines)`);
    }
    if (lines.length < m.edits[i]!) {
      t.lost++;
      fail(t, `edit/e${i}.md: ${lines.length} edits on disk, ${m.edits[i]} acknowledged`);
    }
    m.edits[i] = lines.length;
  }
  const places = ['m.md', 'moved/m.md'].filter((p) => existsSync(join(notes, p)));
  if (places.length === 0) {
    t.lost++;
    fail(t, 'the moved note is nowhere');
  }
  for (const p of places) {
    if (readFileSync(join(notes, p), 'utf8') !== MOVED) {
      t.torn++;
      fail(t, `${p}: torn`);
    }
  }
  const inPlace = existsSync(join(notes, 'd.md'));
  const trashed = existsSync(trash) ? readdirSync(trash).map((f) => readFileSync(join(trash, f), 'utf8')) : [];
  if (!inPlace && !trashed.includes(DELETED)) {
    t.lost++;
    fail(t, 'the deleted note is neither in place nor in the trash');
  }
  if (inPlace && readFileSync(join(notes, 'd.md'), 'utf8') !== DELETED) {
    t.torn++;
    fail(t, 'd.md: torn');
  }
}

/** One life of the daemon: writers of every kind until the kill. */
async function life(d: SpawnedDaemon, notes: string, m: Model, t: Tally, killAfterMs: number): Promise<void> {
  const kinds = APPENDERS + CREATORS + OVERWRITERS + EDITORS + 2;
  const clients: BenchClient[] = await Promise.all(
    Array.from({ length: kinds }, (_, i) => connect(ERAS[i % 2]!, d.url, BENCH_TOKEN, `crash-${i}`)),
  );
  let dead = false;
  let killed = false;
  let inFlight = 0;
  const call = async (c: BenchClient, name: string, args: Record<string, unknown>) => {
    if (dead) throw new Crashed();
    inFlight++;
    try {
      return await c.result(name, args, 5_000);
    } catch (err) {
      if (!killed) fail(t, `${c.era} ${name} failed while the daemon was up: ${String(err).slice(0, 200)}`);
      dead = true;
      throw new Crashed();
    } finally {
      inFlight--;
    }
  };
  const expectOk = (r: { isError: boolean }, what: string) => {
    if (r.isError) fail(t, `${what}: refused while the daemon was up`);
  };
  const count = (tool: string) => {
    t.acked[tool] = (t.acked[tool] ?? 0) + 1;
  };
  let c = 0;
  const workers: Array<Promise<void>> = [];
  // Each writer ends at the kill (Crashed) or on a failure, recorded at once.
  const spawnWorker = (fn: () => Promise<void>) =>
    workers.push(
      fn().catch((err: unknown) => {
        if (!(err instanceof Crashed)) fail(t, `a writer failed: ${String(err)}`);
      }),
    );
  for (let i = 0; i < APPENDERS; i++) {
    const cl = clients[c++]!;
    spawnWorker(async () => {
      for (;;) {
        const n = m.appendNext[i]!++;
        m.appendTried[i]!.add(n);
        const r = await call(cl, 'write_note', {
          path: `append/a${i}.md`,
          content: `${appendLine(i, n)}\n`,
          mode: 'append',
        });
        expectOk(r, 'append');
        if (!r.isError) {
          m.appendTried[i]!.delete(n);
          m.appended[i]!.add(n);
          count('write_note append');
        }
      }
    });
  }
  for (let i = 0; i < CREATORS; i++) {
    const cl = clients[c++]!;
    spawnWorker(async () => {
      for (;;) {
        const n = m.createNext[i]!++;
        const r = await call(cl, 'write_note', {
          path: `create/c${i}-${n}.md`,
          content: createText(i, n),
          mode: 'create',
        });
        expectOk(r, 'create');
        if (!r.isError) {
          m.created[i]!.add(n);
          count('write_note create');
        }
      }
    });
  }
  for (let i = 0; i < OVERWRITERS; i++) {
    const cl = clients[c++]!;
    spawnWorker(async () => {
      let hash = (await call(cl, 'read_note', { path: `over/o${i}.md` })).structured?.['hash'];
      for (;;) {
        const v = m.overAcked[i]! + 1;
        const r = await call(cl, 'write_note', {
          path: `over/o${i}.md`,
          content: overText(i, v),
          mode: 'overwrite',
          expected_hash: hash,
        });
        expectOk(r, 'overwrite');
        if (r.isError) return;
        m.overAcked[i] = v;
        hash = r.structured?.['hash'];
        count('write_note overwrite');
      }
    });
  }
  for (let i = 0; i < EDITORS; i++) {
    const cl = clients[c++]!;
    spawnWorker(async () => {
      let hash = (await call(cl, 'read_note', { path: `edit/e${i}.md` })).structured?.['hash'];
      for (;;) {
        const n = m.edits[i]!;
        const r = await call(cl, 'edit_note', {
          path: `edit/e${i}.md`,
          expected_hash: hash,
          operations: [
            { op: 'append', text: `line ${n}\n` },
            { op: 'replace', old: `count: ${n}\n`, new: `count: ${n + 1}\n` },
          ],
        });
        expectOk(r, 'edit');
        if (r.isError) return;
        m.edits[i] = n + 1;
        hash = r.structured?.['hash'];
        count('edit_note');
      }
    });
  }
  const mover = clients[c++]!;
  spawnWorker(async () => {
    for (;;) {
      const here = existsSync(join(notes, 'm.md')) ? 'm.md' : 'moved/m.md';
      const r = await call(mover, 'move_note', { from: here, to: here === 'm.md' ? 'moved/m.md' : 'm.md' });
      if (!r.isError) count('move_note');
      else await new Promise((res) => setTimeout(res, 20));
    }
  });
  const deleter = clients[c++]!;
  spawnWorker(async () => {
    for (;;) {
      const there = existsSync(join(notes, 'd.md'));
      const r = await call(deleter, there ? 'delete_note' : 'restore_note', { path: 'd.md' });
      if (!r.isError) count(there ? 'delete_note' : 'restore_note');
      else await new Promise((res) => setTimeout(res, 20));
    }
  });
  await new Promise((r) => setTimeout(r, killAfterMs));
  if (inFlight > 0) t.inFlightAtKill++;
  killed = true;
  await d.kill('SIGKILL');
  dead = true;
  await Promise.all(workers);
  await Promise.allSettled(clients.map((x) => x.close()));
}

interface IndexView {
  notes: Map<string, string>;
  chunks: string[];
  results: Map<string, Ranked[]>;
  /** How the saved HNSW graph opened: 'loaded' when it matches the stored vectors. */
  graph: string;
}

interface Ranked {
  hit: string;
  score: number;
}

/**
 * Two ranked lists are the same when they hold the same hits in the same order, hits of equal
 * score in any order among themselves: ties are ordered by chunk id, which depends on the order
 * notes were indexed in (two overwriters' notes that differ by one digit score alike). At the
 * cut-off the last tie may be cut differently, so only its size counts there. Scores must match
 * too: the answers come from the same data searched exactly (see viewIndex).
 */
function sameRanking(a: readonly Ranked[], b: readonly Ranked[]): boolean {
  if (a.length !== b.length) return false;
  if (a.some((x, i) => Math.abs(x.score - (b[i]?.score ?? Number.NaN)) > 1e-9)) return false;
  for (let i = 0; i < a.length; ) {
    let j = i + 1;
    while (j < a.length && Math.abs(a[j]!.score - a[i]!.score) <= 1e-9) j++;
    const mine = a.slice(i, j).map((x) => x.hit);
    const theirs = b.slice(i, j).map((x) => x.hit);
    if (j < a.length && mine.sort().join() !== theirs.sort().join()) return false;
    i = j;
  }
  return true;
}

/**
 * What an index holds, opened read-only: note hashes, chunk texts, answers to the queries, and
 * whether its saved graph matches its vectors. The queries run on a copy without the graph, so
 * vector search is exact: HNSW is approximate, and a graph grown through deletes and moves
 * finds a slightly different 200 candidates than a fresh one, which moves hybrid scores (the
 * cosine floor is the weakest candidate's) on two indexes holding the same data.
 */
async function viewIndex(notes: string, state: string, scratch: string): Promise<IndexView> {
  const configOf = (s: string) =>
    loadConfig({ env: { HOME: s }, flags: { notes, state: s, model: 'bundled', logLevel: 'silent' } });
  const config = configOf(state);
  const embedder = await openEmbedder({ model: 'bundled', modelsDir: config.modelsDir, log: silentLogger() });
  try {
    const saved = await NotesIndex.open({ config, embedder, log: silentLogger(), readOnly: true });
    const graph = saved.status().vectorIndex;
    await saved.close();
    const copyState = mkdtempSync(join(scratch, 'view-'));
    const copy = configOf(copyState);
    cpSync(config.indexDir, copy.indexDir, { recursive: true, filter: (p) => !basename(p).startsWith('vectors.hnsw') });
    const index = await NotesIndex.open({ config: copy, embedder, log: silentLogger(), readOnly: true });
    try {
      if (index.status().vectorIndex.loaded !== 'exact') throw new Error('the graph-less copy did not search exactly');
      const noteMap = new Map([...index.noteStates()].map(([p, s]) => [p, s.hash]));
      const records = index.chunks([...index.chunkIdsMatching({})]);
      const chunks = [...records.values()].map((r) => `${r.path}#${r.seq}\n${r.text}`).sort();
      const results: IndexView['results'] = new Map();
      for (const q of QUERIES) {
        for (const mode of ['bm25', 'hybrid'] as const) {
          const r = await search(index, q, { k: 10, mode });
          results.set(
            `${mode}: ${q}`,
            r.hits.map((h) => ({ hit: `${h.path}:${h.startLine}-${h.endLine}`, score: h.score })),
          );
        }
      }
      return { notes: noteMap, chunks, results, graph: `${graph.loaded} (${graph.reason})` };
    } finally {
      await index.close();
    }
  } finally {
    await embedder.dispose();
  }
}

function compareIndexes(healed: IndexView, fresh: IndexView): string[] {
  const diffs: string[] = [];
  const keys = new Set([...healed.notes.keys(), ...fresh.notes.keys()]);
  for (const k of keys) {
    if (healed.notes.get(k) !== fresh.notes.get(k))
      diffs.push(`note ${k}: ${healed.notes.get(k)} vs ${fresh.notes.get(k)}`);
  }
  const a = new Set(healed.chunks);
  const b = new Set(fresh.chunks);
  const onlyA = healed.chunks.filter((x) => !b.has(x)).length;
  const onlyB = fresh.chunks.filter((x) => !a.has(x)).length;
  if (onlyA + onlyB > 0) diffs.push(`chunks: ${onlyA} only in the healed index, ${onlyB} only in the rebuild`);
  if (!healed.graph.startsWith('loaded')) diffs.push(`the healed index's saved graph did not load: ${healed.graph}`);
  for (const [q, hits] of healed.results) {
    const other = fresh.results.get(q) ?? [];
    if (!sameRanking(hits, other)) {
      const show = (l: typeof hits) => l.map((x) => `${x.hit}=${x.score.toFixed(4)}`).join(' ');
      diffs.push(`search "${q}" differs: ${show(hits)} vs ${show(other)}`);
    }
  }
  return diffs;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'notes-mcp-bench-crash-'));
  try {
    const notes = join(tmp, 'notes');
    const state = join(tmp, 'state');
    mkdirSync(state);
    // Real notes around the ones written, so indexing and search have work to do.
    const corpus = join(tmp, 'corpus');
    mkdirSync(corpus);
    unpackCorpus('tldr-en', corpus);
    mkdirSync(join(notes, 'tldr'), { recursive: true });
    for (const f of readdirSync(join(corpus, 'pages', 'common'))
      .sort()
      .slice(0, 300)) {
      cpSync(join(corpus, 'pages', 'common', f), join(notes, 'tldr', f));
    }
    mkdirSync(join(notes, 'over'));
    mkdirSync(join(notes, 'edit'));
    const write = (rel: string, text: string) => writeFileSync(join(notes, rel), text);
    for (let i = 0; i < OVERWRITERS; i++) write(`over/o${i}.md`, overText(i, 0));
    for (let i = 0; i < EDITORS; i++) write(`edit/e${i}.md`, `# Editor ${i}\n\ncount: 0\n`);
    write('m.md', MOVED);
    write('d.md', DELETED);
    const trash = join(
      loadConfig({ env: { HOME: state }, flags: { notes, state, model: 'bundled' } }).historyDir,
      'trash',
    );

    const m = new Model();
    const t: Tally = { acked: {}, lost: 0, duplicates: 0, torn: 0, inFlightAtKill: 0, failures: [] };
    const t0 = performance.now();
    const killAt: number[] = [];
    let restartMs = 0;
    for (let k = 0; k < KILLS; k++) {
      const s0 = performance.now();
      const d = await spawnDaemon({ notes, state });
      restartMs += performance.now() - s0;
      // Mostly within the first second of writing, sometimes later: early kills land in the
      // daemon's own start-up work (watcher, index refresh) as well as in writes.
      const after = rand() < 0.8 ? between(30, 900) : between(900, 3000);
      killAt.push(after);
      await life(d, notes, m, t, after);
      verify(notes, trash, m, t);
      if ((k + 1) % 10 === 0 || k + 1 === KILLS) {
        process.stderr.write(
          `  ${k + 1}/${KILLS} kills, ${Object.values(t.acked).reduce((a, b) => a + b, 0)} acknowledged, ` +
            `${t.lost} lost, ${t.duplicates} duplicated, ${t.torn} torn\n`,
        );
      }
    }
    // The last restart heals the index; a clean stop saves it. Then rebuild from the notes.
    const last = await spawnDaemon({ notes, state });
    const strays = readdirSync(notes, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.includes('.notes-mcp-tmp-'),
    );
    await last.kill('SIGTERM');
    const fresh = join(tmp, 'fresh');
    mkdirSync(fresh);
    execFileSync(process.execPath, [BIN, 'index', '--notes', notes, '--state', fresh, '--model', 'bundled'], {
      env: { ...process.env, HOME: fresh, NOTES_MCP_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const healed = await viewIndex(notes, state, tmp);
    const diffs = compareIndexes(healed, await viewIndex(notes, fresh, tmp));

    const acked = Object.values(t.acked).reduce((a, b) => a + b, 0);
    const ok = t.lost === 0 && t.duplicates === 0 && t.torn === 0 && diffs.length === 0 && strays.length === 0;
    console.log(`# notes-mcp crash bench, ${new Date().toISOString()}, seed ${SEED}`);
    console.log(
      `${KILLS} SIGKILLs of \`notes-mcp serve\`, ${((performance.now() - t0) / 1000).toFixed(0)} s; each life: ` +
        `${APPENDERS} appenders, ${CREATORS} creators, ${OVERWRITERS} overwriters (expected_hash), ${EDITORS} editors, ` +
        `a mover, a deleter/restorer, clients alternating 2025-11-25 / 2026-07-28; kill after ${Math.min(...killAt)}-` +
        `${Math.max(...killAt)} ms of writing (median ${[...killAt].sort((a, b) => a - b)[killAt.length >> 1]} ms); ` +
        `300 tldr pages around them; restart to serving ${(restartMs / KILLS / 1000).toFixed(1)} s on average`,
    );
    console.log('');
    const rows: Array<[string, string, string]> = [
      [
        'acknowledged changes',
        Object.entries(t.acked)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '0',
        '',
      ],
      ['kills with a call in flight', `${t.inFlightAtKill} of ${KILLS}`, ''],
      ['acknowledged writes lost', String(t.lost), t.lost === 0 ? 'met (0)' : 'MISSED (0)'],
      ['duplicated appends', String(t.duplicates), t.duplicates === 0 ? 'met (0)' : 'MISSED (0)'],
      ['torn files', String(t.torn), t.torn === 0 ? 'met (0)' : 'MISSED (0)'],
      ['temp files left after the restart', String(strays.length), strays.length === 0 ? 'met (0)' : 'MISSED (0)'],
      [
        'index after the last restart vs a fresh rebuild',
        diffs.length === 0
          ? `same ${healed.notes.size} notes, ${healed.chunks.length} chunk texts, ${healed.results.size} searches (scores too, vectors searched exactly); the healed graph loads`
          : diffs.join('; '),
        diffs.length === 0 ? 'met (equal)' : 'MISSED (equal)',
      ],
    ];
    const w = [0, 1, 2].map((i) =>
      Math.max(...rows.map((r) => r[i]!.length), ['what', 'measured', 'target'][i]!.length),
    );
    const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
    console.log(line(['what', 'measured', 'target']));
    console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
    void acked;
    if (t.failures.length > 0) console.log(`\nfirst failures:\n${t.failures.map((f) => `- ${f}`).join('\n')}`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    if (values.keep) process.stderr.write(`kept the notes and both state folders in ${tmp}\n`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:crash failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
