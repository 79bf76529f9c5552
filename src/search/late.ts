import type { Embedder } from '../embed/index.ts';
import { type ChunkRecord, type LexicalIndex, lexicalTokens } from '../index/index.ts';
import { isStopword, queryTerms } from './query.ts';
import { layQueries, paddedQueries, type SimdCosines, simdCosines } from './simd.ts';

// Word-level late interaction: each query word's best match among a passage's words, by the
// cosine of their word vectors, weighted by the query word's IDF. A second vector signal
// beside the passage vector: one averaged vector per passage blurs "raw bytes" with
// everything else the passage says, where word by word "bytes" still finds "hex" and
// "folder" finds "directory". Figures and the settings chosen: src/search/fusion.ts.
//
// Every word of every candidate gets its vector before scoring (one embed call for those not
// seen yet), so a ranking never depends on what an earlier query left in the cache: the CLI,
// with a cold cache, ranks exactly as the daemon does.

const WORD = /[\p{L}\p{N}]+/gu;
const DIGITS = /^\d+$/;
const MAX_WORDS_PER_CHUNK = 400;
// Past this many distinct words (40 MB of 100-d vectors) the cache starts over.
const MAX_WORDS = 100_000;
// The background warm-up stops here, leaving room for the words of queries to come.
const WARM_WORDS = 60_000;
// Words per embed call while warming: a query's own embedding waits behind one such call
// (~3 ms with the bundled model), not behind the whole warm-up.
const WARM_BATCH = 64;
// Chunks whose words are gathered per turn of the event loop while warming: 256 long chunks
// (a note of 170k lines) were 100 ms of the main thread in one piece.
const WARM_CHUNKS = 64;
const MAX_CHUNKS = 50_000;

/** Distinct words of a passage worth matching: no filler words, numbers or single letters. */
export function passageWords(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const w = m[0];
    if (w.length < 2 || w.length > 40 || isStopword(w) || DIGITS.test(w)) continue;
    out.add(w);
    if (out.size >= MAX_WORDS_PER_CHUNK) break;
  }
  return [...out];
}

