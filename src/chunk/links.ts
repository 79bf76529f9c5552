import MarkdownIt, { type MarkdownIt as Md } from 'markdown-it';

// Links between notes, found in a note's source (pure): [[Wikilink]], [[Wikilink|alias]],
// [[Note#Heading]], ![[embeds]] and Markdown links to .md files. Text inside code (fenced and
// indented blocks, inline code spans) is not a link. Each link carries its 1-based line and
// the offsets of its target in the source, so a rename can rewrite exactly that text.

export interface NoteLink {
  kind: 'wiki' | 'markdown';
  /** `![[…]]` or `![…](…)`: the target is embedded rather than linked. */
  embed: boolean;
  /**
   * The note it names, as written: "Folder/Note" for a wikilink; for a Markdown link the
   * decoded href without its #fragment ("../ideas/garden.md").
   */
  target: string;
  /** Heading (or ^block) after '#', when given. */
  heading?: string;
  /** A wikilink's display text after '|', or a Markdown link's text. */
  alias?: string;
  /** 1-based line of the link's start. */
  line: number;
  /** Offsets in the source: the whole link, and the target text as written (encoded, in <…>). */
  start: number;
  end: number;
  targetStart: number;
  targetEnd: number;
}

/** At most this many links are taken from one note (a generated index page stays bounded). */
export const MAX_LINKS_PER_NOTE = 5_000;

let parser: Md | undefined;
function blockParser(): Md {
  if (!parser) {
    // Only the block pass: code blocks and fences are what it is asked for.
    parser = new MarkdownIt('default', { html: true });
    parser.core.ruler.enableOnly(['normalize', 'block']);
  }
  return parser;
}

/** Replace [from, to) with spaces, keeping line breaks so offsets and lines stay put. */
/** `text` with the ranges [from, to) blanked to spaces, line breaks kept (offsets unchanged). */
function blankRanges(text: string, ranges: Array<[number, number]>): string {
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  const parts: string[] = [];
  let at = 0;
  for (const [from, to] of ranges) {
    const f = Math.max(from, at);
    if (to <= f) continue;
    parts.push(text.slice(at, f), text.slice(f, to).replace(/[^\n\r]/g, ' '));
    at = to;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

function lineStarts(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13 && source.charCodeAt(i + 1) !== 10) starts.push(i + 1);
  }
  return starts;
}

/** 1-based line of an offset, by binary search over line starts. */
function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** The source with every code block and code span blanked out (UTF-16 units, so offsets match). */
function maskCode(source: string, starts: readonly number[]): string {
  // Code blocks need a fence or an indented line: without either, the block parse is skipped.
  const blocks = /```|~~~|^(?: {4}|\t)/m.test(source) ? blockParser().parse(source, {}) : [];
  const ranges: Array<[number, number]> = [];
  for (const t of blocks) {
    if ((t.type === 'fence' || t.type === 'code_block') && t.map) {
      ranges.push([starts[t.map[0]] ?? source.length, starts[t.map[1]] ?? source.length]);
    }
  }
  const text = blankRanges(source, ranges);
  return blankRanges(text, codeSpans(text));
}

/** Where each paragraph ends: at every line break that starts a blank line (or only blanks to the end). */
function paragraphBreaks(text: string): number[] {
  const out: number[] = [];
  for (let j = text.indexOf('\n'); j >= 0; j = text.indexOf('\n', j + 1)) {
    let k = j + 1;
    while (k < text.length && (text[k] === ' ' || text[k] === '\t' || text[k] === '\r')) k++;
    if (k >= text.length || text[k] === '\n') out.push(j);
  }
  return out;
}

/**
 * Inline code spans: a run of n backticks up to the next run of exactly n, within one
 * paragraph (a blank line ends the search). An unmatched run is literal text. Linear: each
 * run length keeps a cursor into its own list of runs, so an unmatched run no longer rescans
 * the paragraph (runs of 1, 2, ... 2,000 backticks in a 2 MB note took 3.8 s, on the main
 * thread for read_note).
 */
function codeSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const breaks = paragraphBreaks(text);
  let b = 0;
  let runs: Array<{ at: number; n: number }> = [];
  const flush = (): void => {
    const byLength = new Map<number, number[]>();
    runs.forEach((r, i) => {
      const list = byLength.get(r.n);
      if (list) list.push(i);
      else byLength.set(r.n, [i]);
    });
    const cursor = new Map<number, number>();
    let r = 0;
    while (r < runs.length) {
      const open = runs[r]!;
      const list = byLength.get(open.n)!;
      let c = cursor.get(open.n) ?? 0;
      while (c < list.length && list[c]! <= r) c++;
      cursor.set(open.n, c);
      const close = list[c];
      if (close === undefined) {
        r++;
        continue;
      }
      spans.push([open.at, runs[close]!.at + open.n]);
      r = close + 1;
    }
    runs = [];
  };
  for (let i = text.indexOf('`'); i >= 0; ) {
    while (b < breaks.length && breaks[b]! < i) {
      flush();
      b++;
    }
    let n = 0;
    while (text[i + n] === '`') n++;
    runs.push({ at: i, n });
    i = text.indexOf('`', i + n);
  }
  flush();
  return spans;
}

