import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Embedder, openEmbedder } from '../../src/embed/index.ts';
import { NotesIndex } from '../../src/index/index.ts';
import { lexicalTokens } from '../../src/index/lexical.ts';
import { silentLogger } from '../../src/log.ts';
import {
  CONTEXTUAL_FUSION,
  DEFAULT_FUSION,
  fusionFor,
  queryTerms,
  rankChunks,
  warmSearch,
} from '../../src/search/index.ts';
import { lateScores, passageWords, wordCosines } from '../../src/search/late.ts';
import { layQueries, paddedQueries, simdCosines } from '../../src/search/simd.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openTestIndex, sharedEmbedder, testConfig, tldrVault, writeNotes } from '../helpers/vault.ts';

test('passage words: distinct, lower-cased, without filler words, numbers or single letters', () => {
  assert.deepEqual(passageWords('How to Fix the CAR: fix it in 2 minutes, a b c\n`car --fix`'), [
    'fix',
    'car',
    'minutes',
  ]);
});

/** The cosine as the kernels must compute it: in order over the components, in float32. */
function plainCosine(a: Float32Array, ai: number, b: Float32Array, bi: number, dims: number): number {
  let d = 0;
  for (let i = 0; i < dims; i++) d = Math.fround(d + Math.fround(a[ai + i]! * b[bi + i]!));
  return d;
}

/** Deterministic values with all their float32 bits in use, so any change in the order of
 * the sums (or a query word read at the wrong offset) shows in the last bits. */
function lcg(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31 - 0.5;
  };
}

test('word cosines without SIMD equal the float32 loop bit for bit for 1 to 19 query words', () => {
  const next = lcg(7);
  const dims = 100;
  const words = 5;
  const vecs = Float32Array.from({ length: words * dims }, next);
  for (let Q = 1; Q <= 19; Q++) {
    const qv = Float32Array.from({ length: Q * dims }, next);
    const got = new Float32Array(words * Q);
    const want: number[] = [];
    for (let w = 0; w < words; w++) {
      wordCosines({ qv, Q, vecs, dims }, w * dims, got, w * Q);
      for (let q = 0; q < Q; q++) want.push(plainCosine(qv, q * dims, vecs, w * dims, dims));
    }
    assert.deepEqual([...got], want, `${Q} query words`);
  }
});

test('word cosines in WebAssembly SIMD equal the float32 loop bit for bit for 1 to 19 query words', () => {
  // Node 24 runs WebAssembly SIMD: no kernel here is a failure, not a reason to skip.
  const simd = simdCosines();
  assert.ok(simd, 'WebAssembly SIMD kernel available');
  const next = lcg(11);
  const dims = 100;
  const words = 37;
  const vecs = Float32Array.from({ length: words * dims }, next);
  for (let Q = 1; Q <= 19; Q++) {
    const rows = Float32Array.from({ length: Q * dims }, next);
    const stride = paddedQueries(Q);
    assert.equal(stride % 4, 0);
    simd.reserve(stride, words, dims);
    assert.equal(layQueries(rows, Q, dims, simd.q), stride);
    simd.words.set(vecs);
    simd.run(stride, words, dims);
    const got: number[] = [];
    const want: number[] = [];
    for (let w = 0; w < words; w++) {
      for (let q = 0; q < Q; q++) {
        want.push(plainCosine(rows, q * dims, vecs, w * dims, dims));
        got.push(simd.out[w * stride + q]!);
      }
      // Padding query words are zero vectors: their cosines are 0, never garbage.
      for (let q = Q; q < stride; q++) assert.equal(simd.out[w * stride + q], 0);
    }
    assert.deepEqual(got, want, `${Q} query words`);
  }
});