/** Unit word vectors of one embedder, by word id, computed on first use. */
class WordTable {
  readonly dims: number;
  ids = new Map<string, number>();
  vecs: Float32Array;
  /** Chunk id → ids of its passage words (a chunk id never names other text later). */
  chunkWords = new WeakMap<object, Map<number, Int32Array>>();
  /** Scratch for one scoring pass: a word's row among the pass's cosines, and whose it is. */
  slotOf = new Int32Array(0);
  slotStamp = new Uint32Array(0);
  stamp = 0;
  /** Scratch for one scoring pass, kept between passes (grown, never shrunk): its cosines. */
  sims = new Float32Array(8 * 1024);
  /** The pass's distinct passage words, by row. */
  order = new Int32Array(1024);
  #simd: SimdCosines | null | undefined;
  /** The WebAssembly SIMD kernel, made on first use; null where it cannot run. */
  simd(): SimdCosines | undefined {
    if (this.#simd === undefined) this.#simd = simdCosines() ?? null;
    return this.#simd ?? undefined;
  }
  /** Per owner, the background embedding of its chunks' words (running or done). */
  warmed = new WeakMap<object, Promise<void>>();
  /** Queries score one at a time: a clear() during another's embed would mix up its ids. */
  queue: Promise<unknown> = Promise.resolve();

  constructor(dims: number) {
    this.dims = dims;
    this.vecs = new Float32Array(dims * 4096);
  }

  clear(): void {
    this.ids = new Map();
    this.chunkWords = new WeakMap();
  }

  /** Ids for these words, embedding the new ones in one call. */
  async idsFor(embedder: Embedder, words: readonly string[]): Promise<Int32Array> {
    const fresh = [...new Set(words.filter((w) => !this.ids.has(w)))];
    if (fresh.length > 0) {
      const vecs = await embedder.embed(fresh);
      // The warm-up and a query may have embedded the same words meanwhile: a word keeps the
      // id it got first, or two words would share a row.
      const added = fresh.flatMap((w, i) => (this.ids.has(w) ? [] : [{ w, v: vecs[i]! }]));
      const need = (this.ids.size + added.length) * this.dims;
      if (need > this.vecs.length) {
        let n = this.vecs.length;
        while (n < need) n *= 2;
        const grown = new Float32Array(n);
        grown.set(this.vecs.subarray(0, this.ids.size * this.dims));
        this.vecs = grown;
      }
      for (const { w, v } of added) {
        const id = this.ids.size;
        this.vecs.set(v, id * this.dims);
        this.ids.set(w, id);
      }
    }
    return Int32Array.from(words, (w) => this.ids.get(w)!);
  }
}

const tables = new WeakMap<Embedder, WordTable>();

export interface LateContext {
  /** Whose chunk ids these are (the index): words are cached per owner and chunk id. */
  owner: object;
  embedder: Embedder;
  /** Query words are weighted by their IDF here; all alike without it. */
  lexical: LexicalIndex | undefined;
  chunks: (ids: readonly number[]) => Map<number, ChunkRecord>;
  /** Embed every chunk's words in the background after this first call (a daemon, not the CLI). */
  warm: boolean;
}

/**
 * Late-interaction score (0..1) of each chunk in `ids`, in order: over the query's words,
 * idf * (best cosine - floor) / (1 - floor) (0 below the floor), over the sum of the idfs.
 * An exact match counts 1, a match at the floor 0.
 */
function tableOf(embedder: Embedder): WordTable {
  let table = tables.get(embedder);
  if (!table) {
    table = new WordTable(embedder.dims);
    tables.set(embedder, table);
  }
  return table;
}

/**
 * Start (once per owner) embedding the words of every chunk in the background; resolves when
 * done. lateScores starts it on its first call; a daemon may start it sooner.
 */
export function warmLate(ctx: LateContext & { lexical: LexicalIndex }): Promise<void> {
  const t = tableOf(ctx.embedder);
  let w = t.warmed.get(ctx.owner);
  if (!w) {
    w = warm(t, ctx, ctx.lexical);
    t.warmed.set(ctx.owner, w);
  }
  return w;
}

export function lateScores(
  ctx: LateContext,
  query: string,
  ids: readonly number[],
  floor: number,
): Promise<Float64Array> {
  const t = tableOf(ctx.embedder);
  if (ctx.warm && ctx.lexical && !t.warmed.has(ctx.owner)) void warmLate({ ...ctx, lexical: ctx.lexical });
  const run = t.queue.then(() => scoreNow(t, ctx, query, ids, floor));
  t.queue = run.catch(() => {});
  return run;
}

/**
 * Embed the words of every chunk in the background, a batch at a time, so that queries seldom
 * meet a word without a vector (a cold query embeds ~1,000 new words: 30-60 ms). Scores do not
 * depend on it; it only moves the embedding out of the queries' way. Stops at WARM_WORDS, and
 * quietly when the index or the embedder closes.
 */
async function warm(table: WordTable, ctx: LateContext, lexical: LexicalIndex): Promise<void> {
  const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));
  try {
    const ids = [...lexical.ids()];
    for (let i = 0; i < ids.length && table.ids.size < WARM_WORDS; i += WARM_CHUNKS) {
      await yieldNow();
      const fresh = new Set<string>();
      for (const c of ctx.chunks(ids.slice(i, i + WARM_CHUNKS)).values()) {
        for (const w of passageWords(`${c.title}\n${c.headings.join('\n')}\n${c.text}`)) {
          if (!table.ids.has(w)) fresh.add(w);
        }
      }
      const list = [...fresh];
      for (let j = 0; j < list.length && table.ids.size < WARM_WORDS; j += WARM_BATCH) {
        await table.idsFor(ctx.embedder, list.slice(j, j + WARM_BATCH));
        await yieldNow();
      }
    }
  } catch {
    // The index or the embedder closed under us: the queries left embed their own words.
  }
}

