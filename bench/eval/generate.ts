// Writes bench/eval/tldr-en-generated.json: the question classes that can be made
// mechanically from the corpus with a fixed seed, so nobody hand-picks the easy ones.
//   rare-bare / rare-sentence  a word found in exactly one page and not in its path, asked
//                              alone and inside a short sentence
//   identifier                 flags, snake_case, kebab-case, $VARS, ~/paths, symbol names
//   phrase                     a quoted run of common words that few pages have in that order
//   filter-folder/tag/date     the hand-written questions again, with a filter
// Run: npx tsc -p tsconfig.json && node dist/bench/eval/generate.js [out.json]
// (NOTES_MCP_CORPORA overrides the folder holding tldr-en.tar.gz.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { lexicalTokens } from '../../src/index/lexical.ts';
import { unpackCorpus } from '../lib/corpus.ts';
import { queryTerms } from '../../src/search/query.ts';
import {
  type CorpusNote,
  halfOf,
  mtimeOf,
  type Question,
  QuestionSet,
  readCorpus,
  rng,
  SEED,
  shuffle,
  tagOf,
} from './corpus.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
// Source tree location whether run from bench/eval (ts loader) or dist/bench/eval.
const EVAL_DIR = HERE.includes(`${join('dist', 'bench')}`) ? resolve(HERE, '..', '..', '..', 'bench', 'eval') : HERE;

const HandWritten = z.array(
  z.object({ id: z.string(), q: z.string(), answers: z.array(z.string()), kind: z.string() }),
);

const SENTENCES = [
  'where did I write about {w}',
  'my notes on {w}',
  'what do I have about {w}',
  'find the page that mentions {w}',
  'I saved something about {w}',
  'how does {w} work',
  'notes mentioning {w} please',
  'what was {w} again',
];

const URL = /<?https?:\/\/\S+/g;
const PLACEHOLDER = /\{\{[^}]*\}\}/g;

function baseName(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.md$/, '');
}

function rareWords(notes: readonly CorpusNote[], next: () => number): Question[] {
  // Document frequency of each BM25 term, over whole pages.
  const df = new Map<string, number>();
  const tokens = notes.map((n) => new Set(lexicalTokens(n.text)));
  for (const set of tokens) for (const t of set) df.set(t, (df.get(t) ?? 0) + 1);
  const rawDf = new Map<string, number>();
  const words = notes.map((n) => {
    const set = new Set((n.text.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((w) => /^[a-z]{5,24}$/.test(w)));
    for (const w of set) rawDf.set(w, (rawDf.get(w) ?? 0) + 1);
    return set;
  });
  const picks: Array<{ word: string; path: string }> = [];
  notes.forEach((n, i) => {
    const path = n.path.toLowerCase();
    const visible = n.text.replace(URL, ' ').replace(PLACEHOLDER, ' ').toLowerCase();
    const candidates = [...words[i]!].filter((w) => {
      if (rawDf.get(w) !== 1 || path.includes(w) || queryTerms(w).length !== 1) return false;
      const stems = lexicalTokens(w);
      return stems.length === 1 && df.get(stems[0]!) === 1 && new RegExp(`\\b${w}\\b`).test(visible);
    });
    if (candidates.length > 0) picks.push({ word: shuffle(candidates.sort(), next)[0]!, path: n.path });
  });
  const chosen = shuffle(picks, next).slice(0, 300);
  const out: Question[] = [];
  chosen.forEach((p, i) => {
    const id = `r${String(i + 1).padStart(3, '0')}`;
    out.push({ id: `${id}b`, q: p.word, answers: [p.path], kind: 'rare-bare', from: id, note: p.word });
    const s = SENTENCES[Math.floor(next() * SENTENCES.length)]!;
    out.push({
      id: `${id}s`,
      q: s.replace('{w}', p.word),
      answers: [p.path],
      kind: 'rare-sentence',
      from: id,
      note: p.word,
    });
  });
  return out;
}

/** Pages containing `token` with no identifier character on either side. */
function pagesWith(notes: readonly CorpusNote[], token: string): string[] {
  const out: string[] = [];
  const lower = token.toLowerCase();
  const isId = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);
  const edgeWord = /[A-Za-z0-9_]/.test(token[0]!);
  const endWord = /[A-Za-z0-9_+]/.test(token[token.length - 1]!);
  for (const n of notes) {
    const text = n.text.toLowerCase();
    for (let at = text.indexOf(lower); at >= 0; at = text.indexOf(lower, at + 1)) {
      const before = text[at - 1];
      const after = text[at + lower.length];
      if (edgeWord && (isId(before) || before === '-')) continue;
      if (!edgeWord && token.startsWith('-') && (isId(before) || before === '-')) continue;
      if (endWord && (isId(after) || after === '-')) continue;
      out.push(n.path);
      break;
    }
  }
  return out;
}

