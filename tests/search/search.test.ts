import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { indexText } from '../../src/chunk/index.ts';
import { lexicalTokens } from '../../src/index/lexical.ts';
import { NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { ftsMatch, makeSnippet, queryTerms, rankChunks, search } from '../../src/search/index.ts';
import { flatten, snippetFromHits, termPattern, wordHits } from '../../src/search/snippet.ts';
import { CORPORA, REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { openTestIndex, sharedEmbedder, testConfig, tldrVault, writeNotes } from '../helpers/vault.ts';

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

/** Words in exactly one note of `root` (as BM25 sees them) and not in that note's path. */
function rareWordsOf(root: string, limit: number): Array<{ word: string; path: string }> {
  const notes: Array<{ path: string; words: Set<string> }> = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else if (e.name.endsWith('.md')) {
        // Mnemonic brackets joined as the index joins them: "[s]ilencing" is "silencing".
        const text = indexText(readFileSync(join(dir, e.name), 'utf8')).toLowerCase();
        notes.push({ path: `${rel}${e.name}`, words: new Set(text.match(/[a-z0-9]+/g) ?? []) });
      }
    }
  };
  walk(root, '');
  const df = new Map<string, number>();
  for (const n of notes) for (const w of n.words) df.set(w, (df.get(w) ?? 0) + 1);
  const stemDf = new Map<string, number>();
  for (const n of notes)
    for (const s of new Set([...n.words].flatMap((w) => lexicalTokens(w)))) stemDf.set(s, (stemDf.get(s) ?? 0) + 1);
  const out: Array<{ word: string; path: string }> = [];
  for (const n of notes) {
    const word = [...n.words]
      .sort()
      .find(
        (w) =>
          /^[a-z]{6,}$/.test(w) &&
          df.get(w) === 1 &&
          !n.path.toLowerCase().includes(w) &&
          lexicalTokens(w).every((s) => stemDf.get(s) === 1),
      );
    if (word) out.push({ word, path: n.path });
    if (out.length === limit) break;
  }
  return out;
}

test('a word found in one note ranks that note first in hybrid search, bare or in a sentence (lost-rare-word bug)', async (t) => {
  const notes = tldrVault(t, { common: 300, linux: 100 });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const rare = rareWordsOf(notes, 40);
  assert.ok(rare.length >= 30, `only ${rare.length} rare words`);
  const lostBare: string[] = [];
  const lostSentence: string[] = [];
  for (const { word, path } of rare) {
    const bare = await search(index, word, { k: 5, onePerNote: true });
    if (bare.hits[0]?.path !== path) lostBare.push(`${word} -> ${bare.hits[0]?.path}`);
    const said = await search(index, `where did I write about ${word}`, { k: 5, onePerNote: true });
    if (!said.hits.slice(0, 3).some((h) => h.path === path)) lostSentence.push(word);
  }
  assert.deepEqual(lostBare, [], 'bare rare word not first');
  // The sentence adds common words found in many notes: at most one in ten may fall below 3.
  assert.ok(lostSentence.length <= rare.length / 10, `in a sentence, lost: ${lostSentence.join(', ')}`);
});

test('quoted phrases must match their words in order; the rest of the query ranks; an unpaired quote is text', async (t) => {
  const notes = tldrVault(t, { common: 40 });
  writeNotes(notes, {
    'a.md': '# Alpha\n\nThe quick brown fox jumps over the lazy dog.\n',
    'b.md': '# Beta\n\nA brown quick fox, said nobody. The dog sleeps.\n',
    'c.md': '# Gamma\n\nQuick, brown foxes are running everywhere.\n',
  });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const paths = async (q: string) =>
    (await search(index, q, { k: 10, onePerNote: true })).hits.map((h) => h.path).sort();
  // Stemmed like BM25 and across punctuation: "Quick, brown foxes" holds "quick brown fox".
  assert.deepEqual(await paths('"quick brown fox"'), ['a.md', 'c.md']);
  assert.deepEqual(await paths('"brown quick"'), ['b.md']);
  assert.deepEqual(await paths('"quick brown" lazy'), ['a.md', 'c.md']);
  assert.equal((await search(index, '"quick brown" lazy', { k: 3 })).hits[0]?.path, 'a.md');
  assert.deepEqual(await paths('"quick brown" "lazy dog"'), ['a.md']);
  assert.deepEqual(await paths('"no such words together"'), []);
  for (const mode of ['bm25', 'vector'] as const) {
    const r = await search(index, '"brown quick"', { k: 10, mode });
    assert.deepEqual([...new Set(r.hits.map((h) => h.path))], ['b.md'], mode);
  }
  // An unpaired quote is not a phrase: ranking as usual.
  const loose = await search(index, '"brown quick', { k: 10, onePerNote: true });
  assert.ok(loose.hits.length >= 3);
});

