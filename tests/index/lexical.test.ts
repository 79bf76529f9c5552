import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  blankPlaceholders,
  compoundTokens,
  LexicalIndex,
  lexicalTokens,
  queryTokens,
} from '../../src/index/lexical.ts';
import { SEED } from '../fuzz/arbitraries.ts';

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

test('a query does not freeze length normalisation: later adds and removes count', () => {
  const doc = (id: number, text: string) => ({ id, text, title: '', headings: [] });
  const texts = new Map<number, string>();
  for (let i = 1; i <= 40; i++) texts.set(i, `alpha ${'beta '.repeat(i % 7)}gamma ${i}`);
  const same = (a: Array<{ id: number; score: number }>, b: Array<{ id: number; score: number }>) => {
    assert.deepEqual(
      a.map((x) => x.id),
      b.map((x) => x.id),
    );
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]!.score / b[i]!.score - 1) < 1e-5, `score ${i}`);
  };
  // Queried half way, then grown: must score like an index built in one go.
  const live = new LexicalIndex();
  for (const [id, text] of texts) if (id <= 20) live.add(doc(id, text));
  assert.ok(live.search('alpha beta', 5).length > 0);
  for (const [id, text] of texts) if (id > 20) live.add(doc(id, text));
  const fresh = new LexicalIndex();
  for (const [id, text] of texts) fresh.add(doc(id, text));
  same(live.search('alpha beta gamma', 50), fresh.search('alpha beta gamma', 50));
  // Queried, then shrunk: like an index that was never queried before the same removals.
  const unqueried = new LexicalIndex();
  for (const [id, text] of texts) unqueried.add(doc(id, text));
  for (const ix of [live, unqueried]) ix.remove([3, 4, 5, 30]);
  const a = live.search('alpha beta gamma', 50);
  assert.equal(a.length, 36);
  same(a, unqueried.search('alpha beta gamma', 50));
  // Ids far past the arrays' current size after a query: they grow, and scoring sees it.
  live.add(doc(5000, 'alpha beta gamma delta'));
  assert.deepEqual(
    live.search('delta', 5).map((x) => x.id),
    [5000],
  );
  assert.equal(live.search('alpha beta gamma', 50).length, 37);
});

test('the best n equal the head of the full ranking, ties by lower id, for every n', () => {
  const ix = new LexicalIndex();
  // Many equal scores (identical texts) and many distinct ones.
  for (let id = 1; id <= 300; id++) {
    const text = id % 3 === 0 ? 'red green' : `red ${'green '.repeat(id % 11)}blue ${id % 7 === 0 ? 'red' : ''}`;
    ix.add({ id, text, title: '', headings: [] });
  }
  const full = ix.search('red green blue', 10_000);
  assert.equal(full.length, 300);
  for (let i = 1; i < full.length; i++) {
    const a = full[i - 1]!;
    const b = full[i]!;
    assert.ok(a.score > b.score || (a.score === b.score && a.id < b.id), `order at ${i}`);
  }
  for (const n of [1, 2, 3, 7, 50, 99, 100, 101, 299]) {
    assert.deepEqual(ix.search('red green blue', n), full.slice(0, n), `n = ${n}`);
  }
});

test('symbol-bearing runs are indexed whole; plain words are not repeated', () => {
  assert.deepEqual(compoundTokens('git log --since="2 weeks ago"'), ['--since']);
  assert.deepEqual(compoundTokens('echo $PATH: see `~/.ssh/config`, (c++) and [[ or %'), [
    '$path',
    '~/.ssh/config',
    'c++',
    '[[',
    '%',
  ]);
  assert.deepEqual(compoundTokens('run pg_dump and mkfs.fat {{path/to_file}}.'), ['pg_dump', 'mkfs.fat']);
  assert.deepEqual(compoundTokens('plain words only'), []);
  assert.deepEqual(queryTokens('--since'), ['sinc', '--since']);
});

test('a flag is found by its whole spelling, not by the common word inside it', () => {
  const ix = new LexicalIndex();
  const doc = (id: number, text: string) => ({ id, text, title: `t${id}`, headings: [] });
  ix.add(doc(1, '`git log --since {{date}}`'));
  for (let i = 2; i < 40; i++) ix.add(doc(i, `ever since ${i} since then, since always`));
  assert.equal(ix.search('--since', 3)[0]?.id, 1);
  assert.equal(ix.search('c++', 3).length, 0);
  ix.add(doc(50, '# c++\n\nCompile C++ sources'));
  assert.equal(ix.search('c++', 3)[0]?.id, 50);
});

