import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LineReader, type LongLine, readMessage, requestIdOf } from '../../src/daemon/stdio-transport.ts';

// The stdio wire's framing: lines up to its bound come out whole, however the input is cut
// into chunks; a longer line is reported once, with its length and id, and nothing of it is
// passed on. And what a line holds: a message, or the error its sender gets.

function through(max: number, chunks: readonly Buffer[]): { lines: string[]; long: LongLine[] } {
  const long: LongLine[] = [];
  const lines: string[] = [];
  const r = new LineReader(
    max,
    (l) => lines.push(l.toString()),
    (l) => long.push(l),
  );
  for (const c of chunks) r.feed(c);
  return { lines, long };
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

test('lines up to the bound come out whole, longer ones are reported instead (any chunking)', async () => {
  const max = 64;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 150 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      async (lengths, cuts) => {
        const lines = lengths.map((n, i) => String.fromCharCode(97 + (i % 26)).repeat(n));
        const input = Buffer.from(`${lines.join('\n')}\n`);
        const { lines: out, long } = through(max, cut(input, cuts));
        assert.deepEqual(
          out,
          lines.filter((l) => l.length > 0 && l.length <= max),
        );
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
  const { long } = through(10_000, cut(Buffer.from(`${first}\n${last}\n${nested}\n`), [3, 9_000, 60_000]));
  assert.deepEqual(
    long.map((l) => l.id),
    ['req-"7"', 42, undefined],
  );
  assert.equal(requestIdOf('{"jsonrpc":"2.0","id":-3,', ''), -3);
  assert.equal(requestIdOf('{"params":{"id":1}', '"id":2}}'), undefined);
});

test('each line that is not a message the server can take names the error its sender gets', () => {
  const bad = (line: string): unknown => {
    const r = readMessage(line);
    return r.ok ? 'ok' : { code: r.code, id: r.id };
  };
  assert.equal(bad('{"jsonrpc":"2.0","id":1,"method":"ping"}'), 'ok');
  assert.deepEqual(bad('{"jsonrpc":"2.0","id":1,"method":'), { code: 'NOTES_E_JSON_INVALID', id: null });
  assert.deepEqual(bad('[{"jsonrpc":"2.0","id":1,"method":"ping"}]'), { code: 'NOTES_E_BATCH_UNSUPPORTED', id: null });
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  assert.deepEqual(bad(`{"jsonrpc":"2.0","id":"d","method":"ping","params":{"x":${deep}}}`), {
    code: 'NOTES_E_JSON_INVALID',
    id: 'd',
  });
  assert.deepEqual(bad('{"id":7,"method":"ping"}'), { code: 'NOTES_E_USAGE', id: 7 });
  assert.deepEqual(bad('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}'), { code: 'NOTES_E_USAGE', id: null });
});
