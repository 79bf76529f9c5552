// A short excerpt of a passage around the query's words, with the matches in **bold**.

const MAX = 240;

function stem(term: string): string {
  // Crude suffix stripping so "archives" finds "archive" and "archiving": enough for display.
  return term.length > 5 ? term.replace(/(ing|ed|es|s|ly)$/u, '') : term;
}

export function makeSnippet(text: string, terms: readonly string[], max = MAX): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const stems = terms.map(stem).filter((s) => s.length >= 2);
  const re = stems.length
    ? new RegExp(
        `(?<![\\p{L}\\p{N}])(${stems.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})[\\p{L}\\p{N}]*`,
        'giu',
      )
    : null;
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
