// Combining BM25 and vector search into one ranking.
//
// The default ('relative') scores every candidate (the union of both lists) as
//   bm25Weight * bm25 / best bm25  +  (cos - floor) / (best cos - floor)
// where the BM25 list comes from the in-memory index with each term's IDF squared
// (idfPower), `floor` is the lowest cosine among the vector list's candidates (what an
// unrelated passage scores for this query), and a BM25 candidate the vector list missed gets
// its exact cosine, so no candidate is missing a signal. Why each part:
// - Dividing by the best BM25 score instead of min-max: min-max maps a list's lowest score,
//   and a list's only hit, to 0, so a word found in one note lost to vector noise (rare-word
//   known items: hybrid hit@1 0.06 against BM25's 1.00). Here a sole hit scores bm25Weight,
//   more than any candidate BM25 did not find can reach (the vector part is at most 1), so
//   with bm25Weight > 1 it ranks first whatever the vectors say, for any embedding model.
// - Squared IDF: "where did I write about listunspent" also matches "write" and "about"
//   in thousands of notes, and with plain IDF three such common words added up to more than
//   the one rare word (BM25 alone: hit@1 0.55). Squaring lets the rarest term decide
//   between notes, while notes matching all the words still beat notes matching one.
// - The vector side is normalised against the query's own floor, not an absolute cosine:
//   cosines of a word-average model and of MiniLM live on different scales, and no
//   threshold here depends on which model made them.
// The figures that chose the weights are in bench/eval/README.md (npm run bench:quality --
// --variants); 'rrf' and 'minmax' stay for that comparison.

export interface Ranked {
  id: number;
  score: number;
}

export type FusionMethod = 'relative' | 'rrf' | 'minmax';

export interface FusionOptions {
  method: FusionMethod;
  /** RRF constant: larger flattens the advantage of top ranks. */
  rrfK: number;
  /** Weight of the BM25 list relative to the vector list (1 = equal). */
  bm25Weight: number;
  /** IDF exponent of the BM25 list fed to the fusion (1 = plain BM25). */
  idfPower: number;
  /** Exponent on bm25 / best bm25: above 1 weak lexical matches count for less. */
  bm25Power: number;
  /** Weight of lexical certainty: the rarity (0..1) of the rarest query term a candidate has. */
  rareWeight: number;
  /** Exponent on that rarity: above 1 only the rarest terms count. */
  rarePower: number;
  /** Give BM25 candidates the vector list missed their exact cosine (else they get 0). */
  fillCosines: boolean;
}

export const DEFAULT_FUSION: Readonly<FusionOptions> = Object.freeze({
  method: 'relative',
  rrfK: 60,
  bm25Weight: 2,
  idfPower: 1,
  bm25Power: 1,
  rareWeight: 1,
  rarePower: 1,
  fillCosines: true,
});

export interface LexicalRanked extends Ranked {
  /** See LexicalHit.rarity; absent (0) for FTS5 results. */
  rarity?: number;
}

export interface FusionInput {
  bm25: readonly LexicalRanked[];
  vector: readonly Ranked[];
  /** Cosine of BM25 candidates the vector list does not hold (relative fusion only). */
  extraCosines?: ReadonlyMap<number, number>;
}

/** Weighted reciprocal rank fusion: sum of w / (k + rank) over the lists an item appears in. */
export function rrf(lists: ReadonlyArray<{ items: readonly Ranked[]; weight: number }>, k: number): Ranked[] {
  const acc = new Map<number, number>();
  for (const { items, weight } of lists) {
    items.forEach((it, rank) => {
      acc.set(it.id, (acc.get(it.id) ?? 0) + weight / (k + rank + 1));
    });
  }
  return sortRanked(acc);
}

/** Min-max normalise each list's scores to [0, 1] and add them with weights (the old default). */
export function minMaxFusion(lists: ReadonlyArray<{ items: readonly Ranked[]; weight: number }>): Ranked[] {
  const acc = new Map<number, number>();
  for (const { items, weight } of lists) {
    if (items.length === 0) continue;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const it of items) {
      lo = Math.min(lo, it.score);
      hi = Math.max(hi, it.score);
    }
    const span = hi - lo || 1;
    for (const it of items) acc.set(it.id, (acc.get(it.id) ?? 0) + (weight * (it.score - lo)) / span);
  }
  return sortRanked(acc);
}

/** The default: BM25 relative to its best, cosines relative to the query's floor and best. */
export function relativeFusion(input: FusionInput, opts: FusionOptions): Ranked[] {
  const acc = new Map<number, number>();
  const best = input.bm25[0]?.score ?? 0;
  if (best > 0) {
    for (const it of input.bm25) {
      const rel = it.score / best;
      const b = opts.bm25Power === 1 ? rel : rel ** opts.bm25Power;
      const r = it.rarity ?? 0;
      acc.set(it.id, opts.bm25Weight * b + opts.rareWeight * (opts.rarePower === 1 ? r : r ** opts.rarePower));
    }
  }
  const cosines = new Map<number, number>(input.extraCosines);
  for (const it of input.vector) cosines.set(it.id, it.score);
  if (cosines.size > 0) {
    // The floor is the weakest vector candidate's cosine; a BM25 candidate below it adds 0.
    let floor = Number.POSITIVE_INFINITY;
    for (const it of input.vector) floor = Math.min(floor, it.score);
    let top = Number.NEGATIVE_INFINITY;
    for (const c of cosines.values()) top = Math.max(top, c);
    if (!Number.isFinite(floor)) floor = Math.min(0, top);
    const span = top - floor;
    for (const [id, c] of cosines) {
      const v = span > 0 ? Math.max(0, (c - floor) / span) : 0;
      acc.set(id, (acc.get(id) ?? 0) + v);
    }
  }
  return sortRanked(acc);
}

function sortRanked(acc: Map<number, number>): Ranked[] {
  const out: Ranked[] = [];
  acc.forEach((score, id) => {
    out.push({ id, score });
  });
  return out.sort((a, b) => b.score - a.score || a.id - b.id);
}

export function fuse(input: FusionInput, opts: FusionOptions): Ranked[] {
  if (opts.method === 'relative') return relativeFusion(input, opts);
  const lists = [
    { items: input.bm25, weight: opts.bm25Weight },
    { items: input.vector, weight: 1 },
  ];
  return opts.method === 'rrf' ? rrf(lists, opts.rrfK) : minMaxFusion(lists);
}
