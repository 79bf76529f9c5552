import type { Token } from 'markdown-it';
import { collectInlineTags, inlineProse, isCodeOnly } from './inline.ts';

/**
 * One unit of a note's body the chunker may split between: a heading, a top-level
 * paragraph, one item of a top-level list, a code block, a blockquote, a table, or a piece of
 * one of those when it is too large on its own.
 */
export interface Block {
  kind: 'heading' | 'prose' | 'code';
  /** 0-based, inclusive, in the body's lines. */
  startLine: number;
  endLine: number;
  /** Column range when the block is a piece of one long line; whole lines otherwise. */
  startCol?: number;
  endCol?: number;
  /** Readable text for the embedder; '' for code, HTML and rules. */
  prose: string;
  /** Heading level 1-6, 0 for other blocks. */
  level: number;
  /** Prose ending in ':' ("- List files:"), usually followed by the code it describes. */
  lead: boolean;
}

export const BLANK = /^\s*$/;

/** Index of the token closing the container opened at `open`. */
function closeOf(tokens: readonly Token[], open: number): number {
  const level = tokens[open]!.level;
  for (let j = open + 1; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.level === level && t.nesting === -1) return j;
  }
  return tokens.length - 1;
}

function lastLine(map: readonly [number, number], lines: readonly string[]): number {
  let end = Math.min(map[1], lines.length) - 1;
  while (end > map[0] && BLANK.test(lines[end] ?? '')) end--;
  return Math.max(end, map[0]);
}

/** Prose of the tokens inside a container, collecting inline #tags on the way. */
function containerProse(tokens: readonly Token[], from: number, to: number, tags: Set<string>): string {
  const parts: string[] = [];
  for (let i = from; i < to; i++) {
    const t = tokens[i]!;
    if (t.type !== 'inline' || !t.children) continue;
    const parent = tokens[i - 1]?.type;
    if (parent === 'heading_open') {
      parts.push(inlineProse(t.children));
      continue;
    }
    if (parent === 'paragraph_open' && isCodeOnly(t.children)) continue;
    collectInlineTags(t.children, tags);
    const p = inlineProse(t.children);
    if (p.length > 0) parts.push(p);
  }
  return parts.join('\n');
}

function make(
  kind: Block['kind'],
  map: readonly [number, number],
  lines: readonly string[],
  prose: string,
  level = 0,
): Block {
  const startLine = Math.min(map[0], Math.max(lines.length - 1, 0));
  return { kind, startLine, endLine: lastLine(map, lines), prose, level, lead: prose.trimEnd().endsWith(':') };
}

/** Top-level tokens → blocks; list items are separate blocks so a list can be split. */
function tokenBlocks(tokens: readonly Token[], lines: readonly string[], tags: Set<string>): Block[] {
  const out: Block[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t.level !== 0 || !t.map) {
      i++;
      continue;
    }
    if (t.nesting === 0) {
      // fence, code_block, html_block, hr: nothing for the embedder.
      out.push(make(t.type === 'hr' || t.type === 'html_block' ? 'prose' : 'code', t.map, lines, ''));
      i++;
      continue;
    }
    const close = closeOf(tokens, i);
    if (t.type === 'heading_open') {
      const inline = tokens[i + 1];
      const text = inline?.children ? inlineProse(inline.children) : '';
      out.push(make('heading', t.map, lines, text, Number(t.tag.slice(1)) || 1));
    } else if (t.type === 'bullet_list_open' || t.type === 'ordered_list_open') {
      for (let j = i + 1; j < close; j++) {
        const item = tokens[j]!;
        if (item.type !== 'list_item_open' || item.level !== 1 || !item.map) continue;
        const itemClose = closeOf(tokens, j);
        out.push(make('prose', item.map, lines, containerProse(tokens, j + 1, itemClose, tags)));
        j = itemClose;
      }
    } else if (t.type === 'paragraph_open') {
      const inline = tokens[i + 1];
      if (inline?.children && isCodeOnly(inline.children)) out.push(make('code', t.map, lines, ''));
      else out.push(make('prose', t.map, lines, containerProse(tokens, i + 1, close, tags)));
    } else {
      out.push(make('prose', t.map, lines, containerProse(tokens, i + 1, close, tags)));
    }
    i = close + 1;
  }
  return out;
}

function rawBlocks(lines: readonly string[], from: number, to: number, out: Block[]): void {
  let runStart = -1;
  for (let l = from; l <= to; l++) {
    const blank = l === to || BLANK.test(lines[l] ?? '');
    if (!blank && runStart < 0) runStart = l;
    if (blank && runStart >= 0) {
      const prose = lines.slice(runStart, l).join(' ').replace(/\s+/g, ' ').trim();
      out.push({ kind: 'prose', startLine: runStart, endLine: l - 1, prose, level: 0, lead: false });
      runStart = -1;
    }
  }
}

/**
 * Blocks covering every non-blank line of the body, in order. Lines the parser left out
 * (it stops descending past its nesting limit) become plain prose blocks, so no text is lost.
 */
export function extractBlocks(tokens: readonly Token[], lines: readonly string[], tags: Set<string>): Block[] {
  const parsed = tokenBlocks(tokens, lines, tags);
  const out: Block[] = [];
  let next = 0;
  for (const b of parsed) {
    if (b.startLine > next) rawBlocks(lines, next, b.startLine, out);
    if (b.startLine < next) {
      if (b.endLine < next) continue;
      b.startLine = next;
    }
    out.push(b);
    next = b.endLine + 1;
  }
  if (next < lines.length) rawBlocks(lines, next, lines.length, out);
  return out;
}
