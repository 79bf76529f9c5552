// A short excerpt of a passage around the query's words, with the matches in **bold**.

const MAX = 240;

function stem(term: string): string {
  // Crude suffix stripping so "archives" finds "archive" and "archiving": enough for display.
  return term.length > 5 ? term.replace(/(ing|ed|es|s|ly)$/u, '') : term;
}

/** The match pattern for a query's terms, compiled once per query (Unicode regexes are costly). */
export function termPattern(terms: readonly string[]): RegExp | null {
  const stems = terms.map(stem).filter((s) => s.length >= 2);
  if (stems.length === 0) return null;
  const alternatives = stems.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return new RegExp(`(?<![\\p{L}\\p{N}])(${alternatives})[\\p{L}\\p{N}]*`, 'giu');
}

export function makeSnippet(text: string, terms: readonly string[] | RegExp | null, max = MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const re = terms === null || terms instanceof RegExp ? terms : termPattern(terms);
  if (re) re.lastIndex = 0;
  let start = 0;
  if (re && flat.length > max) {
    // Pick the window that holds the most matches.
    const hits: number[] = [];
    for (const m of flat.matchAll(re)) if (m.index !== undefined) hits.push(m.index);
    let best = 0;
    let j = 0;
    for (let i = 0; i < hits.length; i++) {
      while (hits[i]! - hits[j]! > max * 0.8) j++;
      if (i - j + 1 > best) {
        best = i - j + 1;
        start = Math.max(0, hits[j]! - 30);
      }
    }
  }
  let out = flat.slice(start, start + max);
  if (start > 0) out = `…${out.replace(/^\S*\s/, '')}`;
  if (start + max < flat.length) out = `${out.replace(/\s\S*$/, '')}…`;
  return re ? out.replace(re, '**$&**') : out;
}
