/**
 * fn over items with at most `limit` calls in flight, results in order. File work over a
 * whole folder at once (20,000 notes copied in) queued 60,000 requests on libuv's four threads
 * at once, behind which every other file operation of the daemon waited.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
