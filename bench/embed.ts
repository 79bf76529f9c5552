// Embedding throughput of the bundled model, transformers.js pipeline overhead against
// onnxruntime-node on the same graph, and CLI cold start. Prints one table.
//   npm run bench:embed
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { meanPoolNormalize } from '../src/embed/embedder.ts';
import { bundledModelDir, openEmbedder } from '../src/embed/index.ts';
import { unpackCorpus } from './lib/corpus.ts';
import { BIN } from './lib/paths.ts';
import { percentile } from './lib/percentile.ts';

const TEXTS = 4096;

interface Encoded {
  data: BigInt64Array;
  dims: number[];
}
const COLD_RUNS = 20;

/** Chunk-like texts: each tldr page's title and description with one of its example lines. */
function loadTexts(dir: string): string[] {
  const out: string[] = [];
  const pages = join(dir, 'pages');
  for (const platform of readdirSync(pages).sort()) {
    for (const file of readdirSync(join(pages, platform)).sort()) {
      const lines = readFileSync(join(pages, platform, file), 'utf8').split('\n');
      const title = lines.find((l) => l.startsWith('# '))?.slice(2) ?? file;
      const desc = lines.filter((l) => l.startsWith('> ') && !l.includes('More information')).map((l) => l.slice(2));
      for (const item of lines.filter((l) => l.startsWith('- '))) {
        out.push(`${title}: ${desc.join(' ')} ${item.slice(2)}`);
        if (out.length >= TEXTS) return out;
      }
    }
  }
  return out;
}

async function rate(texts: string[], batch: number, fn: (b: string[]) => Promise<unknown>, ms = 1500): Promise<number> {
  await fn(texts.slice(0, batch)); // warm-up
  let done = 0;
  const start = performance.now();
  for (let i = 0; performance.now() - start < ms; i = (i + batch) % (texts.length - batch)) {
    await fn(texts.slice(i, i + batch));
    done += batch;
  }
  return (done / (performance.now() - start)) * 1000;
}

/**
 * Rates of several ways to do the same work, interleaved call by call on the same batches:
 * load from other processes on this shared 2-core machine then hits every way alike.
 */
async function compare(
  texts: string[],
  batch: number,
  fns: Record<string, (b: string[]) => Promise<unknown>>,
  ms = 8000,
): Promise<Record<string, number>> {
  const spent: Record<string, number> = {};
  let calls = 0;
  for (const fn of Object.values(fns)) await fn(texts.slice(0, batch));
  const start = performance.now();
  for (let i = 0; performance.now() - start < ms; i = (i + batch) % (texts.length - batch)) {
    const b = texts.slice(i, i + batch);
    for (const [name, fn] of Object.entries(fns)) {
      const t0 = performance.now();
      await fn(b);
      spent[name] = (spent[name] ?? 0) + performance.now() - t0;
    }
    calls++;
  }
  return Object.fromEntries(Object.entries(spent).map(([k, v]) => [k, ((calls * batch) / v) * 1000]));
}