test('late interaction: exact words count 1, close words less, unrelated words nothing', async (t) => {
  const notes = tldrVault(t, { common: 20 });
  writeNotes(notes, {
    'exact.md': '# Automobile\n\nRepair an automobile (zqexact).\n',
    'near.md': '# Car\n\nFix a car (zqnear).\n',
    'half.md': '# Car\n\nBake it (zqhalf).\n',
    'far.md': '# Bread\n\nBake bread (zqfar).\n',
  });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const lexical = await index.lexicalForSearch();
  const ids = new Map<string, number>();
  for (const path of ['exact.md', 'near.md', 'half.md', 'far.md']) {
    const [hit] = await rankChunks(index, `zq${path.replace('.md', '')}`, { k: 1, mode: 'bm25' });
    assert.equal(index.chunk(hit!.id)?.path, path);
    ids.set(path, hit!.id);
  }
  const order = ['exact.md', 'near.md', 'half.md', 'far.md'];
  const ctx = {
    owner: index,
    embedder: index.embedder,
    lexical,
    chunks: (x: readonly number[]) => index.chunks(x),
    warm: true,
  };
  const s = await lateScores(
    ctx,
    'repair my automobile',
    order.map((p) => ids.get(p)!),
    0.5,
  );
  const [exact, near, half, far] = [...s];
  assert.equal(exact, 1, 'every query word found as it is');
  assert.ok(near! > 0.1 && near! < 1, `car ~ automobile, fix ~ repair: ${near}`);
  assert.ok(half! > 0 && half! < near!, `only car ~ automobile: ${half}`);
  assert.equal(far, 0, 'nothing at cosine 0.5 or above');
  // A second owner starts with no cached words: the scores depend on nothing cached.
  const again = await lateScores(
    { ...ctx, owner: {} },
    'repair my automobile',
    [...order].reverse().map((p) => ids.get(p)!),
    0.5,
  );
  assert.deepEqual([...again].reverse(), [...s]);
});

test('fusion settings: late interaction for order-free models, the earlier settings for others', async () => {
  const bundled = await sharedEmbedder();
  assert.equal(bundled.bagOfWords, true);
  assert.equal(fusionFor(bundled), DEFAULT_FUSION);
  assert.ok(DEFAULT_FUSION.lateWeight > 0);
  assert.equal(fusionFor({ bagOfWords: false }), CONTEXTUAL_FUSION);
  assert.equal(CONTEXTUAL_FUSION.lateWeight, 0);
  // A passage BM25 alone found (rarity 1) outscores anything it did not find, whatever the
  // vectors and the word matches say: bm25 + rarity > best cosine + late interaction.
  for (const f of [DEFAULT_FUSION, CONTEXTUAL_FUSION]) assert.ok(f.bm25Weight + f.rareWeight > 1 + f.lateWeight);
});

test('hybrid search adds late interaction: the best word-by-word match gains the full weight, no match nothing', async (t) => {
  const notes = tldrVault(t, { common: 60 });
  writeNotes(notes, {
    'garage.md': '# Garage\n\n- Fix a car that will not start:\n\n`garage --fix {{car}}`\n',
    'bakery.md': '# Bakery\n\n- Bake bread at home:\n\n`bakery --bake {{bread}}`\n',
  });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const q = 'repair my automobile, not bread';
  const scores = async (fusion: { lateWeight?: number }) => {
    const r = await rankChunks(index, q, { k: 10, fusion });
    const paths = index.chunks(r.map((x) => x.id));
    return new Map(r.map((x) => [paths.get(x.id)?.path, x.score]));
  };
  const without = await scores({ lateWeight: 0 });
  const withLate = await scores({});
  const gain = (path: string) => (withLate.get(path) ?? Number.NaN) - (without.get(path) ?? Number.NaN);
  assert.ok(Math.abs(gain('garage.md') - DEFAULT_FUSION.lateWeight) < 1e-9, `garage gained ${gain('garage.md')}`);
  assert.ok(gain('bakery.md') > 0 && gain('bakery.md') < gain('garage.md'), `bakery gained ${gain('bakery.md')}`);
  const unrelated = [...without.keys()].filter((p) => p && !['garage.md', 'bakery.md'].includes(p));
  assert.ok(
    unrelated.some((p) => gain(p!) === 0),
    'a passage with no word near the question gains nothing',
  );
});

