// Search quality on real notes, judged the way users meet it: natural-language questions
// whose words differ from the notes' (bench/eval/tldr-en-questions.json). Prints hit@10 and
// MRR@10 over distinct notes for BM25 alone, vectors alone and the fusion variants, side by
// side, plus latency. Run: npm run bench:quality [-- --model bundled|auto|<id>]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../src/config/index.ts';
import { openEmbedder } from '../src/embed/index.ts';
import { NotesIndex } from '../src/index/index.ts';
import { silentLogger } from '../src/log.ts';
import { type FusionOptions, rankChunks, type SearchMode } from '../src/search/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const Questions = z.array(
  z.object({
    id: z.string(),
    q: z.string(),
    answers: z.array(z.string()).min(1),
    kind: z.enum(['paraphrase', 'exact']),
  }),
);

interface Variant {
  name: string;
  mode: SearchMode;
  bm25Engine?: 'memory' | 'fts5';
  fusion?: Partial<FusionOptions>;
}

const VARIANTS: Variant[] = [
  { name: 'bm25', mode: 'bm25' },
  { name: 'bm25 (SQLite FTS5)', mode: 'bm25', bm25Engine: 'fts5' },
  { name: 'hybrid (FTS5 BM25)', mode: 'hybrid', bm25Engine: 'fts5' },
  { name: 'vector', mode: 'vector' },
  { name: 'hybrid (default)', mode: 'hybrid' },
  { name: 'rrf k=60', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 60, bm25Weight: 1 } },
  { name: 'rrf k=20', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 20, bm25Weight: 1 } },
  { name: 'rrf k=60 bm25x2', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 60, bm25Weight: 2 } },
  { name: 'rrf k=60 bm25x0.5', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 60, bm25Weight: 0.5 } },
  { name: 'rrf k=60 bm25x1.5', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 60, bm25Weight: 1.5 } },
  { name: 'rrf k=60 bm25x3', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 60, bm25Weight: 3 } },
  { name: 'rrf k=30 bm25x2', mode: 'hybrid', fusion: { method: 'rrf', rrfK: 30, bm25Weight: 2 } },
  { name: 'score bm25x2', mode: 'hybrid', fusion: { method: 'score', bm25Weight: 2 } },
  { name: 'score bm25x1.5', mode: 'hybrid', fusion: { method: 'score', bm25Weight: 1.5 } },
  { name: 'score bm25x3', mode: 'hybrid', fusion: { method: 'score', bm25Weight: 3 } },
  { name: 'score bm25x1', mode: 'hybrid', fusion: { method: 'score', bm25Weight: 1 } },
  { name: 'score bm25x0.5', mode: 'hybrid', fusion: { method: 'score', bm25Weight: 0.5 } },
  { name: 'score bm25x0.3', mode: 'hybrid', fusion: { method: 'score', bm25Weight: 0.3 } },
];

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'bundled' },
      only: { type: 'string' },
      'max-tokens': { type: 'string' },
      overlap: { type: 'string' },
    },
  });
  const chunkOptions = {
    ...(values['max-tokens'] ? { maxTokens: Number(values['max-tokens']) } : {}),
    ...(values.overlap ? { overlapTokens: Number(values.overlap) } : {}),
  };
  const questions = Questions.parse(
    JSON.parse(readFileSync(join(ROOT, 'bench', 'eval', 'tldr-en-questions.json'), 'utf8')),
  );
  const work = mkdtempSync(join(tmpdir(), 'notes-mcp-quality-'));
  try {
    execFileSync('tar', [
      '-xzf',
      join(process.env.NOTES_MCP_CORPORA ?? join(ROOT, '..', 'shared', 'corpora'), 'tldr-en.tar.gz'),
      '-C',
      work,
    ]);
    const config = loadConfig({
      env: { HOME: work },
      flags: { notes: work, state: join(work, '.state'), model: values.model },
    });
    const log = silentLogger();
    const embedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
    const index = await NotesIndex.open({ config, embedder, log, chunkOptions });
    const t0 = performance.now();
    const s = await index.sync();
    process.stderr.write(
      `indexed ${s.notes} notes, ${s.chunks} chunks in ${((performance.now() - t0) / 1000).toFixed(1)} s (${embedder.modelId})\n`,
    );

    const rows: string[][] = [];
    for (const v of VARIANTS.filter((x) => !values.only || x.name.includes(values.only))) {
      const stats = { paraphrase: { hit: 0, rr: 0, n: 0 }, exact: { hit: 0, rr: 0, n: 0 } };
      const times: number[] = [];
      for (const q of questions) {
        const t1 = performance.now();
        const ranked = await rankChunks(index, q.q, {
          k: 10,
          onePerNote: true,
          mode: v.mode,
          fusion: v.fusion,
          bm25Engine: v.bm25Engine,
        });
        times.push(performance.now() - t1);
        const chunks = index.chunks(ranked.slice(0, 200).map((r) => r.id));
        const notes: string[] = [];
        for (const r of ranked) {
          const p = chunks.get(r.id)?.path;
          if (p && !notes.includes(p)) notes.push(p);
          if (notes.length === 10) break;
        }
        const rank = notes.findIndex((p) => q.answers.includes(p));
        const st = stats[q.kind];
        st.n++;
        if (rank >= 0) {
          st.hit++;
          st.rr += 1 / (rank + 1);
        }
      }
      const all = {
        hit: stats.paraphrase.hit + stats.exact.hit,
        rr: stats.paraphrase.rr + stats.exact.rr,
        n: questions.length,
      };
      const f = (x: number, n: number) => (n ? (x / n).toFixed(3) : '-');
      rows.push([
        v.name,
        f(stats.paraphrase.hit, stats.paraphrase.n),
        f(stats.paraphrase.rr, stats.paraphrase.n),
        f(stats.exact.hit, stats.exact.n),
        f(stats.exact.rr, stats.exact.n),
        f(all.hit, all.n),
        f(all.rr, all.n),
        pct(times, 50).toFixed(1),
        pct(times, 99).toFixed(1),
      ]);
    }
    const head = [
      'method',
      'para hit@10',
      'para MRR',
      'exact hit@10',
      'exact MRR',
      'all hit@10',
      'all MRR',
      'p50 ms',
      'p99 ms',
    ];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(
      `\nSearch quality on tldr-en (${questions.length} questions: ${questions.filter((q) => q.kind === 'paraphrase').length} paraphrased, ${questions.filter((q) => q.kind === 'exact').length} exact), model ${embedder.modelId}`,
    );
    console.log(line(head));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
    await index.close();
    await embedder.dispose();
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
