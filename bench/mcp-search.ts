// search() in process, without HTTP or MCP: CPU per call (whole process, and the main thread
// alone), garbage collections per 1,000 calls, and a digest of every result, so that a change
// to src/search/ can be shown to cost less and to return the same hits. The queries are
// bench:mcp's (the eval questions in four spellings, k 8, one per note); the index is
// bench:mcp's cached tldr-en index (run `npm run bench:mcp -- --quick` once to build it).
//   npm run bench:mcp-search [-- --rounds 3] [-- --late-depth 40]   (late interaction on fewer passages)
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_CHUNK_OPTIONS } from '../src/chunk/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { openEmbedder } from '../src/embed/index.ts';
import { NotesIndex } from '../src/index/index.ts';
import { silentLogger } from '../src/log.ts';
import { search, warmSearch } from '../src/search/index.ts';
import { QUESTIONS_FILE } from './lib/paths.ts';
import { CACHE_ROOT } from './mcp/plan.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, 'late-depth': { type: 'string' } },
});
const rounds = z.coerce.number().int().min(1).max(20).parse(values.rounds);
const lateDepth = z.coerce.number().int().min(1).max(400).optional().parse(values['late-depth']);
const fusion = lateDepth === undefined ? {} : { fusion: { lateDepth } };

const qs = z
  .array(z.object({ q: z.string().min(1) }))
  .parse(JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8')))
  .map((x) => x.q);
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const queries = [...qs, ...qs.map((q) => `${q}?`), ...qs.map(cap), ...qs.map((q) => `${cap(q)}?`)];

const root = join(CACHE_ROOT, 'tldr-en');
const state = join(root, `state-t${DEFAULT_CHUNK_OPTIONS.maxTokens}`);
if (!existsSync(join(state, 'bench-complete'))) {
  throw new Error(`no cached index in ${state}: run \`npm run bench:mcp -- --quick\` once first`);
}
const config = loadConfig({
  env: { HOME: state },
  flags: { notes: join(root, 'notes'), state, model: 'bundled', logLevel: 'silent' },
});
const log = silentLogger();
const embedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
const index = await NotesIndex.open({ config, embedder, log });
await index.sync();
await warmSearch(index);

let gcs = 0;
const obs = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});
obs.observe({ entryTypes: ['gc'] });

async function pass(): Promise<{ cpu: number; main: number; gc: number; digest: string }> {
  const hash = createHash('sha256');
  const g0 = gcs;
  const c0 = process.cpuUsage();
  const m0 = process.threadCpuUsage();
  for (const q of queries) {
    const r = await search(index, q, { k: 8, onePerNote: true, ...fusion });
    hash.update(JSON.stringify([r.hits, r.hasMore, r.nextOffset]));
  }
  const c = process.cpuUsage(c0);
  const m = process.threadCpuUsage(m0);
  // GC entries are delivered asynchronously: let them arrive before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const n = queries.length;
  return {
    cpu: (c.user + c.system) / 1000 / n,
    main: (m.user + m.system) / 1000 / n,
    gc: ((gcs - g0) * 1000) / n,
    digest: hash.digest('hex').slice(0, 16),
  };
}

await pass(); // JIT and query vectors of this order: every measured pass embeds as the first did
console.log(
  `search() in process on ${index.status().chunks} chunks, ${queries.length} queries a pass, k 8, one per note${lateDepth === undefined ? '' : `, late interaction on the top ${lateDepth}`}; ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
);
console.log('| pass | CPU/call, process (ms) | CPU/call, main thread (ms) | GCs per 1,000 calls | results digest |');
console.log('| ---: | ---: | ---: | ---: | --- |');
for (let i = 1; i <= rounds; i++) {
  const p = await pass();
  console.log(`| ${i} | ${p.cpu.toFixed(3)} | ${p.main.toFixed(3)} | ${p.gc.toFixed(0)} | ${p.digest} |`);
}
obs.disconnect();
await index.close();
await embedder.dispose();