function coldStart(args: string[]): { p50: number; p95: number } {
  const times: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
    times.push(performance.now() - t0);
  }
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'notes-mcp-bench-'));
  try {
    const texts = loadTexts(unpackCorpus('tldr-en', tmp));
    const rows: Array<[string, string, string]> = [];
    const fmt = (n: number) => n.toFixed(0).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

    const embedder = await openEmbedder({ model: 'bundled', modelsDir: join(tmp, 'models') });
    // One pass first: JIT and the tokenizer's word cache warm up as in a long-running daemon.
    await embedder.embed(texts);
    for (const b of [1, 32, 256]) {
      const r = await rate(texts, b, (x) => embedder.embed(x));
      rows.push([
        `bundled model, Embedder.embed, ${b} texts per call`,
        `${fmt(r)} emb/s`,
        b === 32 ? 'target >= 2,000' : '',
      ]);
    }

    // Same graph, same tokenizer, three ways, at batch 32.
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.logLevel = t.LogLevel.NONE;
    const ort = await import('onnxruntime-node');
    const dir = bundledModelDir();
    const extractor = (await t.pipeline('feature-extraction', dir, { dtype: 'fp32', device: 'cpu' })) as unknown as {
      (x: string[], o: { pooling: 'mean'; normalize: boolean }): Promise<unknown>;
      tokenizer: (x: string[], o: { padding: boolean; truncation: boolean }) => Record<string, Encoded>;
      dispose(): Promise<void>;
    };
    const session = await ort.InferenceSession.create(join(dir, 'onnx', 'model.onnx'));
    const feeds = (enc: Record<string, Encoded>) =>
      Object.fromEntries(
        ['input_ids', 'attention_mask', 'token_type_ids'].map((k) => {
          const src = enc[k] ?? enc.input_ids;
          const data = k === 'token_type_ids' && !enc[k] ? new BigInt64Array(src?.data.length ?? 0) : src?.data;
          return [k, new ort.Tensor('int64', data ?? new BigInt64Array(0), src?.dims ?? [0, 0])];
        }),
      );
    const direct = async (x: string[]) => {
      const enc = extractor.tokenizer(x, { padding: true, truncation: true });
      const out = await session.run(feeds(enc));
      const h = out.last_hidden_state;
      const mask = enc.attention_mask;
      if (!h || !mask) throw new Error('no output');
      return meanPoolNormalize({ dims: [...h.dims], data: h.data as Float32Array }, mask);
    };
    const pre: Array<Record<string, unknown>> = [];
    for (let i = 0; i + 32 <= texts.length; i += 32)
      pre.push(feeds(extractor.tokenizer(texts.slice(i, i + 32), { padding: true, truncation: true })));
    let k = 0;
    const sessionOnly = async () => session.run(pre[k++ % pre.length] as Parameters<typeof session.run>[0]);

    const r32 = await compare(texts, 32, {
      embedder: (x) => embedder.embed(x),
      direct,
      run: sessionOnly,
      stock: (x) => extractor(x, { pooling: 'mean', normalize: true }),
    });
    const embed32 = r32.embedder ?? Number.NaN;
    const dir32 = r32.direct ?? Number.NaN;
    const run32 = r32.run ?? Number.NaN;
    const stock = r32.stock ?? Number.NaN;
    await embedder.dispose();
    rows.push(['Embedder.embed, 32 (interleaved call by call with the rows below)', `${fmt(embed32)} emb/s`, '']);
    rows.push([
      'onnxruntime-node direct: same graph, tokenizer and pooling, 32',
      `${fmt(dir32)} emb/s`,
      `Embedder overhead ${(dir32 / embed32).toFixed(2)}x (target <= 1.25x)`,
    ]);
    rows.push([
      'onnxruntime-node session.run only, pre-tokenised, 32',
      `${fmt(run32)} emb/s`,
      `tokenize + pool cost: Embedder is ${(run32 / embed32).toFixed(2)}x slower`,
    ]);
    rows.push([
      'stock transformers.js pipeline() incl. its mean_pooling, 32',
      `${fmt(stock)} emb/s`,
      `${(dir32 / stock).toFixed(2)}x slower than direct (why Embedder pools itself)`,
    ]);
    await extractor.dispose();
    await session.release();

    const base = coldStart(['-e', '0']);
    const help = coldStart([BIN, '--help']);
    rows.push(['cold start: node -e 0', `p50 ${base.p50.toFixed(0)} ms`, `p95 ${base.p95.toFixed(0)} ms`]);
    rows.push([
      'cold start: notes-mcp --help',
      `p50 ${help.p50.toFixed(0)} ms`,
      `p95 ${help.p95.toFixed(0)} ms (target < 300 ms)`,
    ]);

    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    console.log(
      `embed bench: ${texts.length} tldr chunk-like texts, ${cpus().length} cores, node ${process.versions.node}\n`,
    );
    console.log(`${'what'.padEnd(w0)}  ${'result'.padEnd(w1)}  note`);
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`.trimEnd());
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
