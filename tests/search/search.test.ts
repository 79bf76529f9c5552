import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ftsMatch, makeSnippet, queryTerms, search } from '../../src/search/index.ts';
import { flatten, snippetFromHits, termPattern, wordHits } from '../../src/search/snippet.ts';
import { CORPORA, tempDir } from '../helpers/tmp.ts';
import { openTestIndex, tldrVault, writeNotes } from '../helpers/vault.ts';

test('query terms drop filler words and punctuation; FTS expressions are always quoted', () => {
  assert.deepEqual(queryTerms('How do I compress a folder?'), ['compress', 'folder']);
  assert.equal(ftsMatch('tar -czf "x'), '"tar" OR "czf" OR "x"');
  assert.equal(ftsMatch('NEAR(a b) AND c*'), '"near" OR "b" OR "c"');
  assert.equal(ftsMatch('the'), '"the"');
  assert.equal(ftsMatch('!!! ???'), null);
});

test('snippets show the matched words in bold around the best window', () => {
  const text = `${'filler '.repeat(80)}the quick archive of compressed files ${'more '.repeat(80)}`;
  const s = makeSnippet(text, ['archive', 'compressed']);
  assert.match(s, /\*\*archive\*\*/);
  assert.match(s, /\*\*compressed\*\*/);
  assert.ok(s.length < 300);
  assert.ok(s.startsWith('…'));
});

test('hybrid search over real notes: syntax characters never error, filters and one-per-note work, stale is reported', async (t) => {
  const notes = tldrVault(t, { common: 300, linux: 100, osx: 50 });
  writeNotes(notes, {
    'projects/garden.md':
      '---\ntitle: Garden plan\ntags: [home, outdoor]\n---\n# Garden plan\n\nPlant tomatoes and basil in spring. #gardening\n\n## Watering\n\nWater the tomatoes every morning.\n',
    'projects/kitchen.md': '# Kitchen\n\nReplace the tap. #home\n',
  });
  const index = await openTestIndex(t, notes);
  await index.sync();

  for (const q of [
    '"',
    '"unbalanced',
    '*',
    '-',
    'NEAR',
    'a AND OR NOT b',
    '((',
    'c++',
    '%',
    '🙂',
    '',
    '   ',
    'x'.repeat(3000),
  ]) {
    const r = await search(index, q, { k: 5 });
    assert.ok(Array.isArray(r.hits), q);
  }

  const r = await search(index, 'plant tomatoes', { k: 5 });
  assert.equal(r.hits[0]?.path, 'projects/garden.md');
  const h = r.hits[0]!;
  assert.equal(h.uri, 'note://projects/garden.md');
  assert.equal(h.title, 'Garden plan');
  assert.ok(h.startLine >= 1 && h.endLine >= h.startLine);
  assert.match(h.snippet, /\*\*tomatoes\*\*/i);
  assert.equal(h.stale, false);

  const byTag = await search(index, 'replace', { k: 5, tags: ['home'] });
  assert.ok(byTag.hits.length > 0 && byTag.hits.every((x) => x.path.startsWith('projects/')));
  const inlineTag = await search(index, 'plant', { k: 5, tags: ['gardening'] });
  assert.deepEqual([...new Set(inlineTag.hits.map((x) => x.path))], ['projects/garden.md']);
  const inFolder = await search(index, 'list files', { k: 10, folder: 'osx' });
  assert.ok(inFolder.hits.length > 0 && inFolder.hits.every((x) => x.path.startsWith('osx/')));
  const none = await search(index, 'list files', { k: 10, folder: 'nonexistent' });
  assert.equal(none.hits.length, 0);

  const all = await search(index, 'tomatoes', { k: 10, onePerNote: false });
  const one = await search(index, 'tomatoes', { k: 10, onePerNote: true });
  assert.ok(all.hits.filter((x) => x.path === 'projects/garden.md').length >= 1);
  assert.equal(one.hits.filter((x) => x.path === 'projects/garden.md').length, 1);

  const page1 = await search(index, 'file', { k: 5 });
  const page2 = await search(index, 'file', { k: 5, offset: 5 });
  assert.equal(page1.hasMore, true);
  assert.equal(page1.nextOffset, 5);
  assert.equal(new Set([...page1.hits, ...page2.hits].map((x) => x.chunkId)).size, 10, 'pages do not overlap');

  // Edited on disk but not re-indexed yet: the hit says so.
  writeFileSync(join(notes, 'projects/garden.md'), '# Garden plan\n\nPlant tomatoes later.\n');
  const stale = await search(index, 'plant tomatoes', { k: 3 });
  assert.equal(stale.hits.find((x) => x.path === 'projects/garden.md')?.stale, true);
});

/** makeSnippet before it searched for stems: one regex match per word, the reference. */
function snippetByWords(text: string, terms: readonly string[]): string {
  const flat = flatten(text);
  const pattern = termPattern(terms);
  return snippetFromHits(flat, pattern ? wordHits(flat, pattern) : []);
}

test('snippets match the word-by-word oracle on real pages in many languages and odd text', (t) => {
  const root = tempDir(t);
  const dirs = [
    'pages/common',
    'pages/linux',
    'pages.zh/common',
    'pages.ru/common',
    'pages.ja/common',
    'pages.ar/common',
  ];
  execFileSync('tar', ['-xzf', join(CORPORA, 'tldr-all.tar.gz'), '-C', root, ...dirs.map((d) => `./${d}`)]);
  const texts = [
    'İstanbul ISTANBUL istanbul: case folding that changes length',
    'café CAFÉ cafés, 𝒜lpha 𝒜rchive, archive-archiving_archived; naïve',
    'c++ and c# and .net: list lists listing',
  ];
  for (const d of dirs) {
    for (const name of readdirSync(join(root, d)).sort().slice(0, 250))
      texts.push(readFileSync(join(root, d, name), 'utf8'));
  }
  assert.ok(texts.length > 700);
  const stemSets = [
    ['list', 'file'],
    ['archiv', 'compress'],
    ['git', 'commit', 'branch'],
    ['i', 'is'],
    ['caf', 'istanbul', 'naïve'],
    ['файл', 'список'],
    ['文件'],
    ['ファイル', 'ディレクトリ'],
    ['ملف'],
    ['c++', 'c#'],
  ];
  let compared = 0;
  for (const text of texts) {
    for (const stems of stemSets) {
      assert.equal(makeSnippet(text, stems), snippetByWords(text, stems), `${stems.join(',')}: ${text.slice(0, 60)}`);
      compared++;
    }
  }
  assert.ok(compared > 5000);
});
