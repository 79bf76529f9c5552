/**
 * The p-th percentile by nearest rank: the smallest value with at least p% of the values at or
 * below it (p50 of [1, 2, 3, 4] is 2; p99 of 100 values is the 99th smallest). Every bench uses
 * this one definition, so a p95 means the same thing in every table. NaN when there are none.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}
