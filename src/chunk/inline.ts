import type { Token } from 'markdown-it';

// Plain text out of markdown-it inline tokens: what the embedder reads and where inline
// #tags are looked for. Works on tokens, so code spans, link targets and autolinked URLs are
// told apart by the parser, not by patterns.

function isAutolink(t: Token): boolean {
  return t.type === 'link_open' && (t.markup === 'autolink' || t.markup === 'linkify');
}

/** A paragraph that is only inline code (a tldr command line): not prose. */
export function isCodeOnly(children: readonly Token[]): boolean {
  let code = false;
  for (const t of children) {
    if (t.type === 'code_inline') code = true;
    else if (t.type === 'softbreak' || t.type === 'hardbreak') continue;
    else if (t.type === 'text' && t.content.trim() === '') continue;
    else return false;
  }
  return code;
}

/**
 * Readable text: words, inline code kept (it is part of the sentence), link text kept,
 * link targets, autolinked URLs and raw HTML left out.
 */
export function inlineProse(children: readonly Token[]): string {
  let out = '';
  let skipDepth = 0;
  for (const t of children) {
    if (skipDepth > 0) {
      if (t.type === 'link_open') skipDepth++;
      else if (t.type === 'link_close') skipDepth--;
      continue;
    }
    if (isAutolink(t)) {
      skipDepth = 1;
      continue;
    }
    switch (t.type) {
      case 'text':
      case 'text_special':
      case 'code_inline':
        out += t.content;
        break;
      case 'image':
        out += t.content;
        break;
      case 'softbreak':
      case 'hardbreak':
        out += ' ';
        break;
      default:
        break;
    }
  }
  return out.replace(/\s+/g, ' ').trim();
}

// Obsidian-style tag: '#' after a boundary, then letters, digits, '_', '-', '/'.
const TAG_RE = /(?<=^|[\s([{"'“‘,;])#([\p{L}\p{N}_\-/]+)/gu;

/** Inline #tags in prose text (code spans and link text/targets excluded). */
export function collectInlineTags(children: readonly Token[], out: Set<string>): void {
  let text = '';
  let linkDepth = 0;
  for (const t of children) {
    if (t.type === 'link_open') linkDepth++;
    else if (t.type === 'link_close') linkDepth = Math.max(0, linkDepth - 1);
    else if (linkDepth > 0) text += ' ';
    else if (t.type === 'text') text += t.content;
    // An escaped \# is literal text, never a tag (needs the text_join rule disabled).
    else if (t.type === 'text_special') text += t.info === 'escape' ? '\\' : t.content;
    else text += ' ';
  }
  if (!text.includes('#')) return;
  for (const m of text.matchAll(TAG_RE)) {
    const tag = (m[1] ?? '').replace(/^\/+|\/+$/g, '').toLowerCase();
    // At least one non-digit, as in Obsidian: "#123" is an issue number, not a tag.
    if (tag.length > 0 && /[^\d/]/u.test(tag) && !isHexColour(tag)) out.add(tag);
  }
}

/**
 * "#ff0000", "#ff000080" and "#f00" are colours, not tags: six or eight hex digits, or three
 * or four with at least one digit among them ("#fab" and "#bead" stay tags, being words).
 */
export function isHexColour(tag: string): boolean {
  if (!/^[0-9a-f]+$/.test(tag)) return false;
  if (tag.length === 6 || tag.length === 8) return true;
  return (tag.length === 3 || tag.length === 4) && /\d/.test(tag);
}
