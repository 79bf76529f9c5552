import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BUNDLED_MODEL_ID,
  bundledModelDir,
  type Embedder,
  openEmbedder,
  readBundledInfo,
} from '../../src/embed/index.ts';
import { isNotesError } from '../../src/errors.ts';
import { tempDir } from '../helpers/tmp.ts';

function cos(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

function norm(a: Float32Array): number {
  return Math.sqrt(cos(a, a));
}

describe('bundled model through transformers.js', () => {
  let e: Embedder;

  before(async () => {
    // An empty models dir: nothing but the repo's bundled files can be used.
    e = await openEmbedder({ model: 'bundled', modelsDir: '/nonexistent/notes-mcp-models' });
  });
  after(async () => {
    await e.dispose();
  });

  test('loads offline with remote loading switched off', async () => {
    const { env } = await import('@huggingface/transformers');
    assert.equal(env.allowRemoteModels, false);
    assert.equal(e.modelId, BUNDLED_MODEL_ID);
    assert.equal(e.dims, 100);
    assert.equal(e.maxTokens, readBundledInfo().maxTokens);
    assert.match(e.fingerprint, new RegExp(`^${BUNDLED_MODEL_ID}@${readBundledInfo().revision};`));
  });

  test('same text gives the same unit-length vector of the model dims', async () => {
    const [a] = await e.embed(['Markdown notes served to agents']);
    const [b] = await e.embed(['Markdown notes served to agents']);
    assert.ok(a && b);
    assert.equal(a.length, 100);
    assert.ok(a instanceof Float32Array);
    assert.ok(Math.abs(norm(a) - 1) < 1e-5, `norm ${norm(a)}`);
    assert.deepEqual(a, b);
  });

  test('a batch gives the same vectors as one text at a time', async () => {
    const texts = [
      'short',
      'a somewhat longer sentence about archiving files with tar and gzip',
      'list the contents of a directory, including hidden files',
      '',
      'How do I copy a file over SSH to a remote host?',
    ];
    const batch = await e.embed(texts);
    assert.equal(batch.length, texts.length);
    for (const [i, t] of texts.entries()) {
      const [single] = await e.embed([t]);
      const row = batch[i];
      assert.ok(single && row);
      for (let d = 0; d < single.length; d++)
        assert.ok(Math.abs((single[d] ?? 0) - (row[d] ?? 0)) < 1e-5, `text ${i} dim ${d}`);
    }
  });

  test('more texts than one ONNX batch keep their order', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 'cat '.repeat((i % 7) + 1) : 'finance'));
    const out = await e.embed(texts);
    const [cat] = await e.embed(['cat']);
    const [finance] = await e.embed(['finance']);
    assert.ok(cat && finance);
    for (const [i, v] of out.entries()) {
      assert.ok(cos(v, i % 2 === 0 ? cat : finance) > 0.9999, `row ${i}`);
    }
  });

  test('vectors match the stock transformers.js feature-extraction pipeline', async () => {
    const { pipeline } = await import('@huggingface/transformers');
    const stock = (await pipeline('feature-extraction', bundledModelDir(), { dtype: 'fp32' })) as unknown as {
      (x: string[], o: { pooling: 'mean'; normalize: boolean }): Promise<{ dims: number[]; data: Float32Array }>;
      dispose(): Promise<void>;
    };
    try {
      const texts = [
        'Extract a gzipped archive into a directory',
        'tar',
        'Copy files between hosts over SSH, verbosely.',
      ];
      const ref = await stock(texts, { pooling: 'mean', normalize: true });
      const ours = await e.embed(texts);
      assert.deepEqual(ref.dims, [texts.length, 100]);
      for (const [i, v] of ours.entries()) {
        for (let d = 0; d < 100; d++)
          assert.ok(Math.abs((v[d] ?? 0) - (ref.data[i * 100 + d] ?? 0)) < 1e-5, `text ${i} dim ${d}`);
      }
    } finally {
      await stock.dispose();
    }
  });

  test('car is nearer automobile than banana', async () => {
    const [car, automobile, banana] = await e.embed(['car', 'automobile', 'banana']);
    assert.ok(car && automobile && banana);
    assert.ok(cos(car, automobile) > cos(car, banana) + 0.2, `${cos(car, automobile)} vs ${cos(car, banana)}`);
  });

  test('a sentence about a dog is nearer one about puppies than one about tax law', async () => {
    const [dog, puppies, tax] = await e.embed([
      'The dog barked at the mailman all morning.',
      'Puppies love to chew on shoes and play fetch.',
      'The tax code defines which business expenses corporations may deduct.',
    ]);
    assert.ok(dog && puppies && tax);
    assert.ok(cos(dog, puppies) > cos(dog, tax), `${cos(dog, puppies)} vs ${cos(dog, tax)}`);
  });

  test('empty, blank and punctuation-only text give a zero vector, not NaN', async () => {
    const out = await e.embed(['', '   \n\t', '!!! ... ???']);
    for (const v of out) {
      assert.equal(v.length, 100);
      assert.ok(v.every((x) => x === 0));
    }
    assert.deepEqual(await e.embed([]), []);
  });

  test('very long text is truncated at the model window, not an error', async () => {
    const long = `${'river '.repeat(e.maxTokens)}${'music finance '.repeat(600)}`;
    assert.equal(e.countTokens(long), e.maxTokens + 1200);
    const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((x, i) => Math.abs(x - (b[i] ?? 0))));
    const [v, river, lastOther] = await e.embed([long, 'river', `${'river '.repeat(e.maxTokens - 1)}music`]);
    assert.ok(v && river && lastOther);
    // Only the first maxTokens tokens are read: all "river". One other token would show.
    assert.ok(maxDiff(v, river) < 1e-5, `differs by ${maxDiff(v, river)}`);
    assert.ok(maxDiff(lastOther, river) > 1e-5);
  });

  test('countTokens counts word pieces without special tokens, and unknown words still tokenize', () => {
    assert.equal(e.countTokens(''), 0);
    assert.equal(e.countTokens('hello world'), 2);
    assert.equal(e.countTokens('Hello, world!'), 4);
    // Not in the vocabulary: split into pieces instead of one [UNK].
    assert.ok(e.countTokens('dockerized') >= 2);
  });
});

test('an unknown model id is refused with NOTES_E_MODEL_UNKNOWN', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openEmbedder({ model: 'nobody/no-such-model', modelsDir: dir }), (err) =>
    isNotesError(err, 'NOTES_E_MODEL_UNKNOWN'),
  );
});

test('a missing MiniLM gives the exact message that says what to do', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openEmbedder({ model: 'Xenova/all-MiniLM-L6-v2', modelsDir: dir }), (err) => {
    assert.ok(isNotesError(err, 'NOTES_E_MODEL_MISSING'));
    assert.equal(
      err.message,
      'model Xenova/all-MiniLM-L6-v2 is not on this machine: run "notes-mcp model fetch" or set NOTES_MCP_MODEL=bundled',
    );
    return true;
  });
});
