import MarkdownIt, { type MarkdownIt as Md } from 'markdown-it';
import { type Block, extractBlocks } from './blocks.ts';
import { frontMatterAliases, frontMatterTags, frontMatterTitle, splitFrontMatter } from './front-matter.ts';
import { countText, type Sizing, splitBlock } from './split.ts';
import type { Chunk, ChunkOptions, ParsedNote } from './types.ts';
import { indexText } from './normalize.ts';

/**
 * Sized for the bundled word-vector model and the tldr pages: a page of ~8 examples becomes
 * one to three chunks. Tune against the search quality bench, not by feel.
 */
export const DEFAULT_CHUNK_OPTIONS: Readonly<ChunkOptions> = Object.freeze({
  maxTokens: 200,
  overlapTokens: 24,
  maxChunks: 1000,
  keepCodeWithLead: true,
});

// One parser for the process: markdown-it keeps no per-document state on the instance.
// text_join is off so an escaped \# stays a separate token and is not read as a tag.
let parser: Md | undefined;
function markdown(): Md {
  if (!parser) {
    parser = new MarkdownIt('default', { html: true, linkify: false, typographer: false });
    parser.disable('text_join');
    // Nothing is rendered: skip URL normalisation (mdurl + punycode on every link).
    parser.normalizeLink = (url) => url;
    parser.normalizeLinkText = (url) => url;
  }
  return parser;
}

/** A run of blocks kept together: one block, or a lead and the code it introduces. */
interface Unit {
  blocks: Block[];
  tokens: number;
  heading: boolean;
}

interface Draft {
  units: Unit[];
  tokens: number;
  headings: string[];
  hasContent: boolean;
}

function sliceLines(lines: readonly string[], first: Block, last: Block): string {
  const sL = first.startLine;
  const eL = last.endLine;
  const sC = first.startCol ?? 0;
  if (sL === eL) return (lines[sL] ?? '').slice(sC, last.endCol);
  const parts = [(lines[sL] ?? '').slice(sC)];
  for (let l = sL + 1; l < eL; l++) parts.push(lines[l] ?? '');
  parts.push((lines[eL] ?? '').slice(0, last.endCol));
  return parts.join('\n');
}

function blockText(lines: readonly string[], b: Block): string {
  return sliceLines(lines, b, b);
}

function baseName(fileName: string): string {
  const name = fileName.split(/[/\\]/).pop() ?? fileName;
  return name.replace(/\.(md|markdown)$/i, '').normalize('NFC');
}

