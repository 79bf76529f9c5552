import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LexicalIndex, lexicalTokens } from '../../src/index/lexical.ts';

test('tokens are lower-cased, accent-free, stemmed, with mnemonic brackets joined', () => {
  assert.deepEqual(lexicalTokens('Archiving FILES, E[x]tract café'), ['archiv', 'file', 'extract', 'cafe']);
  assert.deepEqual(lexicalTokens('compress compressed compression'), ['compress', 'compress', 'compress']);
  assert.deepEqual(lexicalTokens('日本語 テキスト'), ['日本語', 'テキスト']);
  assert.deepEqual(lexicalTokens('!!! ---'), []);
});

test('BM25 ranks rare, repeated, short matches first; removals and filters apply', () => {
  const ix = new LexicalIndex();
  const doc = (id: number, text: string) => ({ id, text, title: `t${id}`, headings: [] });
  ix.add(doc(1, 'list the files in a folder'));
  ix.add(doc(2, 'compress a folder into an archive'));
  ix.add(doc(3, 'compress compress compress'));
  ix.add(doc(4, 'the files and the folder and the files and a very long tail of other words here'));
  for (let i = 10; i < 60; i++) ix.add(doc(i, `the files folder number ${i}`));
  assert.equal(ix.size, 54);

  const r = ix.search('compressing archives', 5);
  assert.deepEqual(
    r.map((x) => x.id),
    [2, 3],
    'only matching chunks, the one with both terms first',
  );
  assert.ok(r[0]!.score > 0);
  const common = ix.search('files', 3);
  assert.equal(common.length, 3);
  assert.ok(!common.some((x) => x.id === 4), 'long chunks lose to short ones for the same term');

  assert.deepEqual(
    ix.search('compress', 5, new Set([3])).map((x) => x.id),
    [3],
  );
  ix.remove([2]);
  assert.deepEqual(ix.search('archive', 5), []);
  assert.equal(ix.size, 53);
  // Many removals trigger compaction; results stay right.
  ix.remove(Array.from({ length: 50 }, (_, i) => i + 10));
  for (let i = 1000; i < 3000; i++) ix.add(doc(i, `filler ${i}`));
  ix.remove(Array.from({ length: 1500 }, (_, i) => i + 1000));
  assert.deepEqual(
    ix.search('compress', 5).map((x) => x.id),
    [3],
  );
  assert.equal(ix.search('filler', 3000).length, 500);
  // A re-added id carries only its new text.
  ix.remove([3]);
  ix.add(doc(3, 'brand new words'));
  assert.deepEqual(ix.search('compress', 5), []);
  assert.deepEqual(
    ix.search('brand', 5).map((x) => x.id),
    [3],
  );
});
