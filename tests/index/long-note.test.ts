import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CHUNK_OPTIONS } from '../../src/chunk/index.ts';
import { chunkWhole, MAX_CHUNKS_PER_NOTE } from '../../src/index/chunk-whole.ts';
import { search } from '../../src/search/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openTestIndex, writeNotes } from '../helpers/vault.ts';

test('a very long note is indexed whole: its last line is searchable (was cut at 1,000 chunks)', {
  timeout: 120_000,
}, async (t) => {
  const notes = tempDir(t);
  const lines: string[] = ['# Log'];
  for (let i = 0; i < 30_000; i++)
    lines.push(`- entry ${i}: the service restarted after a timeout in worker ${i % 97}`);
  lines.push('- final entry: the zzyzxfinal marker');
  writeNotes(notes, { 'log.md': `${lines.join('\n')}\n` });
  const index = await openTestIndex(t, notes);
  const s = await index.sync();
  assert.deepEqual(s.skipped, []);
  const r = await search(index, 'zzyzxfinal', { k: 1, mode: 'bm25' });
  assert.equal(r.hits[0]?.path, 'log.md');
  assert.ok((r.hits[0]?.endLine ?? 0) >= 30_000, `found at line ${r.hits[0]?.startLine}`);
});

test('a journal with thousands of short sections is indexed whole (every heading made a chunk past the cap)', async (t) => {
  const notes = tempDir(t);
  const parts: string[] = ['# Journal'];
  for (let i = 1; i <= 2500; i++) parts.push(`## Day ${i}\n\nmet person${i} for coffee`);
  writeNotes(notes, { 'journal.md': `${parts.join('\n\n')}\n` });
  const index = await openTestIndex(t, notes);
  const s = await index.sync();
  assert.deepEqual(s.skipped, []);
  const r = await search(index, 'person2499', { k: 1, mode: 'bm25' });
  assert.equal(r.hits[0]?.path, 'journal.md');
  assert.deepEqual(r.hits[0]?.headings.slice(-1), ['Day 2499']);
});

test('a note of 100,000 one-line sections is indexed whole in at most 10,000 chunks, sections packed', async () => {
  // Found from outside: every heading started a chunk, and the chunk cap grows with the note,
  // so 600,000 headings in 7 MB were 600,000 chunks (4 minutes of embedding, 2.3 GB; a few
  // such notes ran the heap out). Past the cap, sections now share chunks.
  const parts: string[] = [];
  for (let i = 0; i < 100_000; i++) parts.push(`# h${i}\nword${i}\n`);
  const parsed = chunkWhole(parts.join(''), 'headings.md', DEFAULT_CHUNK_OPTIONS);
  assert.equal(parsed.truncated, false);
  assert.ok(parsed.chunks.length <= MAX_CHUNKS_PER_NOTE, `${parsed.chunks.length} chunks`);
  assert.ok(parsed.chunks.length >= 1_000, 'packed into full chunks, not one huge one');
  const all = parsed.chunks.map((c) => c.text).join('\n');
  for (const i of [0, 4_242, 99_999]) assert.match(all, new RegExp(`^# h${i}\\nword${i}$`, 'm'));
  // A packed chunk is named by the section its first line is in, and its line range covers
  // what it holds.
  for (const c of parsed.chunks.slice(0, 200)) {
    const first = /^(?:# h|word)(\d+)/.exec(c.text)?.[1];
    assert.deepEqual(c.headings.slice(-1), [`h${first}`], c.text.slice(0, 40));
    assert.equal(c.endLine - c.startLine + 1, c.text.split('\n').length);
  }
});