test('rarity: 1 for a term in one chunk, 0 for a term in many; idsWithAll intersects postings', () => {
  const ix = new LexicalIndex();
  const doc = (id: number, text: string) => ({ id, text, title: '', headings: [] });
  for (let i = 1; i <= 300; i++) ix.add(doc(i, `common words here ${i % 2 ? 'odd' : 'even'}`));
  ix.add(doc(301, 'common zorblax'));
  const hits = ix.search('common zorblax', 400);
  assert.equal(hits[0]?.id, 301);
  assert.equal(hits[0]?.rarity, 1);
  assert.ok(hits.slice(1).every((h) => h.rarity === 0));
  assert.equal(ix.idsWithAll(['common', 'odd']).size, 150);
  assert.deepEqual([...ix.idsWithAll(['common', 'zorblax'])], [301]);
  assert.equal(ix.idsWithAll(['common', 'nowhere']).size, 0);
  assert.deepEqual([...ix.idsWithAll(['common', 'odd'], new Set([1, 2, 3]))].sort(), [1, 3]);
});

test('a serialized index loads back scoring the same, and only for its own generation', () => {
  const ix = new LexicalIndex();
  const doc = (id: number, text: string) => ({ id, text, title: `t${id}`, headings: ['h'] });
  for (let i = 1; i <= 200; i++) ix.add(doc(i, `alpha ${'beta '.repeat(i % 5)}gamma ${i} --flag-${i % 3} café 日本`));
  ix.remove([3, 4, 5]);
  const bytes = ix.serialize(42);
  assert.equal(LexicalIndex.load(bytes, 41), undefined, 'another generation');
  assert.equal(LexicalIndex.load(bytes.subarray(0, bytes.length - 4), 42), undefined, 'truncated');
  const back = LexicalIndex.load(bytes, 42);
  assert.ok(back);
  assert.equal(back.size, ix.size);
  for (const q of ['alpha beta', 'gamma 17', '--flag-1', 'cafe', '日本', 'nothing']) {
    assert.deepEqual(back.search(q, 50), ix.search(q, 50), q);
  }
  // Still a working index: adds and removes after loading.
  back.add(doc(500, 'zorblax'));
  back.remove([7]);
  assert.equal(back.search('zorblax', 5)[0]?.id, 500);
  assert.ok(!back.search('alpha', 300).some((h) => h.id === 7));
});

test('an index loaded, changed and saved again loads back the same: every generation of the file', () => {
  // Found from outside: serialize() wrote each term's postings from byte 0 of their buffer, and
  // a loaded index's postings are views into one shared buffer at their own offsets. The second
  // save after a start wrote every term the change did not touch with another term's bytes,
  // and the third start searched garbage (20 of 20 rare words lost).
  const doc = (id: number, text: string) => ({ id, text, title: `t${id}`, headings: [] });
  let ix = new LexicalIndex();
  for (let i = 1; i <= 50; i++) ix.add(doc(i, `common rare${i} shared${i % 7}`));
  const want = (x: LexicalIndex) =>
    ['rare1', 'rare25', 'rare50', 'shared3', 'common', 'added1', 'added2'].map((q) => x.search(q, 60));
  for (let gen = 1; gen <= 3; gen++) {
    const before = want(ix);
    const bytes = ix.serialize(gen);
    const back = LexicalIndex.load(bytes, gen);
    assert.ok(back, `generation ${gen} loads`);
    assert.deepEqual(want(back), before, `generation ${gen} scores as before its save`);
    assert.deepEqual(back.serialize(gen), bytes, `generation ${gen} saves back to the same bytes`);
    back.add(doc(100 + gen, `added${gen} common`));
    ix = back;
  }
});

test('idf: higher for rarer terms, an absent term counted as found once; ids() lists live chunks', () => {
  const ix = new LexicalIndex();
  const doc = (id: number, text: string) => ({ id, text, title: '', headings: [] });
  ix.add(doc(3, 'zebra file'));
  for (let i = 4; i < 14; i++) ix.add(doc(i, 'file folder'));
  const N = 11;
  const idf = (df: number) => Math.log(1 + (N - df + 0.5) / (df + 0.5));
  assert.ok(Math.abs(ix.idf('zebra') - idf(1)) < 1e-12);
  assert.ok(Math.abs(ix.idf('file') - idf(11)) < 1e-12);
  assert.ok(Math.abs(ix.idf('folder') - idf(10)) < 1e-12);
  assert.equal(ix.idf('absent'), ix.idf('zebra'));
  assert.ok(ix.idf('zebra') > ix.idf('folder') && ix.idf('folder') > ix.idf('file'));
  ix.remove([5, 7]);
  assert.deepEqual([...ix.ids()], [3, 4, 6, 8, 9, 10, 11, 12, 13]);
});

