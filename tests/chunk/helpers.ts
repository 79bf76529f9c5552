import assert from 'node:assert/strict';
import type { ParsedNote } from '../../src/chunk/index.ts';

/** Invariants every chunking result must satisfy, whatever the input. */
export function assertSane(source: string, parsed: ParsedNote, maxChunks = 1000): void {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const lines = text.split(/\r\n|\r|\n/);
  assert.ok(parsed.chunks.length <= maxChunks, `at most ${maxChunks} chunks`);
  let prevStart = 0;
  for (const [i, c] of parsed.chunks.entries()) {
    assert.equal(c.seq, i);
    assert.ok(
      c.startLine >= 1 && c.startLine <= c.endLine && c.endLine <= lines.length,
      `line range ${c.startLine}-${c.endLine}`,
    );
    assert.ok(c.startLine >= prevStart, 'chunks in source order');
    prevStart = c.startLine;
    const span = lines.slice(c.startLine - 1, c.endLine).join('\n');
    assert.ok(span.includes(c.text), `chunk ${i} text is a slice of its lines`);
    assert.ok(c.text.trim().length > 0, 'no empty chunk');
    assert.ok(c.embedText.length > 0, 'embedText is never empty');
  }
  assert.equal(typeof parsed.title, 'string');
  assert.ok(parsed.title.length > 0 || parsed.chunks.length === 0);
}