const NAMED = ['--since', '$PATH', '~/.ssh/config', '$HOME', '--force-with-lease'];

type IdClass = 'flag' | 'snake' | 'kebab' | 'env' | 'path';
const ID_CLASSES: Array<{ cls: IdClass; re: RegExp; quota: number; maxPages: number }> = [
  { cls: 'flag', re: /^--[a-z][a-z0-9]*(-[a-z0-9]+)*$/, quota: 70, maxPages: 8 },
  { cls: 'snake', re: /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/, quota: 40, maxPages: 8 },
  { cls: 'kebab', re: /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/, quota: 40, maxPages: 8 },
  { cls: 'env', re: /^\$[A-Z][A-Z0-9_]+$/, quota: 20, maxPages: 40 },
  { cls: 'path', re: /^~?\/(?:[\w.-]+\/)*\.?[\w-]+(?:\.[\w-]+)*$/, quota: 30, maxPages: 8 },
];

function identifiers(notes: readonly CorpusNote[], next: () => number): Question[] {
  // Candidate tokens from the code lines (placeholders removed), by class, with their pages.
  const seen = new Map<string, { cls: IdClass; pages: Set<string> }>();
  for (const n of notes) {
    for (const line of n.text.split('\n')) {
      if (!line.startsWith('`')) continue;
      const code = line.replace(PLACEHOLDER, ' ').replace(/`/g, ' ');
      for (const raw of code.split(/\s+/)) {
        const tok = raw.replace(/^["'([]+|["'),;:\]|]+$/g, '').split('=')[0]!;
        for (const c of ID_CLASSES) {
          const t = c.cls === 'env' ? tok.split(/[:/]/)[0]! : tok;
          if (!c.re.test(t)) continue;
          if (c.cls === 'path' && !(t.startsWith('~/') || (t.startsWith('/') && t.split('/').length >= 3))) continue;
          const e = seen.get(t) ?? { cls: c.cls, pages: new Set<string>() };
          e.pages.add(n.path);
          seen.set(t, e);
          break;
        }
      }
    }
  }
  const out: Question[] = [];
  let i = 0;
  for (const c of ID_CLASSES) {
    const pool = [...seen.entries()]
      .filter(([, e]) => e.cls === c.cls && e.pages.size <= c.maxPages)
      .map(([t]) => t)
      .sort();
    let taken = 0;
    for (const tok of shuffle(pool, next)) {
      if (taken >= c.quota) break;
      const answers = pagesWith(notes, tok);
      if (answers.length === 0 || answers.length > c.maxPages) continue;
      out.push({
        id: `i${String(++i).padStart(3, '0')}`,
        q: tok,
        answers,
        kind: 'identifier',
        note: c.cls,
      });
      taken++;
    }
  }
  // The ones the issue names, whatever their page counts.
  for (const tok of NAMED) {
    const answers = pagesWith(notes, tok);
    if (answers.length > 0)
      out.push({ id: `i${String(++i).padStart(3, '0')}`, q: tok, answers, kind: 'identifier', note: 'named' });
  }
  // Pages named by symbols (c++, %, [[): every one, asked by its name; and 20 of those with
  // '.' or '_' in the name (mkfs.fat, pg_dump).
  const byName = new Map<string, string[]>();
  for (const n of notes) {
    const b = baseName(n.path);
    if (/^[a-z0-9-]+$/.test(b)) continue;
    byName.set(b, [...(byName.get(b) ?? []), n.path]);
  }
  const names = [...byName.keys()].sort();
  const symbols = names.filter((b) => /[^a-z0-9._-]/.test(b));
  const dotted = shuffle(
    names.filter((b) => !/[^a-z0-9._-]/.test(b)),
    next,
  ).slice(0, 20);
  for (const name of [...symbols, ...dotted]) {
    const answers = byName.get(name)!;
    out.push({ id: `i${String(++i).padStart(3, '0')}`, q: name, answers, kind: 'identifier', note: 'name' });
  }
  return out;
}

/** Index of `seq` in `tokens`, or -1. */
function indexOfSeq(tokens: readonly string[], seq: readonly string[]): number {
  outer: for (let i = 0; i + seq.length <= tokens.length; i++) {
    for (let j = 0; j < seq.length; j++) if (tokens[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

function phrases(notes: readonly CorpusNote[], next: () => number): Question[] {
  const tokens = notes.map((n) => lexicalTokens(n.text));
  const df = new Map<string, number>();
  for (const t of tokens) for (const s of new Set(t)) df.set(s, (df.get(s) ?? 0) + 1);
  const out: Question[] = [];
  let i = 0;
  for (const ni of shuffle(
    notes.map((_, k) => k),
    next,
  )) {
    if (out.length >= 150) break;
    const n = notes[ni]!;
    const lines = n.text.split('\n').filter((l) => l.startsWith('- ') && l.endsWith(':'));
    if (lines.length === 0) continue;
    const line = lines[Math.floor(next() * lines.length)]!.slice(2, -1);
    const words = line.split(/\s+/).filter((w) => /^[A-Za-z]+$/.test(w));
    // Three or four words in a row, each common on its own (in 30+ pages), that at most three
    // pages have in this order: the quotes, not the words, single the page out.
    const len = 3 + Math.floor(next() * 2);
    for (let s = 0; s + len <= words.length; s++) {
      const run = words.slice(s, s + len);
      const stems = run.flatMap((w) => lexicalTokens(w));
      if (stems.length !== len || stems.some((st) => (df.get(st) ?? 0) < 30)) continue;
      if (queryTerms(run.join(' ')).length < 2) continue;
      const answers = notes.filter((_, k) => indexOfSeq(tokens[k]!, stems) >= 0).map((x) => x.path);
      if (answers.length === 0 || answers.length > 3) continue;
      const id = `p${String(++i).padStart(3, '0')}`;
      const quoted = `"${run.join(' ').toLowerCase()}"`;
      // Every other phrase comes with a word outside the quotes, as people type them.
      const rest = words.filter((w, k) => (k < s || k >= s + len) && queryTerms(w).length === 1);
      const extra = i % 2 === 0 && rest.length > 0 ? rest[Math.floor(next() * rest.length)]!.toLowerCase() : '';
      out.push({ id, q: extra ? `${quoted} ${extra}` : quoted, answers, kind: 'phrase' });
      break;
    }
  }
  return out;
}

function filtered(hand: z.infer<typeof HandWritten>): Question[] {
  const out: Question[] = [];
  const DAY = 86_400_000;
  for (const q of hand) {
    const first = q.answers[0]!;
    const folder = first.split('/').slice(0, 2).join('/');
    const inFolder = q.answers.filter((a) => a.startsWith(`${folder}/`));
    out.push({ id: `${q.id}f`, q: q.q, answers: inFolder, kind: 'filter-folder', from: q.id, filter: { folder } });
    const tag = tagOf(first);
    const tagged = q.answers.filter((a) => tagOf(a) === tag);
    out.push({ id: `${q.id}t`, q: q.q, answers: tagged, kind: 'filter-tag', from: q.id, filter: { tags: [tag] } });
    // A week around the first answer's modification time ("what did I change that week").
    const t = mtimeOf(first);
    const after = t - 3 * DAY;
    const before = t + 4 * DAY;
    const dated = q.answers.filter((a) => mtimeOf(a) >= after && mtimeOf(a) < before);
    out.push({
      id: `${q.id}d`,
      q: q.q,
      answers: dated,
      kind: 'filter-date',
      from: q.id,
      filter: { modifiedAfter: after, modifiedBefore: before },
    });
  }
  return out;
}

/**
 * JSON laid out the way the repo's formatter (biome) leaves it, so `biome check` passes on the
 * generated file: objects one key per line, arrays of scalars on one line when they fit.
 */
function toJson(value: unknown, indent: string, lead = indent.length): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      // The line also holds what comes before the array and a trailing comma.
      if (lead + flat.length + 1 <= 120) return flat;
    }
    return `[\n${value.map((v) => `${inner}${toJson(v, inner)}`).join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([k, v]) => {
      const head = `${inner}${JSON.stringify(k)}: `;
      return `${head}${toJson(v, inner, head.length)}`;
    });
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

function main(): void {
  const work = mkdtempSync(join(tmpdir(), 'notes-mcp-eval-'));
  try {
    unpackCorpus('tldr-en', work);
    const notes = readCorpus(work);
    const hand = HandWritten.parse(JSON.parse(readFileSync(join(EVAL_DIR, 'tldr-en-questions.json'), 'utf8')));
    const set = QuestionSet.parse([
      ...rareWords(notes, rng(`${SEED}:rare`)),
      ...identifiers(notes, rng(`${SEED}:id`)),
      ...phrases(notes, rng(`${SEED}:phrase`)),
      ...filtered(hand),
    ]);
    const file = process.argv[2] ?? join(EVAL_DIR, 'tldr-en-generated.json');
    writeFileSync(file, `${toJson(set, '')}\n`);
    const counts = new Map<string, { tuning: number; held: number }>();
    for (const q of set) {
      const c = counts.get(q.kind) ?? { tuning: 0, held: 0 };
      if (halfOf(q.from ?? q.id) === 'tuning') c.tuning++;
      else c.held++;
      counts.set(q.kind, c);
    }
    for (const [k, c] of counts) process.stdout.write(`${k.padEnd(14)} ${c.tuning} tuning, ${c.held} held-out\n`);
    process.stdout.write(`wrote ${set.length} questions to ${file}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