test('mode: bm25 returns only lexical matches, vector finds notes sharing no word, hybrid is the default', async (t) => {
  const notes = tldrVault(t, { common: 40 });
  writeNotes(notes, {
    'cars.md': '# Cars\n\nMy automobile needs new tyres and an oil change.\n',
    'fruit.md': '# Fruit\n\nBuy bananas, apples and pears at the market.\n',
  });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const bm25 = await search(index, 'vehicle', { k: 10, mode: 'bm25' });
  assert.equal(bm25.hits.length, 0, 'no note contains "vehicle"');
  const vec = await search(index, 'vehicle', { k: 3, mode: 'vector', onePerNote: true });
  assert.equal(vec.hits[0]?.path, 'cars.md');
  const lexical = await search(index, 'bananas', { k: 10, mode: 'bm25' });
  assert.deepEqual([...new Set(lexical.hits.map((h) => h.path))], ['fruit.md']);
  const byDefault = await search(index, 'vehicle tyres', { k: 3 });
  const hybrid = await search(index, 'vehicle tyres', { k: 3, mode: 'hybrid' });
  assert.deepEqual(
    byDefault.hits.map((h) => h.chunkId),
    hybrid.hits.map((h) => h.chunkId),
  );
  assert.equal(hybrid.hits[0]?.path, 'cars.md');
});

test('snippets bold every form BM25 matched', () => {
  assert.equal(
    makeSnippet('She studied it. Study groups and studies; the runner runs, running, ran.', ['studies', 'running']),
    'She **studied** it. **Study** groups and **studies**; the runner **runs**, **running**, ran.',
  );
  assert.equal(makeSnippet('listen to the list of lists', ['list']), 'listen to the **list** of **lists**');
});

test('a heading trail does not repeat the title', async (t) => {
  const notes = tldrVault(t, { common: 20 });
  writeNotes(notes, {
    'unp.md': '# unp\n\n> Extract any archive.\n\n## Usage\n\n- Extract an archive:\n\n`unp x.tar`\n',
  });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const r = await search(index, 'unp extract archive', { k: 10, onePerNote: false });
  const mine = r.hits.filter((h) => h.path === 'unp.md');
  assert.ok(mine.length > 0);
  for (const h of mine) assert.notEqual(h.headings[0]?.toLowerCase(), 'unp', JSON.stringify(h.headings));
  assert.ok(mine.some((h) => h.headings.join(' › ') === 'Usage' || h.headings.length === 0));
});

test('the CLI path (read-only index) and the daemon path rank the labelled questions the same', async (t) => {
  const notes = tldrVault(t, { common: 800, linux: 300, osx: 100 });
  const state = tempDir(t, 'notes-mcp-state-');
  const daemon = await openTestIndex(t, notes, state);
  await daemon.sync();
  for (let i = 0; i < 400 && !daemon.lexical; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(daemon.lexical, 'the daemon built its in-memory BM25 index');
  // Saved, so the CLI loads the same vector graph and only BM25 could tell them apart.
  await daemon.flush();
  const cli = await NotesIndex.open({
    config: testConfig(notes, state),
    embedder: await sharedEmbedder(),
    log: silentLogger(),
    readOnly: true,
  });
  t.after(() => cli.close());
  assert.equal(cli.lexical, undefined, 'a read-only index builds no BM25 index of its own');
  // A second CLI opens after the daemon saved its BM25 snapshot: it loads instead of building.
  assert.ok(daemon.saveLexicalSnapshot());
  const loaded = await NotesIndex.open({
    config: testConfig(notes, state),
    embedder: await sharedEmbedder(),
    log: silentLogger(),
    readOnly: true,
  });
  t.after(() => loaded.close());
  const set = z
    .array(z.object({ q: z.string() }))
    .parse(JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'eval', 'tldr-en-questions.json'), 'utf8')));
  const generated = z
    .array(z.object({ q: z.string(), kind: z.string() }))
    .parse(JSON.parse(readFileSync(join(REPO_ROOT, 'bench', 'eval', 'tldr-en-generated.json'), 'utf8')));
  const queries = [
    ...set.map((x) => x.q),
    ...generated.filter((x) => x.kind === 'identifier' || x.kind === 'phrase').map((x) => x.q),
  ];
  assert.ok(queries.length > 500);
  for (const mode of ['bm25', 'hybrid'] as const) {
    for (const q of queries) {
      const a = await rankChunks(daemon, q, { k: 10, mode });
      const want = a.slice(0, 20).map((r) => [r.id, r.score.toFixed(9)]);
      for (const [name, other] of [
        ['built', cli],
        ['loaded', loaded],
      ] as const) {
        const b = await rankChunks(other, q, { k: 10, mode });
        assert.deepEqual(
          b.slice(0, 20).map((r) => [r.id, r.score.toFixed(9)]),
          want,
          `${name}, ${mode}: ${q}`,
        );
      }
    }
  }
});
