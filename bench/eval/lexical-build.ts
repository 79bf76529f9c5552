// What one BM25 engine costs the read-only CLI: `notes-mcp search` opens the index read-only
// and, having no in-memory BM25 index of its own, builds one from the stored chunks before its
// first query (src/search/search.ts, lexicalOf), or loads the snapshot the writer saved.
// Prints, per corpus, both next to the baseline they replace (the same query answered by
// SQLite FTS5) and to opening the index.
// Run: npx tsc -p tsconfig.json && node dist/bench/eval/lexical-build.js [tldr-en tldr-all]
import { mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { openEmbedder } from '../../src/embed/index.ts';
import { indexFiles, NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { type CorpusName, unpackCorpus } from '../lib/corpus.ts';
import { rankChunks } from '../../src/search/index.ts';

const QUERY = 'list the files in a directory sorted by size';

async function measure(corpus: CorpusName): Promise<string[]> {
  const work = mkdtempSync(join(tmpdir(), 'notes-mcp-lexbuild-'));
  try {
    unpackCorpus(corpus, work);
    const config = loadConfig({
      env: { HOME: work },
      flags: { notes: work, state: join(work, '.state'), model: 'bundled' },
    });
    const log = silentLogger();
    const embedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
    const writer = await NotesIndex.open({ config, embedder, log });
    const s = await writer.sync();
    for (let i = 0; i < 2400 && !writer.lexical; i++) await new Promise((r) => setTimeout(r, 50));
    let t = performance.now();
    writer.saveLexicalSnapshot();
    const saveMs = performance.now() - t;
    await writer.close();
    const snapshot = indexFiles(config.indexDir).lexical;
    const bytes = statSync(snapshot).size;
    // Without the snapshot: the CLI builds the index from the stored chunks.
    renameSync(snapshot, `${snapshot}.away`);
    const rss0 = process.memoryUsage().rss;
    t = performance.now();
    let cli = await NotesIndex.open({ config, embedder, log, readOnly: true });
    const openMs = performance.now() - t;
    t = performance.now();
    await rankChunks(cli, QUERY, { mode: 'bm25', bm25Engine: 'fts5' });
    const ftsMs = performance.now() - t;
    t = performance.now();
    await rankChunks(cli, QUERY, { mode: 'bm25' });
    const buildMs = performance.now() - t;
    const rss1 = process.memoryUsage().rss;
    t = performance.now();
    await rankChunks(cli, QUERY, { mode: 'bm25' });
    const nextMs = performance.now() - t;
    await cli.close();
    // With it: the CLI loads what the writer saved.
    renameSync(`${snapshot}.away`, snapshot);
    cli = await NotesIndex.open({ config, embedder, log, readOnly: true });
    t = performance.now();
    await rankChunks(cli, QUERY, { mode: 'bm25' });
    const loadMs = performance.now() - t;
    await cli.close();
    await embedder.dispose();
    return [
      corpus,
      String(s.notes),
      String(s.chunks),
      openMs.toFixed(0),
      ftsMs.toFixed(1),
      buildMs.toFixed(0),
      loadMs.toFixed(0),
      nextMs.toFixed(1),
      saveMs.toFixed(0),
      (bytes / 2 ** 20).toFixed(1),
      ((rss1 - rss0) / 2 ** 20).toFixed(0),
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const asked = process.argv.slice(2).filter((a): a is CorpusName => a === 'tldr-en' || a === 'tldr-all');
const corpora: CorpusName[] = asked.length > 0 ? asked : ['tldr-en', 'tldr-all'];
const rows: string[][] = [];
for (const c of corpora) rows.push(await measure(c));
const head = [
  'corpus',
  'notes',
  'chunks',
  'open read-only ms',
  'FTS5 query ms (baseline)',
  'build + first query ms',
  'load snapshot + first query ms',
  'next query ms',
  'save snapshot ms',
  'snapshot MiB',
  'RSS +MiB',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
