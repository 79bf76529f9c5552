// A note read in pages of whole lines, so an agent can read a long note without the server
// ever building a huge result, and can name exactly where it left off.

export interface LinePage {
  content: string;
  startLine: number;
  endLine: number;
  totalLines: number;
  /** The requested range went on past this page: read again from nextStartLine. */
  truncated: boolean;
  nextStartLine: number | undefined;
}

export type LinePageResult = { ok: true; page: LinePage } | { ok: false; reason: string };

/** The note's lines; a final newline ends the last line instead of starting an empty one. */
export function splitLines(text: string): string[] {
  const out = text.split(/\r?\n/);
  if (out.length > 1 && out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * Lines startLine..endLine (1-based, inclusive, clamped to the note), cut at the last whole
 * line that fits in maxChars. A first line longer than maxChars is returned whole: a page
 * never ends mid-line, and always makes progress.
 */
export function pageLines(
  text: string,
  range: { startLine?: number | undefined; endLine?: number | undefined; maxChars: number },
): LinePageResult {
  const all = splitLines(text);
  const start = Math.min(range.startLine ?? 1, Math.max(all.length, 1));
  const requestedEnd = Math.min(range.endLine ?? all.length, all.length);
  if (requestedEnd < start && all.length > 0) {
    return { ok: false, reason: `end_line ${range.endLine} is before start_line ${start}.` };
  }
  let end = start - 1;
  let size = 0;
  while (end < requestedEnd && (end === start - 1 || size + (all[end]?.length ?? 0) + 1 <= range.maxChars)) {
    size += (all[end]?.length ?? 0) + 1;
    end++;
  }
  const truncated = end < requestedEnd;
  return {
    ok: true,
    page: {
      content: all.slice(start - 1, end).join('\n'),
      startLine: start,
      endLine: end,
      totalLines: all.length,
      truncated,
      nextStartLine: truncated ? end + 1 : undefined,
    },
  };
}
