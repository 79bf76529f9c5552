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
  const firstLine = all[start - 1] ?? '';
  if (end === start && firstLine.length > range.maxChars) {
    const cut = /[\ud800-\udbff]/.test(firstLine.charAt(range.maxChars - 1)) ? range.maxChars - 1 : range.maxChars;
    return {
      ok: true,
      page: {
        content: firstLine.slice(0, cut),
        startLine: start,
        endLine: start,
        totalLines: all.length,
        truncated: true,
        nextStartLine: start,
        nextStartChar: cut + 1,
      },
    };
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
      nextStartChar: undefined,
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

test('pageLines: following next_start_line and next_start_char reads every character once, no page past maxChars', () => {
  // A line longer than a page was returned whole: an 8 MB one-line note went to the agent in
  // one reply. It is cut at maxChars now (never inside a surrogate pair), and continued.
  const text = fc
    .array(fc.constantFrom('a', 'bc', '\n', '\r\n', ' ', 'é', '😀', 'xxxxxxxxxx'), { maxLength: 60 })
    .map((p) => p.join(''));
  fc.assert(
    fc.property(text, fc.integer({ min: 2, max: 12 }), (t, maxChars) => {
      const lines = t.split(/\r?\n/);
      if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
      const got: string[] = [];
      let at: { startLine: number; startChar?: number } = { startLine: 1 };
      for (let pages = 0; pages < 1_000; pages++) {
        const r = pageLines(t, { ...at, maxChars });
        assert.ok(r.ok);
        assert.ok(r.page.content.length <= maxChars, `a page of ${r.page.content.length} > ${maxChars}`);
        // A page that starts inside a line continues the line it started in.
        const [head = '', ...rest] = r.page.content.split('\n');
        got.push(at.startChar !== undefined ? `${got.pop() ?? ''}${head}` : head, ...rest);
        if (!r.page.truncated) break;
        const next = r.page.nextStartLine!;
        if (r.page.nextStartChar !== undefined) at = { startLine: next, startChar: r.page.nextStartChar };
        else at = { startLine: next };
      }
      assert.deepEqual(got, lines.length === 0 ? [''] : lines);
    }),
    { seed: SEED, numRuns: 2_000 },
  );
});

test('pageLines: a start_char past the end of its line is refused with the reason', () => {
  const r = pageLines('abc\ndef\n', { startLine: 1, startChar: 5, maxChars: 10 });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && /start_char 5 is past the end of line 1 \(3 characters\)/.test(r.reason));
});
