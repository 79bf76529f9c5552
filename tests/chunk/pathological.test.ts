import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  type ChunkOptions,
  chunkNote,
  DEFAULT_CHUNK_OPTIONS,
  extractLinks,
  parseFrontMatter,
} from '../../src/chunk/index.ts';
import { assertSane } from './helpers.ts';

// The timeouts only detect hangs (quadratic blow-ups take minutes on these sizes); they are
// far above normal run times so a busy machine does not fail them.
const HANG = { timeout: 60_000 };
const OPTS: ChunkOptions = { ...DEFAULT_CHUNK_OPTIONS };

test('one 10 MB line is split by size into bounded chunks', HANG, () => {
  const src = `# Big\n\n${'lorem ipsum dolor sit amet '.repeat(400_000)}\n\nafter\n`;
  assert.ok(src.length > 10_000_000);
  const p = chunkNote(src, 'big.md', OPTS);
  assertSane(src, p);
  assert.equal(p.chunks.length, 1000, 'capped at maxChunks');
  assert.equal(p.truncated, true);
  for (const c of p.chunks)
    assert.ok(c.text.length < 4 * OPTS.maxTokens + 100, `chunk ${c.seq} is ${c.text.length} chars`);
  assert.equal(p.chunks[1]!.startLine, 3);
  assert.equal(p.chunks[1]!.endLine, 3);
});

test('a 10 MB line without spaces, with a tokenizer, and a high chunk cap', HANG, () => {
  const src = 'x'.repeat(10_000_000);
  let counted = 0;
  const countTokens = (t: string) => {
    counted += t.length;
    return Math.ceil(t.length / 3);
  };
  const p = chunkNote(src, 'x.md', { maxTokens: 512, overlapTokens: 64, countTokens, maxChunks: 100_000 });
  assertSane(src, p, 100_000);
  assert.equal(p.truncated, false);
  const covered = p.chunks.reduce((n, c) => n + c.text.length, 0);
  assert.ok(covered >= src.length, 'the whole line is covered');
  assert.ok(counted < src.length * 12, 'tokens counted a bounded number of times per character');
  for (const c of p.chunks) assert.ok(countTokens(c.text) <= 512);
});

test('50,000 nested > on one line and on many lines', HANG, () => {
  const one = `${'>'.repeat(50_000)} deep\nnext line\n\nafter\n`;
  const p1 = chunkNote(one, 'q.md', OPTS);
  assertSane(one, p1);
  assert.ok(p1.chunks.some((c) => c.text.includes('after')));

  // 50,000 lines nested ever deeper (up to 2,000 levels per line: 50 MB, not 1.25 GB).
  const capped = `${Array.from({ length: 50_000 }, (_, i) => `${'>'.repeat((i % 2000) + 1)} line ${i}`).join('\n')}\n`;
  const p2 = chunkNote(capped, 'q.md', OPTS);
  assertSane(capped, p2);
  assert.ok(p2.chunks.length > 0);
});

test('50,000 [ and other unbalanced inline syntax', HANG, () => {
  for (const src of [
    '['.repeat(50_000),
    `${'[a]('.repeat(50_000)}`,
    '*a'.repeat(50_000),
    '`'.repeat(50_000),
    '<a '.repeat(50_000),
  ]) {
    const p = chunkNote(src, 'x.md', OPTS);
    assertSane(src, p);
    assert.ok(p.chunks.length > 0);
  }
});

test('unterminated front matter over a large note', HANG, () => {
  const src = `---\ntitle: x\n${'key: value\n'.repeat(100_000)}`;
  const p = chunkNote(src, 'x.md', OPTS);
  assertSane(src, p);
  assert.match(p.frontMatterError ?? '', /no closing/);
  assert.equal(p.chunks[0]!.startLine, 1);
});

test('100k headings', HANG, () => {
  const src = `${Array.from({ length: 100_000 }, (_, i) => `${'#'.repeat((i % 6) + 1)} heading ${i}`).join('\n')}\n`;
  const p = chunkNote(src, 'h.md', OPTS);
  assertSane(src, p);
  assert.ok(p.chunks.length > 0 && p.chunks.length <= 1000);
  for (const c of p.chunks) assert.ok(c.headings.length <= 6);
});

