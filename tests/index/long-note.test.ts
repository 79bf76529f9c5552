import assert from 'node:assert/strict';
import { test } from 'node:test';
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
