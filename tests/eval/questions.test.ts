import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { halfOf, QuestionSet as GeneratedSet } from '../../bench/eval/corpus.ts';
import { CORPORA, REPO_ROOT, tempDir } from '../helpers/tmp.ts';

const QUESTIONS = join(REPO_ROOT, 'bench', 'eval', 'tldr-en-questions.json');

const Entry = z.strictObject({
  id: z.string().regex(/^q\d{3,}$/),
  q: z.string().trim().min(10),
  answers: z
    .array(z.string().regex(/^pages\/[a-z-]+\/[^/]+\.md$/))
    .min(1)
    .refine((a) => new Set(a).size === a.length, 'answers repeat a path'),
  kind: z.enum(['paraphrase', 'exact']),
});
const QuestionSet = z.array(Entry);
type QuestionSet = z.infer<typeof QuestionSet>;

function loadSet(): QuestionSet {
  return QuestionSet.parse(JSON.parse(readFileSync(QUESTIONS, 'utf8')));
}

/** Every path in the archive, as `tar -tzf` prints it (relative to the unpacked root). */
function archivePaths(): Set<string> {
  const listing = execFileSync('tar', ['-tzf', join(CORPORA, 'tldr-en.tar.gz')], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return new Set(listing.split('\n').map((line) => line.replace(/^\.\//, '')));
}

test('the question set has the documented shape and size', () => {
  const set = loadSet();
  assert.ok(set.length >= 200, `only ${set.length} questions`);
  const paraphrase = set.filter((e) => e.kind === 'paraphrase').length;
  const exact = set.filter((e) => e.kind === 'exact').length;
  // The README promises roughly 160 paraphrases and 40 exact-wording queries.
  assert.ok(paraphrase >= 150, `only ${paraphrase} paraphrase questions`);
  assert.ok(exact >= 35, `only ${exact} exact questions`);
});

test('ids and question texts are unique', () => {
  const set = loadSet();
  const ids = set.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'duplicate id');
  const texts = set.map((e) => e.q.trim().toLowerCase());
  assert.equal(new Set(texts).size, texts.length, 'duplicate question');
});

test('every answer is a page in the tldr-en archive', () => {
  const set = loadSet();
  const inArchive = archivePaths();
  // Guards against a listing that silently came back empty or rooted elsewhere.
  assert.ok(inArchive.has('pages/common/tar.md'), 'archive listing does not look like tldr-en');
  const missing = set.flatMap((e) => e.answers.filter((a) => !inArchive.has(a)).map((a) => `${e.id}: ${a}`));
  assert.deepEqual(missing, []);
});

const GENERATED = join(REPO_ROOT, 'bench', 'eval', 'tldr-en-generated.json');

test('the generated set has every class in both halves, in the documented sizes, with real answers', () => {
  const set = GeneratedSet.parse(JSON.parse(readFileSync(GENERATED, 'utf8')));
  const ids = set.map((q) => q.id);
  assert.equal(new Set(ids).size, ids.length, 'duplicate id');
  const count = (kind: string, half?: string) =>
    set.filter((q) => q.kind === kind && (half === undefined || halfOf(q.from ?? q.id) === half)).length;
  const minimum: Record<string, number> = {
    'rare-bare': 200,
    'rare-sentence': 200,
    identifier: 150,
    phrase: 100,
    'filter-folder': 150,
    'filter-tag': 150,
    'filter-date': 150,
  };
  for (const [kind, n] of Object.entries(minimum)) {
    assert.ok(count(kind) >= n, `${kind}: ${count(kind)}`);
    for (const half of ['tuning', 'held-out']) assert.ok(count(kind, half) >= n / 4, `${kind} ${half}`);
  }
  // A rare word and its sentence form stay in the same half.
  for (const q of set.filter((x) => x.kind.startsWith('rare-'))) assert.ok(q.from && q.q.includes(q.note ?? '\u0000'));
  for (const named of ['--since', '$PATH', '~/.ssh/config', 'c++', '%', '[[']) {
    assert.ok(
      set.some((q) => q.kind === 'identifier' && q.q === named),
      named,
    );
  }
  const inArchive = archivePaths();
  const missing = set.flatMap((q) => q.answers.filter((a) => !inArchive.has(a)).map((a) => `${q.id}: ${a}`));
  assert.deepEqual(missing, []);
});

test('the generated set is what the committed script makes from the corpus', (t) => {
  const out = join(tempDir(t), 'generated.json');
  execFileSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'eval', 'generate.js'), out], {
    env: { ...process.env, NOTES_MCP_CORPORA: CORPORA },
  });
  assert.equal(readFileSync(out, 'utf8'), readFileSync(GENERATED, 'utf8'));
});