test('100k headings each with text', HANG, () => {
  const src = `${Array.from({ length: 100_000 }, (_, i) => `## h${i}\ntext ${i}`).join('\n')}\n`;
  const p = chunkNote(src, 'h.md', OPTS);
  assertSane(src, p);
  assert.equal(p.chunks.length, 1000);
  assert.equal(p.truncated, true);
});

test('binary garbage and NUL bytes', HANG, () => {
  const garbage = randomBytes(2_000_000).toString('latin1');
  const p = chunkNote(garbage, 'bin.md', OPTS);
  assertSane(garbage, p);
  const nul = `# T\0itle\n\nbody\0with\0nuls\n${'\0'.repeat(100_000)}\n`;
  const q = chunkNote(nul, 'nul.md', OPTS);
  assertSane(nul, q);
  assert.ok(q.chunks.length > 0);
  const utf8 = randomBytes(2_000_000).toString('utf8');
  assertSane(utf8, chunkNote(utf8, 'u.md', OPTS));
});

test('a huge code block is split by lines with the fence kept in the first piece', HANG, () => {
  const body = Array.from({ length: 20_000 }, (_, i) => `echo line ${i}`).join('\n');
  const src = `# Script\n\n\`\`\`sh\n${body}\n\`\`\`\n\nafter\n`;
  const p = chunkNote(src, 's.md', { ...OPTS, maxChunks: 100_000 });
  assertSane(src, p, 100_000);
  assert.ok(p.chunks[0]!.text.includes('```sh'));
  assert.ok(p.chunks.at(-1)!.text.includes('after'));
  for (const c of p.chunks) assert.ok(c.text.length < 4 * OPTS.maxTokens + 200);
});

test('deeply nested lists and CRLF everywhere', HANG, () => {
  const src = Array.from({ length: 5000 }, (_, i) => `${'  '.repeat(i)}- x${i}`).join('\r\n');
  const p = chunkNote(src, 'l.md', OPTS);
  assertSane(src, p);
});

test('front matter the YAML parser is slow on is not parsed past 16 KB, and prints nothing', HANG, async () => {
  // 64 KB of "]" took the parser 2 s on the main thread (read_note, small notes' indexing).
  const body = ']&'.repeat(64 * 1024);
  const meta = parseFrontMatter(`---\n${body}\n---\n# After\n\ntext\n`);
  assert.match(meta.error ?? '', /longer than 16 KB; it was not read/);
  assert.equal(meta.lineCount, 3);
  const p = chunkNote(`---\n${body}\n---\n# After\n\ntext\n`, 'fm.md', OPTS);
  assert.ok(p.chunks.some((c) => c.text.includes('text')));
  // Just under the limit is still read.
  const near = `tags: [a, b]\nnote: "${'x'.repeat(16 * 1024 - 40)}"`;
  assert.deepEqual(parseFrontMatter(`---\n${near}\n---\nbody\n`).tags, ['a', 'b']);
  // The parser's warnings carried the note's text to stderr (the daemon's log).
  const warned: string[] = [];
  const onWarning = (w: Error) => warned.push(w.name);
  process.on('warning', onWarning);
  parseFrontMatter('---\n%SECRET directive\ntitle: x\n---\nbody\n');
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  assert.deepEqual(warned, []);
});

test(
  'runs of 1, 2, ... 4,000 backticks, then 10 MB of text in the same paragraph: links found in linear time',
  HANG,
  () => {
    // Found from outside: each unmatched run rescanned the rest of the paragraph (quadratic),
    // and read_note runs extractLinks on the main thread: a 2 MB note froze the daemon for 4 s;
    // here each of 4,000 runs would rescan 10 MB or more: minutes.
    const parts = ['# t\n\n[[before]] '];
    for (let i = 1; i <= 4_000; i++) parts.push(`${'`'.repeat(i)}x`);
    parts.push(' [[after]] ', 'lorem ipsum '.repeat(850_000), '\n');
    const src = parts.join('');
    assert.ok(src.length > 18_000_000);
    assert.deepEqual(
      extractLinks(src).map((l) => l.target),
      ['before', 'after'],
    );
  },
);
