import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { chunkNote, DEFAULT_CHUNK_OPTIONS } from '../../src/chunk/index.ts';
import { tempDir, unpackCorpus } from '../helpers/tmp.ts';
import { assertSane } from './helpers.ts';

function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(p));
    else if (e.name.endsWith('.md') && e.name !== 'LICENSE.md') out.push(p);
  }
  return out;
}

test('every tldr-en page chunks sanely into a small number of chunks', { timeout: 120_000 }, (t) => {
  const root = unpackCorpus('tldr-en', tempDir(t));
  const files = markdownFiles(root);
  assert.ok(files.length > 7000);
  const perNote = new Map<number, number>();
  let withCommands = 0;
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    const p = chunkNote(src, relative(root, f), DEFAULT_CHUNK_OPTIONS);
    assertSane(src, p);
    assert.ok(p.chunks.length >= 1, `${f} has chunks`);
    assert.equal(p.frontMatterError, null);
    const first = src.split('\n')[0]!;
    if (first.startsWith('# ')) assert.equal(p.title, first.slice(2).trim());
    // Commands ({{placeholders}} live only there) do not reach the embedder.
    if (p.chunks.some((c) => c.embedText.includes('{{'))) withCommands++;
    perNote.set(p.chunks.length, (perNote.get(p.chunks.length) ?? 0) + 1);
  }
  const oneOrTwo = (perNote.get(1) ?? 0) + (perNote.get(2) ?? 0);
  assert.ok(oneOrTwo / files.length > 0.95, `most pages are one or two chunks: ${JSON.stringify([...perNote])}`);
  assert.ok(Math.max(...perNote.keys()) <= 6);
  assert.ok(withCommands / files.length < 0.02, `${withCommands} notes embed command text`);
});
