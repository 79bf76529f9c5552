// Combining BM25 and vector search into one ranking.
//
// The default ('relative') scores every candidate of either list (200 from each) as
//   bm25Weight * (bm25 / best bm25)^bm25Power  +  rareWeight * rarity^rarePower
//     + (cos - floor) / (best cos - floor)
// with bm25Weight 1, bm25Power 2, rareWeight 1.5, rarePower 10; then the best 50 of that
// get lateWeight (1) * late / best late, `late` being word-level late interaction
// (src/search/late.ts: each query word's best cosine among the passage's words, IDF
// weighted, matches below 0.5 zeroed). `rarity` is how rare the rarest query term in the
// candidate is (1 for a term found in one chunk, 0 for one in 1% of them,
// src/index/lexical.ts); `floor` is the lowest cosine in the vector list (what an unrelated
// passage scores for this query); a BM25 candidate the vector list missed gets its exact
// cosine, so every candidate has both signals.
//
// Why, measured with npm run bench:quality -- --variants (tldr-en, bundled model; tuning
// half / held-out half, figures in bench/eval/README.md):
// - The old min-max fusion maps a list's lowest score, and a list's only hit, to 0: a word
//   found in one note lost to vector noise (rare word, bare: hit@1 0.10 / 0.06). Dividing by
//   the best BM25 score gives a sole hit bm25Weight + rareWeight = 2.5, more than anything
//   BM25 did not find can reach (at most 1 from the cosine + lateWeight 1), so it ranks first
//   whatever the vectors say, for any embedding model: rare word bare hit@1 1.00 / 1.00. This
//   is the guarantee (bm25Weight + rareWeight > 1 + lateWeight, tested); no threshold depends
//   on the model's cosine scale, since cosines are taken relative to the query's own floor
//   and best (MiniLM could not be measured here: no package ships its weights).
// - "where did I write about listunspent" also matches "write" and "about" in hundreds of
//   notes; three common words could outscore the one rare word (BM25 alone, hit@1 0.62 /
//   0.55). The rarity term settles it: hit@3 1.00 / 1.00 (0.87 / 0.86 without it). Raised to
//   the 10th power it speaks only for terms in a handful of chunks. x1.5 against x1: rare
//   words in a sentence hit@1 0.98 / 0.99 against 0.95 / 0.97; paraphrases the same on tuning
//   (0.690 / 0.384 against 0.690 / 0.382; x1 had held-out MRR 0.412: chosen on tuning).
// - Late interaction is the signal that moved paraphrased questions: hit@10 0.690 / 0.651,
//   MRR 0.384 / 0.392, against 0.655 / 0.593 and 0.368 / 0.391 for the fusion before it
//   (BM25 x2, rarity x1, no late interaction); exact wording hit@1 1.00 / 0.91 (0.83 / 0.91).
//   It takes over part of BM25's job (an exact word counts 1, weighted by its IDF), so BM25's
//   weight came down: with late interaction, BM25 x2 (rarity x1) gave 0.678 / 0.605, BM25
//   x0.5 0.598 / 0.640.
//   Late x1.5 or x2 trade hit@10 for MRR on tuning (0.667 / 0.395, 0.655 / 0.394); a floor
//   of 0.45 or 0.55 was no better on tuning (hit@10 0.678, MRR 0.363; 0.690, 0.382); rescoring
//   the top 100 or 400 instead of 50 ranks paraphrases the same (one identifier question of
//   116 more in the top 3) for twice the words to embed. Cost: ~1.5 ms a query once the
//   passages' words have vectors, more while they are being embedded (late.ts).
// - Squaring bm25 / best spreads the flat BM25 scores of natural questions, as min-max did,
//   without zeroing anyone (before late interaction: paraphrase hit@10 0.655 / 0.593 against
//   0.632 / 0.570 unsquared).
// - Measured and left out: plain RRF (k=60: exact wording hit@10 0.87 / 0.95, rare words in a
//   sentence hit@3 0.42 / 0.37); squaring IDF inside BM25 instead of the rarity term
//   (paraphrase 0.52 / 0.57); pseudo-relevance feedback on the BM25 list (5-10 docs, 10-20
//   terms: paraphrase tuning 0.60-0.63 hit@10 but MRR down to 0.33, exact wording hit@1 down);
//   a query vector from its word vectors weighted by this collection's IDF instead of the
//   model's own weights (vectors alone, paraphrase tuning hit@10 0.425 -> 0.30); BM25F field
//   weights (title and headings counted twice or three times: no change; the note's opening
//   paragraph counted twice: paraphrase tuning hit@10 0.655 -> 0.632-0.644, MRR up to 0.39).
// 'rrf' and 'minmax' stay for that comparison in the bench.

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
  /** Exponent on bm25 / best bm25: above 1 weak lexical matches count for less. */
  bm25Power: number;
  /** Weight of lexical certainty: the rarity (0..1) of the rarest query term a candidate has. */
  rareWeight: number;
  /** Exponent on that rarity: above 1 only the rarest terms count. */
  rarePower: number;
  /** Weight of word-level late interaction (src/search/late.ts) on the fused top; 0 = off. */
  lateWeight: number;
  /** How many of the fused top candidates late interaction rescores. */
  lateDepth: number;
  /** Cosine below which a word match counts for nothing. */
  lateFloor: number;
}

/** The default, for order-free word-vector models (the bundled one): where it was measured. */
export const DEFAULT_FUSION: Readonly<FusionOptions> = Object.freeze({
  method: 'relative',
  rrfK: 60,
  bm25Weight: 1,
  bm25Power: 2,
  rareWeight: 1.5,
  rarePower: 10,
  lateWeight: 1,
  lateDepth: 50,
  lateFloor: 0.5,
});

/**
 * Contextual models (MiniLM): the settings before late interaction. Its floor is a cosine
 * between two words of the bundled model; a sentence model's single-word cosines sit on
 * another scale, and no package here ships its weights to measure one.
 */
export const CONTEXTUAL_FUSION: Readonly<FusionOptions> = Object.freeze({
  ...DEFAULT_FUSION,
  bm25Weight: 2,
  rareWeight: 1,
  lateWeight: 0,
});

/** The fusion settings for an embedder. */
export function fusionFor(embedder: { readonly bagOfWords: boolean }): Readonly<FusionOptions> {
  return embedder.bagOfWords ? DEFAULT_FUSION : CONTEXTUAL_FUSION;
}

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
  // The cosines: the vector candidates', and those of BM25 candidates the vector list lacks
  // (extraCosines holds only those), read in place rather than merged into one Map first.
  const extra = input.extraCosines;
  if (input.vector.length > 0 || (extra && extra.size > 0)) {
    // The floor is the weakest vector candidate's cosine; a BM25 candidate below it adds 0.
    let floor = Number.POSITIVE_INFINITY;
    let top = Number.NEGATIVE_INFINITY;
    for (const it of input.vector) {
      floor = Math.min(floor, it.score);
      top = Math.max(top, it.score);
    }
    if (extra) for (const c of extra.values()) top = Math.max(top, c);
    if (!Number.isFinite(floor)) floor = Math.min(0, top);
    const span = top - floor;
    const add = (id: number, c: number) => {
      const v = span > 0 ? Math.max(0, (c - floor) / span) : 0;
      acc.set(id, (acc.get(id) ?? 0) + v);
    };
    if (extra) for (const [id, c] of extra) add(id, c);
    for (const it of input.vector) add(it.id, it.score);
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