// [[target#heading|alias]]: no brackets or line breaks inside; '\|' is a pipe escaped for tables.
const WIKI = /(!?)\[\[([^[\]\n\r]+?)\]\]/g;
// [text](href "title") or [text](<href>): text without brackets, href without spaces unless in <>.
const MARKDOWN = /(!?)\[([^[\]\n\r]*)\]\(\s*(<[^<>\n\r]*>|[^\s()<>]+)(?:\s+(?:"[^"\n\r]*"|'[^'\n\r]*'))?\s*\)/g;
// A link reference definition, [label]: href "title", on its own line (not a [^footnote]).
const REFERENCE =
  /^ {0,3}\[(?!\^)([^[\]\n\r]+)\]:[ \t]*(<[^<>\n\r]*>|[^\s<>]+)(?:[ \t]+(?:"[^"\n\r]*"|'[^'\n\r]*'|\([^()\n\r]*\)))?[ \t]*$/gm;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
// Files Obsidian embeds or links that are not notes ([[Node.js]] is still a note name).
const ATTACHMENT =
  /\.(png|jpe?g|gif|svg|webp|avif|bmp|tiff?|pdf|mp3|m4a|wav|ogg|flac|mp4|webm|mov|mkv|canvas|base|csv|zip|excalidraw)$/i;

/**
 * The path a Markdown href names. decodeURIComponent, the inverse of what relativeHref writes
 * (decodeURI leaves %2B, %26, %23… encoded, so a link notes-mcp wrote to `c++.md` did not
 * resolve); an href with a bare % (a real `%.md`) is taken as written.
 */
function decodeHref(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Every link in a note's source, in order of appearance (at most MAX_LINKS_PER_NOTE). */
export function extractLinks(source: string): NoteLink[] {
  return extract(source, (target) => /\.(md|markdown)$/i.test(target));
}

/**
 * Relative Markdown links to files that are not notes (`![img](pic.png)`, `[pdf](a.pdf)`):
 * what a note's move must rewrite besides its links to notes. Never indexed.
 */
export function extractFileLinks(source: string): NoteLink[] {
  return extract(source, (target) => target !== '' && !/\.(md|markdown)$/i.test(target)).filter(
    (l) => l.kind === 'markdown',
  );
}

function extract(source: string, wanted: (target: string) => boolean): NoteLink[] {
  // Cheap test first: most notes link nowhere, and those skip the parse.
  if (!source.includes('[[') && !source.includes('](') && !source.includes(']:')) return [];
  const starts = lineStarts(source);
  const text = maskCode(source, starts);
  const out: NoteLink[] = [];
  for (const m of text.matchAll(WIKI)) {
    if (out.length >= MAX_LINKS_PER_NOTE) break;
    const start = m.index;
    if (start > 0 && text[start - 1] === '\\') continue;
    const inner = m[2]!;
    const pipe = inner.search(/\\?\|/);
    const ref = pipe < 0 ? inner : inner.slice(0, pipe);
    const alias = pipe < 0 ? undefined : inner.slice(pipe + (inner[pipe] === '\\' ? 2 : 1)).trim();
    const hash = ref.indexOf('#');
    const target = (hash < 0 ? ref : ref.slice(0, hash)).trim();
    const heading = hash < 0 ? undefined : ref.slice(hash + 1).trim();
    // [[#Heading]] points into the note itself, ![[photo.png]] at an attachment: neither is a
    // link between notes.
    if (target === '' || ATTACHMENT.test(target)) continue;
    const targetStart = start + m[1]!.length + 2 + (ref.length - ref.trimStart().length);
    const link: NoteLink = {
      kind: 'wiki',
      embed: m[1] === '!',
      target,
      line: lineOf(starts, start),
      start,
      end: start + m[0].length,
      targetStart,
      targetEnd: targetStart + target.length,
    };
    if (heading) link.heading = heading;
    if (alias) link.alias = alias;
    out.push(link);
  }
  const hrefLink = (m: RegExpMatchArray, embed: string, label: string, written: string): void => {
    const start = m.index!;
    const bracketed = written.startsWith('<');
    const raw = bracketed ? written.slice(1, -1) : written;
    if (SCHEME.test(raw) || raw.startsWith('#') || raw.startsWith('//')) return;
    const hash = raw.indexOf('#');
    const pathPart = (hash < 0 ? raw : raw.slice(0, hash)).replace(/\?.*$/, '');
    const target = decodeHref(pathPart);
    if (!wanted(target)) return;
    const labelAt = m[0].indexOf(`[${label}]`) + 1;
    const hrefStart = start + m[0].indexOf(written, labelAt + label.length + 1) + (bracketed ? 1 : 0);
    const link: NoteLink = {
      kind: 'markdown',
      embed: embed === '!',
      target,
      line: lineOf(starts, start),
      start,
      end: start + m[0].length,
      targetStart: hrefStart,
      targetEnd: hrefStart + pathPart.length,
    };
    const heading = hash < 0 ? '' : decodeHref(raw.slice(hash + 1));
    if (heading) link.heading = heading;
    const shown = source.slice(start + labelAt, start + labelAt + label.length).trim();
    if (shown) link.alias = shown;
    out.push(link);
  };
  for (const m of text.matchAll(MARKDOWN)) {
    if (out.length >= MAX_LINKS_PER_NOTE) break;
    if (m.index > 0 && text[m.index - 1] === '\\') continue;
    hrefLink(m, m[1]!, m[2]!, m[3]!);
  }
  // [label]: notes/garden.md links as [text][label] does: the definition stands for its uses.
  for (const m of text.matchAll(REFERENCE)) {
    if (out.length >= MAX_LINKS_PER_NOTE) break;
    hrefLink(m, '', m[1]!, m[2]!);
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * How a name is compared when resolving links and titles, the way Obsidian does: Unicode NFC,
 * case-insensitive, without a Markdown extension, '/'-separated, no leading './' or '/'.
 */
export function linkKey(name: string): string {
  return name
    .normalize('NFC')
    .trim()
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+|^\/+/, '')
    .replace(/\.(md|markdown)$/i, '')
    .toLowerCase();
}

/** The key of a note path's file name: what [[Name]] is matched against. */
export function nameKeyOfPath(path: string): string {
  return linkKey(path.slice(path.lastIndexOf('/') + 1));
}

/**
 * The notes-relative path a Markdown link's target names, resolved against the folder of
 * the note it is in; null when it climbs out of the notes folder. A target starting with '/'
 * is taken from the notes folder's top.
 */
export function resolveRelativeTarget(fromPath: string, target: string): string | null {
  const base = target.startsWith('/') ? [] : fromPath.split('/').slice(0, -1);
  const parts = [...base];
  for (const seg of target.replace(/^\/+/, '').split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(seg);
  }
  return parts.length === 0 ? null : parts.join('/').normalize('NFC');
}

/** The Markdown link text from one note to another: relative, each segment URI-encoded. */
export function relativeHref(fromPath: string, toPath: string): string {
  const from = fromPath.split('/').slice(0, -1);
  const to = toPath.split('/');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  const up = from.slice(common).map(() => '..');
  // Parentheses too: an unbalanced one would end the link early.
  const enc = (s: string): string => encodeURIComponent(s).replace(/\(/g, '%28').replace(/\)/g, '%29');
  return [...up, ...to.slice(common)].map((s) => (s === '..' ? s : enc(s))).join('/');
}
