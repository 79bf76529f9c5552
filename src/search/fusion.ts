// Combining ranked lists from BM25 and vector search. Both methods are kept so the quality
// bench (bench/quality.ts) can compare them; the default is chosen there.

export interface Ranked {
  id: number;
  score: number;
}

export type FusionMethod = 'rrf' | 'score';

export interface FusionOptions {
  method: FusionMethod;
  /** RRF constant: larger flattens the advantage of top ranks. */
  rrfK: number;
  /** Weight of the BM25 list relative to the vector list (1 = equal). */
  bm25Weight: number;
}

/** Plain reciprocal rank fusion: the default for contextual models such as MiniLM. */
export const DEFAULT_FUSION: FusionOptions = { method: 'rrf', rrfK: 60, bm25Weight: 1 };

/**
 * For the bundled word-vector model, whose vector signal is weaker than BM25, min-max
 * score fusion with BM25 at twice the weight measured best on bench/quality.ts (tldr-en,
 * 218 questions): paraphrased hit@10 0.607 vs 0.595 for plain RRF, exact wording 1.000 vs
 * 0.889. Re-measure when the model changes.
 */
export const BAG_OF_WORDS_FUSION: FusionOptions = { method: 'score', rrfK: 60, bm25Weight: 2 };

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

/** Min-max normalise each list's scores to [0, 1] and add them with weights. */
export function scoreFusion(lists: ReadonlyArray<{ items: readonly Ranked[]; weight: number }>): Ranked[] {
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

function sortRanked(acc: Map<number, number>): Ranked[] {
  const out: Ranked[] = [];
  acc.forEach((score, id) => {
    out.push({ id, score });
  });
  return out.sort((a, b) => b.score - a.score || a.id - b.id);
}

export function fuse(bm25: readonly Ranked[], vector: readonly Ranked[], opts: FusionOptions): Ranked[] {
  const lists = [
    { items: bm25, weight: opts.bm25Weight },
    { items: vector, weight: 1 },
  ];
  return opts.method === 'rrf' ? rrf(lists, opts.rrfK) : scoreFusion(lists);
}
