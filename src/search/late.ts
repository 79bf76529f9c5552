import type { Embedder } from '../embed/index.ts';
import { type ChunkRecord, type LexicalIndex, lexicalTokens } from '../index/index.ts';
import { isStopword, queryTerms } from './query.ts';

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
      const need = (this.ids.size + fresh.length) * this.dims;
      if (need > this.vecs.length) {
        let n = this.vecs.length;
        while (n < need) n *= 2;
        const grown = new Float32Array(n);
        grown.set(this.vecs.subarray(0, this.ids.size * this.dims));
        this.vecs = grown;
      }
      fresh.forEach((w, i) => {
        const id = this.ids.size;
        this.vecs.set(vecs[i]!, id * this.dims);
        this.ids.set(w, id);
      });
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
}

/**
 * Late-interaction score (0..1) of each chunk in `ids`, in order: over the query's words,
 * idf * (best cosine - floor) / (1 - floor) (0 below the floor), over the sum of the idfs.
 * An exact match counts 1, a match at the floor 0.
 */
export function lateScores(
  ctx: LateContext,
  query: string,
  ids: readonly number[],
  floor: number,
): Promise<Float64Array> {
  let table = tables.get(ctx.embedder);
  if (!table) {
    table = new WordTable(ctx.embedder.dims);
    tables.set(ctx.embedder, table);
  }
  const t = table;
  const run = t.queue.then(() => scoreNow(t, ctx, query, ids, floor));
  t.queue = run.catch(() => {});
  return run;
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
  // Cosines of every query word against each distinct passage word, computed once per word.
  const sims = new Map<number, Float32Array>();
  const best = new Float32Array(Q);
  for (let c = 0; c < ids.length; c++) {
    best.fill(0);
    for (const w of cached.get(ids[c]!) ?? []) {
      let s = sims.get(w);
      if (!s) {
        s = new Float32Array(Q);
        const base = w * dims;
        for (let q = 0; q < Q; q++) {
          const qw = qIds[q]!;
          if (qw === w) {
            s[q] = 1;
            continue;
          }
          const qb = qw * dims;
          let d = 0;
          for (let i = 0; i < dims; i++) d += vecs[qb + i]! * vecs[base + i]!;
          s[q] = d;
        }
        sims.set(w, s);
      }
      for (let q = 0; q < Q; q++) if (s[q]! > best[q]!) best[q] = s[q]!;
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
