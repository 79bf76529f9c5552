import { stemmer } from 'stemmer';

// A short excerpt of a passage around the query's words, with the matches in **bold**.
// A word is a match when BM25 would count it: the same Porter stem as a query term
// ("studies" bolds "study", "running" bolds "runs"). Candidates are found by searching for
// each stem's prefix (no alternation or look-behind regexes: in Unicode mode those cost a
// third of a millisecond per passage), then checked by stemming the word found.

const MAX = 240;
const WORD = /[\p{L}\p{N}]+/gu;
const LETTERS = /^[a-z]+$/;

/** What makeSnippet looks for, prepared once per query. */
export interface SnippetPattern {
  /** Searched for in the lower-cased text: each stem, minus a final 'i' (study -> studi). */
  prefixes: string[];
  /** Porter stems of the ASCII-letter terms; other terms match any word they begin. */
  stems: ReadonlySet<string>;
}

// Stems of words seen in snippets: the same few thousand words come back query after query,
// and stemming them again was a third of a snippet's time. Bounded: starts over when full.
const STEMS = new Map<string, string>();
const MAX_STEMS = 50_000;

function porter(word: string): string {
  if (!LETTERS.test(word)) return word;
  let st = STEMS.get(word);
  if (st === undefined) {
    if (STEMS.size >= MAX_STEMS) STEMS.clear();
    st = stemmer(word);
    STEMS.set(word, st);
  }
  return st;
}

/** The pattern for these query terms, or null when none is long enough to show. */
export function termPattern(terms: readonly string[]): SnippetPattern | null {
  const stems = new Set<string>();
  const prefixes = new Set<string>();
  for (const t of terms) {
    const w = t.toLowerCase();
    if (w.length < 2) continue;
    const st = porter(w);
    stems.add(st);
    prefixes.add(LETTERS.test(w) && st.endsWith('i') && st.length > 2 ? st.slice(0, -1) : st);
  }
  return prefixes.size > 0 ? { prefixes: [...prefixes], stems } : null;
}

/** Does this word (lower-cased) match the pattern? */
function matches(word: string, pattern: SnippetPattern): boolean {
  if (LETTERS.test(word)) return pattern.stems.has(porter(word));
  return pattern.prefixes.some((p) => !LETTERS.test(p) && word.startsWith(p));
}

const WORD_CHAR = /[\p{L}\p{N}]/u;
const ALL_WORD = /^[\p{L}\p{N}]+$/u;

/**
 * [start, end) of every word in `flat` that matches the pattern, in order. Searches the
 * lower-cased text for each prefix instead of matching every word: no match object per word,
 * which made snippets the largest source of garbage per search. Falls back to the word regex
 * when lower-casing changes the text's length (then indexes would not line up) or a prefix
 * is not all letters and digits.
 */
export function matchedWords(flat: string, pattern: SnippetPattern): Array<[number, number]> {
  const lower = flat.toLowerCase();
  if (lower.length !== flat.length || !pattern.prefixes.every((st) => ALL_WORD.test(st)))
    return wordHits(flat, pattern);
  const starts = new Map<number, number>();
  for (const st of pattern.prefixes) {
    for (let at = lower.indexOf(st); at >= 0; at = lower.indexOf(st, at + 1)) {
      if (at > 0 && isWordChar(lower, at - 1)) continue;
      if (starts.has(at)) continue;
      let end = at + st.length;
      while (end < lower.length && isWordChar(lower, end)) end++;
      if (matches(lower.slice(at, end), pattern)) starts.set(at, end);
    }
  }
  const hits: Array<[number, number]> = [];
  starts.forEach((end, start) => {
    hits.push([start, end]);
  });
  return hits.sort((a, b) => a[0] - b[0]);
}

/** The same as matchedWords, one regex match per word: the fallback, and the tests' reference. */
export function wordHits(flat: string, pattern: SnippetPattern): Array<[number, number]> {
  const hits: Array<[number, number]> = [];
  for (const m of flat.matchAll(WORD)) {
    const w = m[0].toLowerCase();
    if (pattern.prefixes.some((st) => w.startsWith(st)) && matches(w, pattern))
      hits.push([m.index, m.index + m[0].length]);
  }
  return hits;
}

function isWordChar(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  // Surrogate halves: take the whole code point.
  if (c >= 0xd800 && c <= 0xdfff) {
    const cp = text.codePointAt(c <= 0xdbff ? i : i - 1) ?? c;
    return WORD_CHAR.test(String.fromCodePoint(cp));
  }
  return WORD_CHAR.test(text[i] ?? '');
}

/** Whitespace runs as single spaces: the text a snippet's offsets refer to. */
export function flatten(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A snippet for query terms, or for a pattern prepared once per query with termPattern. */
export function makeSnippet(text: string, terms: SnippetPattern | readonly string[] | null, max = MAX): string {
  const flat = flatten(text);
  const pattern = terms === null ? null : isPattern(terms) ? terms : termPattern(terms);
  return snippetFromHits(flat, pattern ? matchedWords(flat, pattern) : [], max);
}

function isPattern(x: SnippetPattern | readonly string[]): x is SnippetPattern {
  return !Array.isArray(x);
}

/** The window of `flat` holding the most matched words, cut at spaces, matches in bold. */
export function snippetFromHits(flat: string, hits: ReadonlyArray<readonly [number, number]>, max = MAX): string {
  let start = 0;
  if (hits.length > 0 && flat.length > max) {
    // Pick the window that holds the most matches.
    let best = 0;
    let j = 0;
    for (let i = 0; i < hits.length; i++) {
      while (hits[i]![0] - hits[j]![0] > max * 0.8) j++;
      if (i - j + 1 > best) {
        best = i - j + 1;
        start = Math.max(0, hits[j]![0] - 30);
      }
    }
  }
  // Cut at word boundaries inside the window.
  let from = start;
  if (from > 0) {
    const sp = flat.indexOf(' ', from);
    from = sp >= 0 && sp < start + 40 ? sp + 1 : from;
  }
  let to = Math.min(flat.length, start + max);
  if (to < flat.length) {
    const sp = flat.lastIndexOf(' ', to);
    if (sp > from) to = sp;
  }
  let out = '';
  let pos = from;
  for (const [a, b] of hits) {
    if (b <= from || a >= to) continue;
    const s = Math.max(a, from);
    const e = Math.min(b, to);
    out += `${flat.slice(pos, s)}**${flat.slice(s, e)}**`;
    pos = e;
  }
  out += flat.slice(pos, to);
  return `${from > 0 ? '…' : ''}${out}${to < flat.length ? '…' : ''}`;
}