test('compaction in steps: re-indexing everything, over and over, ends equal to a fresh index', () => {
  const words = ['tar', 'archive', 'ports', 'git', 'commit', 'disk', 'usage', 'folder', 'compress', 'list'];
  const text = (n: number, round: number) =>
    `${words[n % 10]} ${words[(n * 7) % 10]} note${n} round${round} term${n % 97} ${words[(n + round) % 10]}`;
  const ix = new LexicalIndex();
  const n = 4000;
  let next = 1;
  let live: number[] = [];
  for (let i = 0; i < n; i++) {
    ix.add({ id: next, text: text(i, 0), title: `t${i}`, headings: [] });
    live.push(next++);
  }
  // Like a full re-index: each note's chunk removed and added under a new id, in small groups,
  // so compactions start and run while removals and additions go on.
  for (let round = 1; round <= 4; round++) {
    const fresh: number[] = [];
    for (let i = 0; i < n; i += 25) {
      ix.remove(live.slice(i, i + 25));
      for (let j = i; j < Math.min(n, i + 25); j++) {
        ix.add({ id: next, text: text(j, round), title: `t${j}`, headings: [] });
        fresh.push(next++);
      }
      const hits = ix.search('archive git', 50);
      const alive = new Set([...live.slice(i + 25), ...fresh]);
      assert.ok(
        hits.every((h) => alive.has(h.id)),
        `round ${round}: a removed chunk was found`,
      );
    }
    live = fresh;
  }
  assert.equal(ix.size, n);
  const rebuilt = new LexicalIndex();
  live.forEach((id, i) => {
    rebuilt.add({ id, text: text(i, 4), title: `t${i}`, headings: [] });
  });
  const bytes = ix.serialize(1);
  // Slots are reused: four re-indexes of every chunk do not grow what the index holds.
  assert.ok(bytes.length < 2 * rebuilt.serialize(1).length, `${bytes.length} bytes`);
  const reloaded = LexicalIndex.load(bytes, 1)!;
  for (const q of ['archive git', 'term5 disk', 'round4 note17', 'compress']) {
    assert.deepEqual(reloaded.search(q, 20), rebuilt.search(q, 20), q);
  }
});

test('memory follows the number of chunks, not the highest chunk id', () => {
  const ix = new LexicalIndex();
  // Chunk ids only grow: a long-lived index sees ids far above its chunk count.
  const ids = [3, 40_000_000, 40_000_001, 90_000_000];
  ids.forEach((id, i) => {
    ix.add({ id, text: `note ${i} shared`, title: 't', headings: [] });
  });
  assert.ok(ix.serialize(7).length < 4096, 'a few slots, not one per id up to 90,000,000');
  const back = LexicalIndex.load(ix.serialize(7), 7)!;
  assert.deepEqual([...back.ids()], ids);
  assert.deepEqual(
    back.search('shared', 10).map((h) => h.id),
    ids,
    'ties by lower id',
  );
  assert.deepEqual([...back.idsWithAll(['share'], new Set([40_000_001, 3]))].sort(), [3, 40_000_001]);
  back.remove([40_000_000]);
  back.add({ id: 40_000_000, text: 'brand new', title: 't', headings: [] });
  assert.deepEqual(
    back.search('shared', 10).map((h) => h.id),
    [3, 40_000_001, 90_000_000],
    're-added id: only its new text',
  );
});

test('placeholders are blanked in one pass: as the regex did, without its quadratic time', () => {
  // /\{\{[^}]*\}\}/g rescanned to the next } from every {{: 5 s for 128 KB of {{ (a note or a
  // query), on the main thread.
  const regex = (s: string) => s.replace(/\{\{[^}]*\}\}/g, ' ');
  fc.assert(
    fc.property(fc.array(fc.constantFrom('{', '}', '{{', '}}', 'a', ' ', 'x-y'), { maxLength: 40 }), (parts) => {
      const s = parts.join('');
      assert.equal(blankPlaceholders(s), regex(s));
    }),
    { seed: SEED, numRuns: 5_000 },
  );
  const t0 = performance.now();
  compoundTokens('{{'.repeat(100_000));
  compoundTokens('{{a}'.repeat(50_000));
  const ms = performance.now() - t0;
  // A bound far above the linear time (a few ms) and far below the quadratic one (minutes).
  assert.ok(ms < 2_000, `${ms.toFixed(0)} ms`);
});
