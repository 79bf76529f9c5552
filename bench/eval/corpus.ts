// What the question generator and the quality bench agree on: how the tldr corpus is read,
// which half a question belongs to, and the tags and modification times given to a copy of
// the corpus so filtered questions have something to filter on. Everything here is a pure
// function of a path or an id, so the generated set and the bench's copy always match.
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const SEED = 'notes-mcp-eval-1';

/** 32-bit FNV-1a of a string: stable across runs and platforms. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A seeded generator (mulberry32): the same seed gives the same questions. */
export function rng(seed: string): () => number {
  let a = fnv1a(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export type Half = 'tuning' | 'held-out';

/**
 * Which half a question is in, from a group key (its id, or the id of the question it was
 * derived from, so a filtered copy of a question never lands in the other half).
 */
export function halfOf(group: string): Half {
  return fnv1a(`${SEED}:${group}`) % 2 === 0 ? 'tuning' : 'held-out';
}

export const TAGS = ['work', 'home', 'ops', 'media', 'dev', 'archive'] as const;

/** The tag a note gets in the bench's copy of the corpus. */
export function tagOf(path: string): string {
  return TAGS[fnv1a(`tag:${path}`) % TAGS.length]!;
}

/** Fixed "now" of the bench's copy: dates do not depend on when it runs. */
export const CORPUS_NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;

/** The modification time a note gets in the copy: within the 120 days before CORPUS_NOW. */
export function mtimeOf(path: string): number {
  return CORPUS_NOW - (fnv1a(`mtime:${path}`) % (120 * DAY));
}

export interface CorpusNote {
  /** Relative to the unpacked archive, e.g. pages/common/tar.md. */
  path: string;
  text: string;
}

/** Every Markdown page of an unpacked tldr archive, sorted by path. */
export function readCorpus(root: string): CorpusNote[] {
  const out: CorpusNote[] = [];
  for (const folder of readdirSync(join(root, 'pages')).sort()) {
    for (const name of readdirSync(join(root, 'pages', folder)).sort()) {
      if (!name.endsWith('.md')) continue;
      const path = `pages/${folder}/${name}`;
      out.push({ path, text: readFileSync(join(root, path), 'utf8') });
    }
  }
  return out;
}

/**
 * Give every page of an unpacked archive its tag (as front matter, which leaves the body and
 * so the chunks unchanged) and its modification time.
 */
export function dressCorpus(root: string): number {
  let n = 0;
  for (const note of readCorpus(root)) {
    const file = join(root, note.path);
    writeFileSync(file, `---\ntags: [${tagOf(note.path)}]\n---\n${note.text}`);
    const t = new Date(mtimeOf(note.path));
    utimesSync(file, t, t);
    n++;
  }
  return n;
}

export const KINDS = [
  'paraphrase',
  'exact',
  'rare-bare',
  'rare-sentence',
  'identifier',
  'phrase',
  'filter-folder',
  'filter-tag',
  'filter-date',
] as const;
export type Kind = (typeof KINDS)[number];

export const Filter = z.strictObject({
  folder: z.string().optional(),
  tags: z.array(z.string()).optional(),
  modifiedAfter: z.number().optional(),
  modifiedBefore: z.number().optional(),
});

export const Question = z.strictObject({
  id: z.string(),
  q: z.string().min(1),
  answers: z.array(z.string()).min(1),
  kind: z.enum(KINDS),
  /** The question this one was derived from (its half follows that one's). */
  from: z.string().optional(),
  /** What the identifier or rare word is, for reading failures. */
  note: z.string().optional(),
  filter: Filter.optional(),
});
export type Question = z.infer<typeof Question>;
export const QuestionSet = z.array(Question);
