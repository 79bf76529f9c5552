import { BLANK, type Block } from './blocks.ts';
import { charCost, estimateTokens } from './tokens.ts';

export interface Sizing {
  maxTokens: number;
  overlapTokens: number;
  countTokens: ((text: string) => number) | undefined;
  /** Pieces still allowed before the note is truncated; shared across the note. */
  budget: { left: number; truncated: boolean };
}

// Beyond this many characters per token budget, text is over the limit under any tokenizer
// we ship, and counting it exactly would only cost time.
const CHARS_PER_TOKEN_CEILING = 32;

/** Token count of `text`, exact when a counter is given and the text is not huge. */
export function countText(text: string, s: Sizing): number {
  if (s.countTokens && text.length <= s.maxTokens * CHARS_PER_TOKEN_CEILING) return s.countTokens(text);
  return estimateTokens(text);
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 0xa0 || code === 0x3000;
}

function isBlankChar(code: number): boolean {
  return isSpace(code) || code === 13 || code === 10 || code === 11 || code === 12;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Windows of about maxTokens over one long line, overlapping by about overlapTokens, broken
 * at a space near the end when there is one. Linear in the line's length.
 */
function charWindows(b: Block, line: string, s: Sizing, out: Block[]): void {
  const from = b.startCol ?? 0;
  const to = b.endCol ?? line.length;
  let start = from;
  for (;;) {
    // A window never starts with blanks: deep indentation alone is not a chunk.
    while (start < to && isBlankChar(line.charCodeAt(start))) start++;
    if (start >= to) return;
    if (s.budget.left <= 0) {
      s.budget.truncated = true;
      return;
    }
    let end = start;
    let cost = 0;
    while (end < to) {
      const c = charCost(line.charCodeAt(end));
      if (cost + c > s.maxTokens && end > start) break;
      cost += c;
      end++;
    }
    if (end < to) {
      const floor = start + Math.floor((end - start) * 0.8);
      for (let k = end; k > floor; k--) {
        if (isSpace(line.charCodeAt(k - 1))) {
          end = k;
          break;
        }
      }
      if (s.countTokens) {
        for (let tries = 0; tries < 4; tries++) {
          const n = s.countTokens(line.slice(start, end));
          if (n <= s.maxTokens) break;
          end = start + Math.max(1, Math.floor(((end - start) * s.maxTokens * 0.9) / n));
        }
      }
      if (end < to && isLowSurrogate(line.charCodeAt(end)) && end - 1 > start) end--;
    }
    const text = line.slice(start, end);
    out.push({
      kind: b.kind,
      startLine: b.startLine,
      endLine: b.startLine,
      startCol: start,
      endCol: end,
      prose: b.kind === 'code' ? '' : text.replace(/\s+/g, ' ').trim(),
      level: 0,
      lead: false,
    });
    s.budget.left--;
    if (end >= to) return;
    // Step back by the overlap, always moving forward by at least half a window.
    let next = end;
    let back = 0;
    const minNext = start + Math.max(1, Math.floor((end - start) / 2));
    while (next > minNext) {
      const c = charCost(line.charCodeAt(next - 1));
      if (back + c > s.overlapTokens) break;
      back += c;
      next--;
    }
    if (isLowSurrogate(line.charCodeAt(next)) && next > minNext) next--;
    start = next;
  }
}

/** Groups of whole lines of about maxTokens, overlapping by about overlapTokens of lines. */
function lineGroups(b: Block, lines: readonly string[], s: Sizing, out: Block[]): void {
  const costs: number[] = [];
  let groupStart = -1;
  let tokens = 0;
  const flush = (last: number) => {
    if (groupStart < 0 || last < groupStart) return;
    let first = groupStart;
    while (first < last && BLANK.test(lines[first] ?? '')) first++;
    if (BLANK.test(lines[first] ?? '')) return;
    if (s.budget.left <= 0) {
      s.budget.truncated = true;
      return;
    }
    const text = lines.slice(first, last + 1).join('\n');
    out.push({
      kind: b.kind,
      startLine: first,
      endLine: last,
      prose: b.kind === 'code' ? '' : text.replace(/\s+/g, ' ').trim(),
      level: 0,
      lead: false,
    });
    s.budget.left--;
  };
  for (let l = b.startLine; l <= b.endLine; l++) {
    const line = lines[l] ?? '';
    const cost = BLANK.test(line) ? 0 : countText(line, s);
    costs.push(cost);
    if (cost > s.maxTokens) {
      flush(l - 1);
      charWindows({ ...b, startLine: l, endLine: l, startCol: undefined, endCol: undefined }, line, s, out);
      groupStart = -1;
      tokens = 0;
      continue;
    }
    if (groupStart >= 0 && tokens + cost > s.maxTokens) {
      flush(l - 1);
      // Carry trailing lines of the previous group, leaving room for this line.
      let carry = l;
      let back = 0;
      while (carry - 1 > groupStart) {
        const c = costs[carry - 1 - b.startLine] ?? 0;
        if (back + c > s.overlapTokens || back + c + cost > s.maxTokens) break;
        back += c;
        carry--;
      }
      groupStart = carry;
      tokens = back;
    }
    if (groupStart < 0) {
      groupStart = l;
      tokens = 0;
    }
    tokens += cost;
    if (s.budget.left <= 0) {
      s.budget.truncated = true;
      return;
    }
  }
  flush(b.endLine);
}

/** A block no larger than maxTokens as is, or split into pieces that are. */
export function splitBlock(b: Block, lines: readonly string[], s: Sizing, out: Block[]): void {
  if (b.startLine === b.endLine) charWindows(b, lines[b.startLine] ?? '', s, out);
  else lineGroups(b, lines, s, out);
}
