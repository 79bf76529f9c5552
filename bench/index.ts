// The knowledge-index benchmark: one table, each figure next to a baseline measured in the
// same run. Run: npm run bench:index [-- --quick]
//   indexing throughput (tldr-en, tldr-all) vs the embedder alone on the same texts
//   search latency at ~10k and ~100k chunks: hybrid, HNSW, exact brute force; HNSW recall@10
//   re-index of an unchanged vault vs the scan alone; boot-to-ready; save-to-searchable; RSS
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chunkNote, DEFAULT_CHUNK_OPTIONS } from '../src/chunk/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { openEmbedder } from '../src/embed/index.ts';
import type { Embedder } from '../src/embed/types.ts';
import { NotesIndex, type SyncSummary } from '../src/index/index.ts';
import { silentLogger } from '../src/log.ts';
import { scanNotes, watchNotes } from '../src/notes/index.ts';
import { search } from '../src/search/index.ts';
import { unpackCorpus } from './lib/corpus.ts';
import { QUESTIONS_FILE } from './lib/paths.ts';
import { percentile } from './lib/percentile.ts';

const log = silentLogger();
const QUERIES = (JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8')) as Array<{ q: string }>).map((x) => x.q);

type Row = [metric: string, value: string, baseline: string, target: string];
const rows: Row[] = [];
const row = (...r: Row) => {
  rows.push(r);
  process.stderr.write(`  ${r[0]}: ${r[1]}  (baseline ${r[2]})\n`);
};

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const lat = (xs: number[]) =>
  `p50 ${ms(percentile(xs, 50))} / p95 ${ms(percentile(xs, 95))} / p99 ${ms(percentile(xs, 99))}`;

function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

function open(notes: string, state: string, embedder: Embedder, maxTokens?: number): Promise<NotesIndex> {
  const config = loadConfig({ env: { HOME: state }, flags: { notes, state, model: 'bundled' } });
  return NotesIndex.open({ config, embedder, log, ...(maxTokens ? { chunkOptions: { maxTokens } } : {}) });
}

async function indexRun(
  label: string,
  notes: string,
  state: string,
  embedder: Embedder,
  maxTokens?: number,
): Promise<NotesIndex> {
  const index = await open(notes, state, embedder, maxTokens);
  const s: SyncSummary = await index.sync();
  const t = s.timings;
  // Baseline: the embedder alone over the same embed texts, in batches of 64, no I/O or SQLite.
  const files = (await scanNotes(notes, { include: ['**/*.md'], exclude: [] })).slice(0, 2500);
  const texts = files.flatMap((f) =>
    chunkNote(readFileSync(f.absPath, 'utf8'), f.path, {
      ...DEFAULT_CHUNK_OPTIONS,
      ...(maxTokens ? { maxTokens } : {}),
    }).chunks.map((c) => c.embedText),
  );
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += 64) await embedder.embed(texts.slice(i, i + 64));
  const embedOnly = texts.length / ((performance.now() - t0) / 1000);
  row(
    `index ${label} from scratch (${s.notes} notes, ${s.chunks} chunks)`,
    `${s.seconds.toFixed(1)} s: ${(s.notes / s.seconds).toFixed(0)} notes/s, ${(s.chunks / s.seconds).toFixed(0)} chunks/s`,
    `embedder alone ${embedOnly.toFixed(0)} chunks/s`,
    'limited by embedding',
  );
  const main = t.readMs + t.parseMs + t.dbMs + t.vectorMs;
  row(
    `  split (${label})`,
    `scan ${(t.scanMs / 1000).toFixed(1)} s, read ${(t.readMs / 1000).toFixed(1)} s, parse ${(t.parseMs / 1000).toFixed(1)} s, SQLite ${(t.dbMs / 1000).toFixed(1)} s, HNSW ${(t.vectorMs / 1000).toFixed(1)} s`,
    `embedding (overlapped) ${(s.embedded / embedOnly).toFixed(1)} s of model time; main thread ${(main / 1000).toFixed(1)} s`,
    '',
  );
  return index;
}

