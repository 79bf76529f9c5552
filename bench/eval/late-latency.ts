// What word-level late interaction costs a query (src/search/late.ts), against the same
// hybrid search without it, in one process: the 218 hand-written questions, rankChunks
// (hybrid, k 10). "cold" is the first pass over them in a fresh process (their passages' words
// meet the word table for the first time while the background warm-up fills it), "warm" the
// next pass. Run after npx tsc -p tsconfig.json:
//   node dist/bench/eval/late-latency.js [--corpus tldr-all --max-tokens 64] [--depth 50]
//     [--prewarm]: first await warmSearch (what a daemon can do after its first sync)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../../src/config/index.ts';
import { openEmbedder } from '../../src/embed/index.ts';
import { NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { rankChunks, warmSearch } from '../../src/search/index.ts';
import { unpackCorpus } from '../lib/corpus.ts';
import { QUESTIONS_FILE } from '../lib/paths.ts';
import { percentile } from '../lib/percentile.ts';

const { values } = parseArgs({
  options: {
    corpus: { type: 'string', default: 'tldr-en' },
    'max-tokens': { type: 'string' },
    depth: { type: 'string' },
    prewarm: { type: 'boolean', default: false },
  },
});
const corpus = z.enum(['tldr-en', 'tldr-all']).parse(values.corpus);
const questions = z
  .array(z.object({ q: z.string() }))
  .parse(JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8')))
  .map((x) => x.q);
const work = mkdtempSync(join(tmpdir(), 'notes-mcp-late-latency-'));
try {
  unpackCorpus(corpus, work);
  const config = loadConfig({
    env: { HOME: work },
    flags: { notes: work, state: join(work, '.state'), model: 'bundled' },
  });
  const log = silentLogger();
  const embedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
  const maxTokens = values['max-tokens'] ? Number(values['max-tokens']) : undefined;
  const index = await NotesIndex.open({ config, embedder, log, ...(maxTokens ? { chunkOptions: { maxTokens } } : {}) });
  const s = await index.sync();
  for (let i = 0; i < 2400 && !index.lexical; i++) await new Promise((r) => setTimeout(r, 50));
  const depth = values.depth ? { lateDepth: Number(values.depth) } : {};
  const pass = async (fusion: { lateWeight?: number; lateDepth?: number }) => {
    const t: number[] = [];
    for (const q of questions) {
      const t0 = performance.now();
      await rankChunks(index, q, { k: 10, fusion });
      t.push(performance.now() - t0);
    }
    return `p50 ${percentile(t, 50).toFixed(1)} / p95 ${percentile(t, 95).toFixed(1)} / p99 ${percentile(t, 99).toFixed(1)} ms`;
  };
  await pass({ lateWeight: 0 }); // query vectors cached, code warm: the baseline is warm too
  const baseline = await pass({ lateWeight: 0 });
  let warmed = '';
  if (values.prewarm) {
    const t0 = performance.now();
    await warmSearch(index);
    warmed = `, after warmSearch (${((performance.now() - t0) / 1000).toFixed(1)} s)`;
  }
  const cold = await pass(depth);
  const warm = await pass(depth);
  console.log(
    `\n${corpus}, ${s.chunks} chunks, ${questions.length} questions, late interaction on the top ${values.depth ?? 'default'}${warmed}`,
  );
  console.log('| hybrid without late interaction (baseline) | with, first pass (cold) | with, second pass (warm) |');
  console.log('|---|---|---|');
  console.log(`| ${baseline} | ${cold} | ${warm} |`);
  await index.close();
  await embedder.dispose();
} finally {
  rmSync(work, { recursive: true, force: true });
}
