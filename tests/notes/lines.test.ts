import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pageLines } from '../../src/notes/index.ts';
import { SEED } from '../fuzz/arbitraries.ts';

// The pages read_note returns. pageLines finds line ends without a string per line (it was
// 20 ms of the main thread for a 170k-line note, per call); it must page exactly as splitting
// the note into lines did.

function reference(text: string, range: { startLine?: number; endLine?: number; maxChars: number }) {
  const all = text.split(/\r?\n/);
  if (all.length > 1 && all[all.length - 1] === '') all.pop();
  const start = Math.min(range.startLine ?? 1, Math.max(all.length, 1));
  const requestedEnd = Math.min(range.endLine ?? all.length, all.length);
  if (requestedEnd < start && all.length > 0) return { ok: false };
  let end = start - 1;
  let size = 0;
  while (end < requestedEnd && (end === start - 1 || size + (all[end]?.length ?? 0) + 1 <= range.maxChars)) {
    size += (all[end]?.length ?? 0) + 1;
    end++;
  }
  const truncated = end < requestedEnd;
  return {
    ok: true,
    page: {
      content: all.slice(start - 1, end).join('\n'),
      startLine: start,
      endLine: end,
      totalLines: all.length,
      truncated,
      nextStartLine: truncated ? end + 1 : undefined,
    },
  };
}

test('pageLines pages exactly as splitting into lines does, \\r\\n, lone \\r and final newlines included', () => {
  const text = fc
    .array(fc.constantFrom('a', 'bc', '\n', '\r', '\r\n', '\n\n', ' ', 'é', '😀'), { maxLength: 40 })
    .map((p) => p.join(''));
  const line = fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined });
  fc.assert(
    fc.property(text, line, line, fc.integer({ min: 1, max: 12 }), (t, startLine, endLine, maxChars) => {
      const range = { maxChars, ...(startLine ? { startLine } : {}), ...(endLine ? { endLine } : {}) };
      const got = pageLines(t, range);
      const want = reference(t, range);
      assert.equal(got.ok, want.ok);
      if (got.ok && want.ok) assert.deepEqual(got.page, want.page);
    }),
    { seed: SEED, numRuns: 3_000 },
  );
});

test('pageLines of a 170k-line note returns the page asked for and counts every line', () => {
  const text = `# big\n${'lorem ipsum [[link]] dolor\r\n'.repeat(170_000)}`;
  const r = pageLines(text, { startLine: 169_999, maxChars: 100_000 });
  assert.ok(r.ok);
  assert.equal(r.page.totalLines, 170_001);
  assert.equal(r.page.endLine, 170_001);
  assert.equal(r.page.content, 'lorem ipsum [[link]] dolor\nlorem ipsum [[link]] dolor\nlorem ipsum [[link]] dolor');
});