async function searchRun(label: string, index: NotesIndex, n: number): Promise<void> {
  const qs = Array.from({ length: n }, (_, i) => QUERIES[i % QUERIES.length]!);
  for (const q of qs.slice(0, 20)) await search(index, q, { k: 10 }); // warm caches
  const hybrid: number[] = [];
  for (const q of qs) {
    const t0 = performance.now();
    await search(index, `${q} `, { k: 10 }); // trailing space: miss the query-vector cache
    hybrid.push(performance.now() - t0);
  }
  const vecs = await index.embedder.embed(qs.slice(0, 100));
  const hnsw: number[] = [];
  const exact: number[] = [];
  let recall = 0;
  for (const v of vecs) {
    let t0 = performance.now();
    const a = await index.vectors.search(v, 10);
    hnsw.push(performance.now() - t0);
    t0 = performance.now();
    const b = index.vectors.exact(v, 10);
    exact.push(performance.now() - t0);
    const truth = new Set(b.map((x) => x.id));
    recall += a.filter((x) => truth.has(x.id)).length / Math.max(1, truth.size);
  }
  const chunks = index.vectors.size;
  row(
    `search hybrid @${label} (${chunks} chunks), query embedding included`,
    lat(hybrid),
    '',
    label.includes('100k') ? 'p99 <= 20 ms' : '',
  );
  row(`search vector HNSW @${label}`, lat(hnsw), `exact brute force ${lat(exact)}`, '');
  row(
    `HNSW recall@10 @${label}`,
    (recall / vecs.length).toFixed(4),
    'exact = 1.0000',
    label.includes('100k') ? '>= 0.98' : '',
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, 'large-max-tokens': { type: 'string', default: '64' } },
  });
  const work = mkdtempSync(join(tmpdir(), 'notes-mcp-bench-index-'));
  const started = new Date().toISOString();
  try {
    const embedder = await openEmbedder({ model: 'bundled', modelsDir: join(work, 'models'), log });
    process.stderr.write('tldr-en…\n');
    const en = unpackCorpus('tldr-en', mkdir(join(work, 'en')));
    const enIndex = await indexRun('tldr-en', en, join(work, 'state-en'), embedder);
    await searchRun('10k', enIndex, values.quick ? 100 : 400);
    await enIndex.close();

    if (!values.quick) {
      process.stderr.write('tldr-all…\n');
      const all = unpackCorpus('tldr-all', mkdir(join(work, 'all')));
      const stateAll = join(work, 'state-all');
      let allIndex = await indexRun('tldr-all', all, stateAll, embedder);

      // Re-index of the unchanged vault, against the scan alone.
      let t0 = performance.now();
      await scanNotes(all, { include: ['**/*.md', '**/*.markdown'], exclude: [] });
      const scanOnly = performance.now() - t0;
      t0 = performance.now();
      const again = await allIndex.sync();
      row(
        `re-index unchanged tldr-all (${again.unchanged} unchanged)`,
        `${((performance.now() - t0) / 1000).toFixed(2)} s`,
        `scan alone ${(scanOnly / 1000).toFixed(2)} s`,
        '<= 3 s',
      );

      // Save-to-searchable through the real watcher.
      const lags: number[] = [];
      const watcher = await watchNotes(all, {
        include: ['**/*.md'],
        exclude: [],
        skipDirs: [stateAll],
        debounceMs: 200,
        onBatch: async (b) => {
          await allIndex.apply(b);
        },
      });
      await new Promise((r) => setTimeout(r, 3000));
      const target = join(all, 'pages', 'common', 'tar.md');
      for (let i = 0; i < 5; i++) {
        const word = `zqxmarker${i}word`;
        const t1 = performance.now();
        appendFileSync(target, `\n- ${word} example:\n\n\`tar ${word}\`\n`);
        for (;;) {
          const r = await search(allIndex, word, { k: 1, mode: 'bm25' });
          if (r.hits[0]?.path === 'pages/common/tar.md') break;
          if (performance.now() - t1 > 10_000) throw new Error('edit never became searchable');
          await new Promise((res) => setTimeout(res, 10));
        }
        lags.push(performance.now() - t1);
        await new Promise((r) => setTimeout(r, 300));
      }
      await watcher.close();
      row(
        'save-to-searchable, one edited note (watcher + index)',
        `p50 ${ms(percentile(lags, 50))}, max ${ms(Math.max(...lags))}`,
        'watcher debounce 200 ms',
        '<= 1 s',
      );
      await allIndex.close();

      // Boot-to-ready with the index persisted: model + database + graph load + checksum.
      t0 = performance.now();
      const e2 = await openEmbedder({ model: 'bundled', modelsDir: join(work, 'models'), log });
      const modelMs = performance.now() - t0;
      allIndex = await open(all, stateAll, e2);
      const bootMs = performance.now() - t0;
      await allIndex.idle(); // the in-memory BM25 index builds in the background after boot
      const bm25Ms = performance.now() - t0 - bootMs;
      row(
        `boot-to-ready, tldr-all persisted (${allIndex.vectors.size} vectors, ${allIndex.status().vectorIndex.loaded})`,
        `${ms(bootMs)}, then ${ms(bm25Ms)} building BM25 in memory (FTS5 answers meanwhile)`,
        `model load alone ${ms(modelMs)}`,
        '<= 2 s',
      );
      await allIndex.close();
      await e2.dispose();

      // ~100k chunks: the same corpus cut into smaller chunks.
      process.stderr.write('tldr-all at ~100k chunks…\n');
      const big = await indexRun(
        'tldr-all small chunks',
        all,
        join(work, 'state-big'),
        embedder,
        Number(values['large-max-tokens']),
      );
      await searchRun('100k', big, 1000);
      await big.close();
    }
    await embedder.dispose();

    const rss = process.resourceUsage().maxRSS / 1024;
    row('peak RSS of this process', `${rss.toFixed(0)} MB`, '', '');
    const head: Row = ['metric', 'value', 'baseline (same run)', 'target'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(
      `\nnotes-mcp index benchmark, ${started}, ${cpus().length} cores, Node ${process.version}, bundled model`,
    );
    console.log(line(head));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