function sameText(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** "title > heading > sub", without repeating a heading equal to the title. */
function contextLine(title: string, headings: readonly string[]): string {
  const parts: string[] = [];
  for (const p of [title, ...headings]) {
    const t = p.length > 200 ? p.slice(0, 200) : p;
    if (t.length === 0) continue;
    const prev = parts[parts.length - 1];
    if (prev === undefined || !sameText(prev, t)) parts.push(t);
  }
  return parts.join(' > ');
}

function toUnits(blocks: readonly Block[], lines: readonly string[], s: Sizing, keepCodeWithLead: boolean): Unit[] {
  const sized: { block: Block; tokens: number }[] = [];
  for (const b of blocks) {
    if (s.budget.left <= 0) {
      s.budget.truncated = true;
      break;
    }
    const tokens = countText(blockText(lines, b), s);
    if (tokens <= s.maxTokens) {
      sized.push({ block: b, tokens });
      continue;
    }
    const pieces: Block[] = [];
    splitBlock(b, lines, s, pieces);
    for (const p of pieces) sized.push({ block: p, tokens: countText(blockText(lines, p), s) });
  }
  const units: Unit[] = [];
  for (let i = 0; i < sized.length; i++) {
    const { block, tokens } = sized[i]!;
    const unit: Unit = { blocks: [block], tokens, heading: block.kind === 'heading' };
    if (keepCodeWithLead && block.kind === 'prose' && block.lead) {
      while (i + 1 < sized.length) {
        const next = sized[i + 1]!;
        if (next.block.kind !== 'code' || unit.tokens + next.tokens > s.maxTokens) break;
        unit.blocks.push(next.block);
        unit.tokens += next.tokens;
        i++;
      }
    }
    units.push(unit);
  }
  return units;
}

function emptyDraft(headings: string[]): Draft {
  return { units: [], tokens: 0, headings, hasContent: false };
}

/** Trailing content units of a full draft worth carrying into the next one. */
function overlapOf(prev: Draft, incoming: number, s: Sizing): Unit[] {
  const carry: Unit[] = [];
  let tokens = 0;
  // Never carry every content unit: the next chunk would contain the whole previous one.
  const content = prev.units.filter((u) => !u.heading).length;
  for (let i = prev.units.length - 1; i >= 0 && carry.length < content - 1; i--) {
    const u = prev.units[i]!;
    if (u.heading || tokens + u.tokens > s.overlapTokens || tokens + u.tokens + incoming > s.maxTokens) break;
    carry.unshift(u);
    tokens += u.tokens;
  }
  return carry;
}

/**
 * Units into chunk drafts, at most maxChunks. With `pack`, a heading starts a new chunk only
 * when the current one is full: a note of 600,000 one-line sections was 600,000 chunks (4
 * minutes of embedding and 2.3 GB), where packed they fill chunks as prose does.
 */
function assemble(
  units: readonly Unit[],
  s: Sizing,
  maxChunks: number,
  pack = false,
): { drafts: Draft[]; truncated: boolean } {
  const drafts: Draft[] = [];
  const trail: { level: number; text: string }[] = [];
  let cur = emptyDraft([]);
  let truncated = false;
  const push = (u: Unit) => {
    cur.units.push(u);
    cur.tokens += u.tokens;
  };
  const emit = (): boolean => {
    if (cur.units.length === 0) return true;
    if (drafts.length >= maxChunks) {
      truncated = true;
      return false;
    }
    drafts.push(cur);
    return true;
  };
  for (const u of units) {
    if (u.heading) {
      const h = u.blocks[0]!;
      const full = cur.units.length > 0 && cur.tokens + u.tokens > s.maxTokens;
      const fresh = pack ? full : cur.hasContent || full;
      if (fresh) {
        if (!emit()) break;
        cur = emptyDraft([]);
      }
      while (trail.length > 0 && trail[trail.length - 1]!.level >= h.level) trail.pop();
      trail.push({ level: h.level, text: h.prose });
      // A packed chunk keeps the trail of where it starts.
      const opening = !pack || !cur.hasContent;
      push(u);
      if (opening) cur.headings = trail.map((t) => t.text);
      continue;
    }
    if (cur.hasContent && cur.tokens + u.tokens > s.maxTokens) {
      const prev = cur;
      if (!emit()) break;
      cur = emptyDraft(prev.headings);
      for (const c of overlapOf(prev, u.tokens, s)) push(c);
      cur.hasContent = cur.units.length > 0;
    } else if (!cur.hasContent && cur.tokens > s.maxTokens / 4 && cur.tokens + u.tokens > s.maxTokens) {
      // Many headings would overflow with this block: they become their own chunk. A few
      // short ones stay with it even past maxTokens, so no chunk is a lone heading.
      if (!emit()) break;
      cur = emptyDraft(trail.map((t) => t.text));
    }
    if (!cur.hasContent && cur.units.length === 0) cur.headings = trail.map((t) => t.text);
    push(u);
    cur.hasContent = true;
  }
  if (!truncated) emit();
  return { drafts, truncated };
}

/** Drafts for a note past maxChunks: packed sections, then chunks up to 16x as large. */
function fit(units: readonly Unit[], s: Sizing, maxChunks: number): { drafts: Draft[]; truncated: boolean } {
  let r = assemble(units, s, maxChunks, true);
  for (let scale = 2; r.truncated && scale <= 16; scale *= 2) {
    r = assemble(
      units,
      { ...s, maxTokens: s.maxTokens * scale, overlapTokens: s.overlapTokens * scale },
      maxChunks,
      true,
    );
  }
  return r;
}

function toChunk(d: Draft, seq: number, lines: readonly string[], offset: number, title: string, lead: string): Chunk {
  const blocks = d.units.flatMap((u) => u.blocks);
  const first = blocks[0]!;
  const last = blocks[blocks.length - 1]!;
  const text = sliceLines(lines, first, last);
  const inTrail = new Set(d.headings);
  const prose: string[] = [];
  for (const b of blocks) {
    if (b.prose.length === 0) continue;
    if (b.kind === 'heading' && inTrail.has(b.prose)) continue;
    prose.push(b.prose);
  }
  const context = contextLine(title, d.headings);
  // Every chunk after the one holding it carries the note's opening paragraph: a later
  // section's examples are about what the note's first lines say the note is about.
  if (lead.length > 0 && !prose.includes(lead)) prose.unshift(lead);
  const body = prose.length > 0 ? prose.join('\n') : text;
  return {
    seq,
    headings: d.headings,
    startLine: first.startLine + offset + 1,
    endLine: last.endLine + offset + 1,
    text,
    embedText: indexText(context.length > 0 ? `${context}\n${body}` : body),
  };
}

function normalizeOptions(opts: ChunkOptions): { sizing: Sizing; maxChunks: number; keep: boolean } {
  const maxTokens = Math.max(8, Math.floor(opts.maxTokens));
  // Overlap above half a chunk would make consecutive chunks mostly the same text.
  const overlapTokens = Math.min(Math.max(0, Math.floor(opts.overlapTokens)), Math.floor(maxTokens / 2));
  const maxChunks = Math.max(1, Math.floor(opts.maxChunks ?? DEFAULT_CHUNK_OPTIONS.maxChunks ?? 1000));
  return {
    sizing: {
      maxTokens,
      overlapTokens,
      countTokens: opts.countTokens,
      budget: { left: maxChunks * 4, truncated: false },
    },
    maxChunks,
    keep: opts.keepCodeWithLead ?? true,
  };
}

/**
 * Parse one note: front matter, title, tags and heading-aware chunks with line ranges in the
 * original source (front matter lines included). Pure, and bounded in time and memory for
 * any input: the parser's nesting limit, splitting of oversize blocks and `maxChunks` see
 * to that. Line endings may be LF, CRLF or CR; chunk text uses LF.
 */
export function chunkNote(source: string, fileName: string, opts: ChunkOptions): ParsedNote {
  const { sizing, maxChunks, keep } = normalizeOptions(opts);
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const lines = text.split(/\r\n|\r|\n/);
  const fm = splitFrontMatter(lines);
  const body = fm.lineCount > 0 ? lines.slice(fm.lineCount) : lines;

  const inlineTags = new Set<string>();
  const tokens = markdown().parse(body.join('\n'), {});
  const blocks = extractBlocks(tokens, body, inlineTags);

  const firstHeading = blocks.find((b) => b.kind === 'heading' && b.prose.length > 0);
  const title = frontMatterTitle(fm.data) ?? firstHeading?.prose ?? baseName(fileName);
  const tags = [...new Set([...frontMatterTags(fm.data), ...inlineTags])].sort();

  const units = toUnits(blocks, body, sizing, keep);
  let { drafts, truncated } = assemble(units, sizing, maxChunks);
  if (truncated && opts.fitMaxChunks) ({ drafts, truncated } = fit(units, sizing, maxChunks));
  const leadBlock = blocks.find((b) => b.kind === 'prose' && b.prose.length > 0);
  const lead = leadBlock && leadBlock.prose.length <= 400 ? leadBlock.prose : '';
  const chunks = drafts.map((d, i) => toChunk(d, i, body, fm.lineCount, title, lead));
  return {
    title,
    tags,
    aliases: [...new Set(frontMatterAliases(fm.data))],
    frontMatter: fm.data,
    frontMatterError: fm.error,
    chunks,
    truncated: truncated || sizing.budget.truncated,
  };
}
