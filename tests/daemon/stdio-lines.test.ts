import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineGuard, type LongLine, requestIdOf } from '../../src/daemon/stdio-lines.ts';

// The stdio line guard: lines up to its bound pass byte for byte, however the input is cut
// into chunks; a longer line is ended at the bound and reported once, with its length and id.

async function through(max: number, chunks: readonly Buffer[]): Promise<{ out: Buffer; long: LongLine[] }> {
  const long: LongLine[] = [];
  const g = new LineGuard(max, (l) => long.push(l));
  const parts: Buffer[] = [];
  g.on('data', (d: Buffer) => parts.push(d));
  const ended = new Promise((r) => g.on('end', r));
  for (const c of chunks) g.write(c);
  g.end();
  await ended;
  return { out: Buffer.concat(parts), long };
}

/** Cut a buffer at the given (sorted, deduplicated) offsets. */
function cut(b: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at.map((x) => x % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...points, b.length]) {
    out.push(b.subarray(from, p));
    from = p;
  }
  return out;
}

test('lines up to the bound pass unchanged, longer ones are ended at the bound and reported (any chunking)', async () => {
  const max = 64;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 150 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      async (lengths, cuts) => {
        const lines = lengths.map((n, i) => String.fromCharCode(97 + (i % 26)).repeat(n));
        const input = Buffer.from(`${lines.join('\n')}\n`);
        const { out, long } = await through(max, cut(input, cuts));
        const expected = lines.map((l) => l.slice(0, max)).join('\n');
        assert.equal(out.toString(), `${expected}\n`);
        assert.deepEqual(
          long.map((l) => l.bytes),
          lengths.filter((n) => n > max),
        );
      },
    ),
    { seed: 20261202, numRuns: 300 },
  );
});

test('the id of a cut request is found before its params or as its last key', async () => {
  const big = 'x'.repeat(50_000);
  const first = JSON.stringify({ jsonrpc: '2.0', id: 'req-"7"', method: 'tools/call', params: { content: big } });
  // The v1 SDK client spreads the request first: the id comes last.
  const last = JSON.stringify({ method: 'tools/call', params: { content: big, id: 5 }, jsonrpc: '2.0', id: 42 });
  const nested = JSON.stringify({ method: 'tools/call', params: { content: big, meta: { id: 5 } } });
  const { long } = await through(10_000, cut(Buffer.from(`${first}\n${last}\n${nested}\n`), [3, 9_000, 60_000]));
  assert.deepEqual(
    long.map((l) => l.id),
    ['req-"7"', 42, undefined],
  );
  assert.equal(requestIdOf('{"jsonrpc":"2.0","id":-3,', ''), -3);
  assert.equal(requestIdOf('{"params":{"id":1}', '"id":2}}'), undefined);
});
