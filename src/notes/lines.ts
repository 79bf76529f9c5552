// A note read in pages of whole lines, so an agent can read a long note without the server
// ever building a huge result, and can name exactly where it left off.

export interface LinePage {
  content: string;
  startLine: number;
  endLine: number;
  totalLines: number;
  /** The requested range went on past this page: read again from nextStartLine (and nextStartChar). */
  truncated: boolean;
  nextStartLine: number | undefined;
  /** The page ended inside line nextStartLine: the rest of it starts at this character (1-based). */
  nextStartChar: number | undefined;
}

export type LinePageResult = { ok: true; page: LinePage } | { ok: false; reason: string };

/** Where each line of `text` ends: the index of its newline, or text.length for the last. */
function lineEnds(text: string): Uint32Array {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  // A final newline ends the last line instead of starting an empty one.
  if (n > 1 && text.endsWith('\n')) n--;
  const ends = new Uint32Array(n);
  let at = -1;
  for (let k = 0; k < n - 1; k++) {
    at = text.indexOf('\n', at + 1);
    ends[k] = at;
  }
  const last = text.indexOf('\n', at + 1);
  ends[n - 1] = last === -1 ? text.length : last;
  return ends;
}

/**
 * Lines startLine..endLine (1-based, inclusive, clamped to the note), cut at the last whole
 * line that fits in maxChars. A first line longer than maxChars is cut at maxChars (never
 * inside a surrogate pair) and the page says where the rest of it starts (nextStartChar):
 * a page never exceeds maxChars, whatever the note (one 8 MB line was returned whole), and
 * always makes progress. startChar starts the first line further in (1-based).
 *
 * Only the line ends are found for the whole note, not a string per line: a 170k-line note
 * paged this way costs a few milliseconds of the main thread, not tens.
 */
export function pageLines(
  text: string,
  range: {
    startLine?: number | undefined;
    endLine?: number | undefined;
    startChar?: number | undefined;
    maxChars: number;
  },
): LinePageResult {
  const ends = lineEnds(text);
  const total = ends.length;
  const lineBegin = (k: number): number => (k === 0 ? 0 : (ends[k - 1] ?? 0) + 1);
  // The line's text without its newline, and without the \r of a \r\n.
  const stop = (k: number): number => {
    const e = ends[k] ?? 0;
    return e > lineBegin(k) && text.charCodeAt(e - 1) === 13 && e < text.length ? e - 1 : e;
  };
  const start = Math.min(range.startLine ?? 1, Math.max(total, 1));
  const requestedEnd = Math.min(range.endLine ?? total, total);
  if (requestedEnd < start && total > 0) {
    return { ok: false, reason: `end_line ${range.endLine} is before start_line ${start}.` };
  }
  const startChar = range.startChar ?? 1;
  const firstLength = Math.max(0, stop(start - 1) - lineBegin(start - 1));
  if (startChar > 1 && startChar > firstLength) {
    return {
      ok: false,
      reason: `start_char ${startChar} is past the end of line ${start} (${firstLength} characters).`,
    };
  }
  // The first line is read from startChar on.
  const begin = (k: number): number => lineBegin(k) + (k === start - 1 ? startChar - 1 : 0);
  let end = start - 1;
  let size = 0;
  while (end < requestedEnd && (end === start - 1 || size + (stop(end) - begin(end)) + 1 <= range.maxChars)) {
    size += stop(end) - begin(end) + 1;
    end++;
  }
  const first = start - 1;
  if (end === start && stop(first) - begin(first) > range.maxChars) {
    // One line longer than a page: its first maxChars characters, and where the rest starts.
    let cut = begin(first) + range.maxChars;
    const c = text.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) cut--;
    return {
      ok: true,
      page: {
        content: text.slice(begin(first), cut),
        startLine: start,
        endLine: start,
        totalLines: total,
        truncated: true,
        nextStartLine: start,
        nextStartChar: cut - lineBegin(first) + 1,
      },
    };
  }
  const parts: string[] = [];
  for (let k = start - 1; k < end; k++) parts.push(text.slice(begin(k), stop(k)));
  const truncated = end < requestedEnd;
  return {
    ok: true,
    page: {
      content: parts.join('\n'),
      startLine: start,
      endLine: end,
      totalLines: total,
      truncated,
      nextStartLine: truncated ? end + 1 : undefined,
      nextStartChar: undefined,
    },
  };
}