async function scoreNow(
  table: WordTable,
  ctx: LateContext,
  query: string,
  ids: readonly number[],
  floor: number,
): Promise<Float64Array> {
  const out = new Float64Array(ids.length);
  const qWords = queryTerms(query).filter((w) => w.length >= 2);
  if (qWords.length === 0 || ids.length === 0) return out;
  if (table.ids.size > MAX_WORDS) table.clear();
  let cached = table.chunkWords.get(ctx.owner);
  if (!cached || cached.size > MAX_CHUNKS) {
    cached = new Map();
    table.chunkWords.set(ctx.owner, cached);
  }
  const missing = ids.filter((id) => !cached.has(id));
  const texts = missing.length > 0 ? ctx.chunks(missing) : new Map<number, ChunkRecord>();
  const newWords = missing.map((id) => {
    const c = texts.get(id);
    return c ? passageWords(`${c.title}\n${c.headings.join('\n')}\n${c.text}`) : [];
  });
  const all = await table.idsFor(ctx.embedder, [...qWords, ...newWords.flat()]);
  let at = qWords.length;
  missing.forEach((id, i) => {
    const n = newWords[i]!.length;
    cached.set(id, all.subarray(at, at + n));
    at += n;
  });
  const qIds = all.subarray(0, qWords.length);
  const weights = qWords.map((w) => (ctx.lexical ? ctx.lexical.idf(lexicalTokens(w)[0] ?? w) : 1));
  const wSum = weights.reduce((a, b) => a + b, 0) || 1;

  const { dims, vecs } = table;
  const Q = qIds.length;
  const qRows = new Float32Array(Q * dims);
  for (let q = 0; q < Q; q++) qRows.set(vecs.subarray(qIds[q]! * dims, (qIds[q]! + 1) * dims), q * dims);
  // Every distinct passage word gets a row of cosines, computed once however many passages
  // have it: slotOf[word id] is its row (stamped with this call's number, so never cleared),
  // order[row] the word.
  table.stamp++;
  if (table.slotOf.length < table.ids.size) {
    table.slotOf = new Int32Array(table.ids.size * 2);
    table.slotStamp = new Uint32Array(table.ids.size * 2);
  }
  const { slotOf, slotStamp, stamp } = table;
  let rows = 0;
  for (let c = 0; c < ids.length; c++) {
    const words: Int32Array | undefined = cached.get(ids[c]!);
    if (!words) continue;
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      if (slotStamp[w] === stamp) continue;
      slotStamp[w] = stamp;
      slotOf[w] = rows;
      if (rows >= table.order.length) {
        const grown = new Int32Array(table.order.length * 2);
        grown.set(table.order);
        table.order = grown;
      }
      table.order[rows++] = w;
    }
  }
  const order = table.order;
  const simd = table.simd();
  let sims: Float32Array;
  let stride: number;
  if (simd) {
    stride = paddedQueries(Q);
    simd.reserve(stride, rows, dims);
    layQueries(qRows, Q, dims, simd.q);
    const wv = simd.words;
    // A memcpy per word: copying component by component was a third of a query's late
    // interaction (about 0.3 ms of ~1 ms on tldr-en).
    for (let r = 0; r < rows; r++) {
      const from = order[r]! * dims;
      wv.set(vecs.subarray(from, from + dims), r * dims);
    }
    simd.run(stride, rows, dims);
    sims = simd.out;
  } else {
    stride = Q;
    // Reused across calls: a fresh one was 30-60 KB of garbage per hybrid query.
    if (table.sims.length < rows * Q) table.sims = new Float32Array(rows * Q * 2);
    sims = table.sims;
    const kern: Kernel = { qv: qRows, Q, vecs, dims };
    for (let r = 0; r < rows; r++) wordCosines(kern, order[r]! * dims, sims, r * Q);
  }
  // A query word found as written counts 1 whatever its vector's norm.
  for (let q = 0; q < Q; q++) {
    const w = qIds[q]!;
    if (slotStamp[w] === stamp) sims[slotOf[w]! * stride + q] = 1;
  }
  const best = new Float32Array(Q);
  for (let c = 0; c < ids.length; c++) {
    best.fill(0);
    const words: Int32Array | undefined = cached.get(ids[c]!);
    if (!words) continue;
    for (let k = 0; k < words.length; k++) {
      const at = slotOf[words[k]!]! * stride;
      for (let q = 0; q < Q; q++) {
        const v = sims[at + q]!;
        if (v > best[q]!) best[q] = v;
      }
    }
    let total = 0;
    for (let q = 0; q < Q; q++) {
      const b = best[q]!;
      if (b >= floor) total += (weights[q]! * (b - floor)) / (1 - floor);
    }
    out[c] = total / wSum;
  }
  return out;
}

export interface Kernel {
  /** The Q query word vectors, one after another. */
  qv: Float32Array;
  Q: number;
  vecs: Float32Array;
  dims: number;
}

/**
 * The cosines of one word vector (at `base` in k.vecs) with each query word, into
 * out[at..at+Q): what the SIMD kernel computes (simd.ts), for an engine without WebAssembly
 * SIMD. Each sum runs over the components in order in float32, a rounded product then a
 * rounded add, as the kernel's lanes do: the same cosines to the last bit (tested).
 */
export function wordCosines(k: Kernel, base: number, out: Float32Array, at: number): void {
  const { qv, Q, vecs, dims } = k;
  const f = Math.fround;
  for (let q = 0; q < Q; q++) {
    const b = q * dims;
    let d = 0;
    for (let i = 0; i < dims; i++) d = f(d + f(qv[b + i]! * vecs[base + i]!));
    out[at + q] = d;
  }
}
