// Turning a user's free text into an FTS5 query that can never be a syntax error: every term
// is quoted (so `"`, `*`, `-`, `NEAR`, `AND`, parentheses are plain text) and OR-ed, so a
// natural-language question ranks by BM25 instead of requiring every word.

const STOPWORDS = new Set(
  `a an and are as at be but by can could do does doing done for from get gets got has have how i if in into is it its
  me my of on or our please should so some than that the their them then there these this those to use used using
  want was way we what when where which while who why will with would you your`.split(/\s+/),
);

/** A filler word of questions ("how", "the", "want"), lower-cased. */
export function isStopword(word: string): boolean {
  return STOPWORDS.has(word);
}

/** Lower-cased word terms of a query (letters and digits of any script), stopwords removed. */
export function queryTerms(query: string, keepStopwords = false): string[] {
  const words =
    query
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{N}_]+/gu) ?? [];
  const out: string[] = [];
  const seen = new Set<string>();
  for (const w of words) {
    if (!keepStopwords && STOPWORDS.has(w)) continue;
    if (seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out.slice(0, 32);
}

/** Terms to search for: without filler words when any remain. */
export function searchTerms(query: string): string[] {
  const terms = queryTerms(query);
  return terms.length > 0 ? terms : queryTerms(query, true);
}

/** An FTS5 MATCH expression OR-ing quoted terms, or null when there are none. */
export function ftsMatchOf(terms: readonly string[]): string | null {
  if (terms.length === 0) return null;
  return terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

/** An FTS5 MATCH expression for the query, or null when it has no searchable words. */
export function ftsMatch(query: string): string | null {
  return ftsMatchOf(searchTerms(query));
}

export interface ParsedQuery {
  /** The query with its quote marks removed: what ranking sees (phrase words count too). */
  text: string;
  /** The text of each balanced "quoted phrase", in order. */
  phrases: string[];
}

const QUOTED = /"([^"]*)"/g;

/**
 * Quoted phrases out of a query. A phrase must appear with its words in this order (stemmed
 * like BM25, punctuation between them ignored) in a passage for it to be returned; the rest of
 * the query only ranks the passages that have every phrase. An unpaired quote is ordinary text.
 */
export function parseQuery(query: string): ParsedQuery {
  const phrases: string[] = [];
  for (const m of query.matchAll(QUOTED)) {
    const p = (m[1] ?? '').trim();
    if (p.length > 0) phrases.push(p);
  }
  if (phrases.length === 0) return { text: query, phrases };
  return { text: query.replace(QUOTED, ' $1 ').replace(/\s+/g, ' ').trim(), phrases };
}