test('late interaction scores equal a word-by-word oracle while the background warm-up runs', async (t) => {
  const notes = tldrVault(t, { common: 150, linux: 50 });
  // Its own embedder, so the word table starts empty and the warm-up starts with these queries.
  const embedder = await openEmbedder({ model: 'bundled', modelsDir: '/nonexistent', log: silentLogger() });
  t.after(() => embedder.dispose());
  const state = tempDir(t, 'notes-mcp-state-');
  const index = await NotesIndex.open({ config: testConfig(notes, state), embedder, log: silentLogger() });
  t.after(() => index.close());
  await index.sync();
  const lexical = await index.lexicalForSearch();
  assert.ok(lexical);
  const all = [...lexical.ids()];
  const queries = ['compress a folder', 'show running programs', 'copy files to a server', 'edit text in a file'];
  const picks = queries.map((_, i) => all.filter((_, j) => j % queries.length === i).slice(0, 40));
  const ctx = { owner: index, embedder, lexical, chunks: (x: readonly number[]) => index.chunks(x), warm: true };
  const got = await Promise.all(queries.map((q, i) => lateScores(ctx, q, picks[i]!, 0.5)));

  const unit = async (words: string[]) => new Map((await embedder.embed(words)).map((v, i) => [words[i]!, v]));
  for (const [i, q] of queries.entries()) {
    const qWords = queryTerms(q);
    const recs = index.chunks(picks[i]!);
    const texts = picks[i]!.map((id) => {
      const c = recs.get(id)!;
      return passageWords(`${c.title}\n${c.headings.join('\n')}\n${c.text}`);
    });
    const vec = await unit([...new Set([...qWords, ...texts.flat()])]);
    const weights = qWords.map((w) => lexical.idf(lexicalTokens(w)[0]!));
    const want = texts.map((words) => {
      let total = 0;
      qWords.forEach((qw, k) => {
        let best = 0;
        for (const w of words) {
          const cos = w === qw ? 1 : vec.get(w)!.reduce((s, x, d) => s + x * vec.get(qw)![d]!, 0);
          best = Math.max(best, cos);
        }
        if (best >= 0.5) total += (weights[k]! * (best - 0.5)) / 0.5;
      });
      return total / weights.reduce((a, b) => a + b, 0);
    });
    want.forEach((w, c) => {
      assert.ok(Math.abs(got[i]![c]! - w) < 1e-5, `${q}, chunk ${picks[i]![c]}: ${got[i]![c]} against ${w}`);
    });
  }
});

test('warmSearch gives every word of the index a vector: a query then embeds only itself', async (t) => {
  const notes = tldrVault(t, { common: 80 });
  const inner = await sharedEmbedder();
  let embedded = 0;
  const counting: Embedder = {
    modelId: inner.modelId,
    fingerprint: inner.fingerprint,
    dims: inner.dims,
    maxTokens: inner.maxTokens,
    bagOfWords: inner.bagOfWords,
    countTokens: (text) => inner.countTokens(text),
    embed: (texts) => {
      embedded += texts.length;
      return inner.embed(texts);
    },
    dispose: async () => {},
  };
  const state = tempDir(t, 'notes-mcp-state-');
  const index = await NotesIndex.open({ config: testConfig(notes, state), embedder: counting, log: silentLogger() });
  t.after(() => index.close());
  await index.sync();
  await warmSearch(index);
  embedded = 0;
  await rankChunks(index, 'compress the archive files', { k: 10 });
  // The query vector only: its words, like every passage word, have their vectors already.
  assert.equal(embedded, 1);
  embedded = 0;
  await rankChunks(index, 'compress the archive files', { k: 10 });
  assert.equal(embedded, 0, 'the query vector and its words are cached');
});
