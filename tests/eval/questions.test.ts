import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { CORPORA, REPO_ROOT } from '../helpers/tmp.ts';

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
