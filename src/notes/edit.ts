import { type Document, isMap, isScalar, isSeq, type Pair, Scalar, type YAMLSeq } from 'yaml';
import {
  coreValues,
  MAX_FRONT_MATTER_CHARS,
  parseFailsafe,
  renderNode,
  renderValue,
  seqOf,
  splice,
  stringScalar,
} from './front-matter.js';

// Exact edits of a note's text (pure): nothing here reads or writes a file. edit_note applies
// a list of these to the text it read, all or none, and writes the result through writeNote
// with the hash of what it read, so an edit never lands on text it was not computed from.

export type EditOp =
  | { op: 'replace'; old: string; new: string; expectedCount: number }
  | { op: 'prepend'; text: string }
  | { op: 'append'; text: string }
  | { op: 'replace_section'; heading: string | readonly string[]; content: string }
  | { op: 'set_front_matter'; values: Readonly<Record<string, unknown>> }
  | { op: 'remove_front_matter'; keys: readonly string[] }
  | { op: 'add_tags'; tags: readonly string[] }
  | { op: 'remove_tags'; tags: readonly string[] };

/** What one operation did, for the caller's report. */
export interface EditChange {
  op: EditOp['op'];
  /** 1-based lines (in the text as this operation saw it) where it changed something: the first MAX_CHANGE_LINES. */
  lines: number[];
  /** Replacements made, keys set or removed, tags added or removed. */
  count: number;
}

export type EditOutcome =
  | { ok: true; text: string; changes: EditChange[] }
  | { ok: false; index: number; op: EditOp['op']; reason: string };

/** At most this many match lines are listed when a replace finds the wrong number. */
const MAX_LISTED = 20;
/** At most this many lines are listed per change (EditChange.count has them all). */
export const MAX_CHANGE_LINES = 100;

class EditRefused extends Error {}

function refuse(reason: string): never {
  throw new EditRefused(reason);
}

/** Apply every operation in order to `text`; the first that cannot apply stops all of them. */
export function applyEdits(text: string, ops: readonly EditOp[]): EditOutcome {
  let cur = text;
  const changes: EditChange[] = [];
  for (const [i, op] of ops.entries()) {
    try {
      const r = applyOne(cur, op);
      cur = r.text;
      changes.push({ op: op.op, lines: r.lines, count: r.count });
    } catch (err) {
      if (err instanceof EditRefused) return { ok: false, index: i, op: op.op, reason: err.message };
      throw err;
    }
  }
  return { ok: true, text: cur, changes };
}

interface Applied {
  text: string;
  lines: number[];
  count: number;
}

function applyOne(text: string, op: EditOp): Applied {
  switch (op.op) {
    case 'replace':
      return replaceText(text, op.old, op.new, op.expectedCount);
    case 'prepend':
      return prepend(text, op.text);
    case 'append':
      return append(text, op.text);
    case 'replace_section':
      return replaceSection(text, op.heading, op.content);
    case 'set_front_matter':
      return editFrontMatter(text, () => {
        const pairs = Object.entries(op.values).map(([key, v]) => ({ key, pair: renderValue(key, v) }));
        return { count: pairs.length, pairs };
      });
    case 'remove_front_matter':
      return editFrontMatter(text, (doc) => {
        const present = [...new Set(op.keys)].filter((k) => pairOf(doc, k) !== undefined);
        return { count: present.length, pairs: present.map((key) => ({ key, pair: null })) };
      });
    case 'add_tags':
      return editFrontMatter(text, (doc, core) => addTags(doc, core, op.tags));
    case 'remove_tags':
      return editFrontMatter(text, (doc, core) => removeTags(doc, core, op.tags));
  }
}

// ---- text ------------------------------------------------------------------------------

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** Agents write "\n"; a note saved with CRLF should still match and stay CRLF. */
function withEol(s: string, eol: string): string {
  return eol === '\n' ? s : s.replace(/\r?\n/g, eol);
}

function lineAt(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function linesAt(text: string, offsets: readonly number[]): number[] {
  // Offsets ascend: one pass over the text.
  const out: number[] = [];
  let line = 1;
  let pos = 0;
  for (const o of offsets) {
    for (let i = text.indexOf('\n', pos); i >= 0 && i < o; i = text.indexOf('\n', i + 1)) {
      line++;
      pos = i + 1;
    }
    out.push(line);
  }
  return out;
}

function occurrences(text: string, needle: string): number[] {
  const at: number[] = [];
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) at.push(i);
  return at;
}

function replaceText(text: string, old: string, replacement: string, expected: number): Applied {
  if (old === '') refuse('"old" is empty: give the exact text to replace');
  let needle = old;
  let at = occurrences(text, needle);
  const eol = eolOf(text);
  if (at.length === 0 && eol === '\r\n' && old.includes('\n')) {
    needle = withEol(old, eol);
    at = occurrences(text, needle);
  }
  if (at.length !== expected) {
    const lines = linesAt(text, at.slice(0, MAX_LISTED));
    const where =
      at.length === 0
        ? 'found no match (the text must match exactly, spaces and line breaks included)'
        : `found ${at.length} matches, at line${at.length === 1 ? '' : 's'} ${lines.join(', ')}${at.length > MAX_LISTED ? ', …' : ''}`;
    refuse(
      `expected ${expected} match${expected === 1 ? '' : 'es'} of "old" and ${where}` +
        (at.length > expected ? '; add surrounding text to "old" or set expected_count' : ''),
    );
  }
  const rep = needle === old ? replacement : withEol(replacement, eol);
  // The first lines only (count says how many): 50 replaces of 10,000 matches each listed
  // every line, 2.4 MB of reply for a 6 KB request.
  const lines = linesAt(text, at.slice(0, MAX_CHANGE_LINES));
  return { text: text.split(needle).join(rep), lines, count: at.length };
}

/** Where the body starts: after the front matter block when there is one. */
function bodyStart(text: string): number {
  const fm = frontMatterSpan(text);
  return fm ? fm.end : text.charCodeAt(0) === 0xfeff ? 1 : 0;
}

function prepend(text: string, add: string): Applied {
  const at = bodyStart(text);
  const eol = eolOf(text);
  const piece = withEol(add, eol);
  const sep = piece.endsWith('\n') || at === text.length ? '' : eol;
  // A closing `---` at the very end (no final newline) needs one, or the text joins the fence.
  const lead = at === text.length && !text.endsWith('\n') && frontMatterSpan(text) !== null ? eol : '';
  return { text: text.slice(0, at) + lead + piece + sep + text.slice(at), lines: [lineAt(text, at)], count: 1 };
}

function append(text: string, add: string): Applied {
  const eol = eolOf(text);
  const sep = text.length === 0 || text.endsWith('\n') ? '' : eol;
  const lines = [lineAt(text, text.length) + (sep ? 1 : 0)];
  return { text: text + sep + withEol(add, eol), lines, count: 1 };
}

// ---- headings and sections ------------------------------------------------------------

interface Heading {
  level: number;
  text: string;
  /** 0-based line index. */
  line: number;
  trail: string[];
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

function splitKeep(text: string): string[] {
  // Lines with their endings, so joining them gives the text back exactly.
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function normHeading(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** ATX headings outside fenced code and front matter, with their trails. */
function headingsOf(lines: readonly string[], firstBodyLine: number): Heading[] {
  const out: Heading[] = [];
  const stack: Heading[] = [];
  let fence: string | null = null;
  for (let i = firstBodyLine; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r?\n$/, '');
    const f = FENCE.exec(line);
    if (fence !== null) {
      if (f && f[1]![0] === fence[0] && f[1]!.length >= fence.length && line.trim() === f[1]) fence = null;
      continue;
    }
    if (f) {
      fence = f[1]!;
      continue;
    }
    const m = ATX.exec(line);
    if (!m) continue;
    const level = m[1]!.length;
    const text = normHeading(m[2] ?? '');
    while (stack.length > 0 && stack[stack.length - 1]!.level >= level) stack.pop();
    const h: Heading = { level, text, line: i, trail: [...stack.map((s) => s.text), text] };
    stack.push(h);
    out.push(h);
  }
  return out;
}

function trailMatches(h: Heading, want: readonly string[], fold: boolean): boolean {
  if (want.length > h.trail.length) return false;
  const tail = h.trail.slice(h.trail.length - want.length);
  return tail.every((t, i) => (fold ? t.toLowerCase() === want[i]!.toLowerCase() : t === want[i]));
}

function findSection(hs: readonly Heading[], heading: string | readonly string[]): Heading {
  const trails: string[][] =
    typeof heading === 'string'
      ? [[normHeading(heading.replace(/^#+\s*/, ''))], heading.split(/\s+>\s+/).map(normHeading)]
      : [heading.map(normHeading)];
  for (const want of trails) {
    if (want.some((w) => w === '')) continue;
    for (const fold of [false, true]) {
      const hits = hs.filter((h) => trailMatches(h, want, fold));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) {
        refuse(
          `${hits.length} headings match ${JSON.stringify(want.join(' > '))}, at lines ` +
            `${hits
              .slice(0, MAX_LISTED)
              .map((h) => h.line + 1)
              .join(', ')}: give the heading trail (e.g. ["Parent", "Heading"]) to pick one`,
        );
      }
    }
  }
  const known = hs
    .slice(0, MAX_LISTED)
    .map((h) => JSON.stringify(h.trail.join(' > ')))
    .join(', ');
  return refuse(
    `no heading ${JSON.stringify(typeof heading === 'string' ? heading : heading.join(' > '))}` +
      (hs.length > 0
        ? `; the note's headings are ${known}${hs.length > MAX_LISTED ? ', …' : ''}`
        : '; the note has no headings'),
  );
}

function replaceSection(text: string, heading: string | readonly string[], content: string): Applied {
  const lines = splitKeep(text);
  const firstBody = lineAt(text, bodyStart(text)) - 1;
  const hs = headingsOf(lines, firstBody);
  const h = findSection(hs, heading);
  const next = hs.find((x) => x.line > h.line && x.level <= h.level);
  const from = h.line + 1;
  const to = next ? next.line : lines.length;
  // Blank lines that end the old section stay, so the next heading keeps its spacing.
  let keep = to;
  while (keep > from && lines[keep - 1]!.trim() === '') keep--;
  const eol = eolOf(text);
  const headingLine = lines[h.line]!;
  const lead = headingLine.endsWith('\n') ? '' : eol;
  let body = withEol(content, eol);
  if (body !== '' && !body.endsWith('\n')) body += eol;
  const out = lines.slice(0, from).join('') + lead + body + lines.slice(keep).join('');
  return { text: out, lines: [h.line + 1], count: 1 };
}

// ---- front matter ---------------------------------------------------------------------

interface Span {
  /** Offset of the YAML text (after the opening line) and of its closing line. */
  yamlStart: number;
  yamlEnd: number;
  /** Offset just past the closing line. */
  end: number;
}

/**
 * The leading `---` … `---` (or `...`) block, as offsets; null when there is none. Found by
 * the rules the index reads it with (src/chunk/front-matter.ts): after a BOM, lines end at
 * \r\n, \r or \n (not U+2028), a fence is `---` with any trailing whitespace. Stricter
 * rules here made an edit put a second block on top of one the index read.
 */
function frontMatterSpan(text: string): Span | null {
  const LINE = /\r\n|\r|\n/g;
  let from = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let yamlStart = -1;
  for (;;) {
    LINE.lastIndex = from;
    const hit = LINE.exec(text);
    const lineEnd = hit ? hit.index : text.length;
    const next = hit ? lineEnd + hit[0].length : text.length;
    const line = text.slice(from, lineEnd).trimEnd();
    if (yamlStart < 0) {
      if (line !== '---' || !hit) return null;
      yamlStart = next;
    } else if (line === '---' || line === '...') return { yamlStart, yamlEnd: from, end: next };
    if (!hit) return null;
    from = next;
  }
}

/** What a front matter operation does: the top-level keys it rewrites (null: removes). */
interface KeyChanges {
  count: number;
  pairs: Array<{ key: string; pair: string | null }>;
}

function editFrontMatter(
  text: string,
  change: (doc: Document, core: Readonly<Record<string, unknown>>) => KeyChanges,
): Applied {
  const span = frontMatterSpan(text);
  // Old Mac notes end lines with \r alone: edited as \n, written back with \r.
  const eol = text.includes('\r\n') ? '\r\n' : /\r(?!\n)/.test(text) ? '\r' : '\n';
  const raw = span ? text.slice(span.yamlStart, span.yamlEnd) : '';
  const yamlText = eol === '\r' ? raw.replace(/\r/g, '\n') : raw;
  const parsed = parseFailsafe(yamlText);
  if (!parsed.ok) refuse(`${parsed.reason}: fix it with replace first`);
  const was = coreValues(yamlText);
  const { count, pairs } = change(parsed.value, was ?? {});
  if (count === 0) return { text, lines: [], count: 0 };
  let yaml = yamlText;
  let firstLine = Number.POSITIVE_INFINITY;
  const lineEol = eol === '\r' ? '\n' : eol;
  for (const { key, pair } of pairs) {
    // Every copy of a duplicated key goes on a remove; a set rewrites the last (the one read).
    for (let again = true; again; ) {
      const s = splice(yaml, key, pair === null ? null : withEol(pair, lineEol));
      if (s === null) refuse('the front matter is one {…} mapping or uses "? key" entries: change it with replace');
      again = pair === null && s.yaml !== yaml;
      if (s.yaml !== yaml) firstLine = Math.min(firstLine, lineAt(s.yaml, s.at) + 1);
      yaml = s.yaml;
    }
  }
  const check = parseFailsafe(yaml);
  if (!check.ok) refuse(`after this change ${check.reason}: nothing was changed`);
  if (yaml.length > MAX_FRONT_MATTER_CHARS && yaml.length > yamlText.length) {
    refuse(
      `the front matter would be longer than ${MAX_FRONT_MATTER_CHARS / 1024} KB, which is not read: keep long text in the note's body`,
    );
  }
  // The promise is that keys not named keep their values: an alias of a changed anchor, or a
  // block scalar that took in the text after it, would break it without a word.
  const now = coreValues(yaml);
  const named = new Set(pairs.map((p) => p.key));
  for (const k of Object.keys(was ?? {})) {
    if (!named.has(k) && JSON.stringify(was?.[k]) !== JSON.stringify(now?.[k])) {
      refuse(
        `changing ${[...named].map((n) => JSON.stringify(n)).join(', ')} would also change "${k}" (an alias or a block scalar shares it): change it with replace`,
      );
    }
  }
  if (eol === '\r') yaml = yaml.replace(/\n/g, '\r');
  const bom = text.charCodeAt(0) === 0xfeff ? '\ufeff' : '';
  const rest = span ? text.slice(span.end) : text.slice(bom.length);
  // The fences stay as written (a closing `...` included).
  const open = span ? text.slice(bom.length, span.yamlStart) : `---${eol}`;
  const close = span ? text.slice(span.yamlEnd, span.end) : `---${eol}`;
  const fenced = open + yaml + (/[\r\n]$/.test(close) ? close : close + eol);
  // An emptied block goes, unless the text after it opens with a `---` line: that would
  // become the front matter (a thematic break and the paragraph under it, read as YAML).
  const block = yaml.trim() === '' && rest.split(/\r\n|\r|\n/, 1)[0]?.trimEnd() !== '---' ? '' : fenced;
  // A note that had no front matter gets one on top, then its text unchanged.
  return { text: bom + block + rest, lines: [Number.isFinite(firstLine) ? firstLine : 1], count };
}

function tagName(t: string): string {
  return t.trim().replace(/^#+/, '');
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);

/** The key's pair; the last of duplicates, as every reader takes it. */
function pairOf(doc: Document, key: string): Pair | undefined {
  if (!isMap(doc.contents)) return undefined;
  return doc.contents.items.findLast((p): p is Pair => isScalar(p.key) && p.key.value === key);
}

/** A tag as written, and the names it matches (lower case): its text, and its value as read. */
interface TagItem {
  text: string;
  names: string[];
}

/**
 * The note's front matter tags, from a list or a "a, b" / "#a #b" string. A list item is
 * matched by its text and by what the index reads (`2.50` is also "2.5", `0x10` also "16").
 */
function currentTags(doc: Document, core: Readonly<Record<string, unknown>>, key: string): TagItem[] {
  const node = pairOf(doc, key)?.value;
  if (node === undefined || node === null) return [];
  if (isSeq(node)) {
    const read = Array.isArray(core[key]) ? (core[key] as unknown[]) : [];
    return node.items.map((i, n) => tagItem(String(isScalar(i) ? i.value : i), read[n]));
  }
  if (isScalar(node)) {
    if (node.type === Scalar.PLAIN && NULLS.has(String(node.value))) return [];
    return String(node.value)
      .split(/[,\s]+/)
      .map(tagName)
      .filter((s) => s !== '')
      .map((t) => tagItem(t, undefined));
  }
  refuse(`front matter "${key}" is neither a list nor a string`);
}

function tagItem(text: string, read: unknown): TagItem {
  const forms = read === undefined || read === null || typeof read === 'object' ? [text] : [text, String(read)];
  return { text, names: [...new Set(forms.map((f) => tagName(f).toLowerCase()))] };
}

/** The pair's source with `value`, keeping how its key was written. */
function rewrite(doc: Document, key: string, value: YAMLSeq): string {
  return renderNode(pairOf(doc, key)?.key ?? new Scalar(key), value);
}

function addTags(doc: Document, core: Readonly<Record<string, unknown>>, tags: readonly string[]): KeyChanges {
  const have = currentTags(doc, core, 'tags');
  const lower = new Set([...have, ...currentTags(doc, core, 'tag')].flatMap((t) => t.names));
  const add: string[] = [];
  for (const t of tags.map(tagName)) {
    // The index splits tags at spaces and commas: "x,y" would be read as two tags.
    if (t === '' || /[\s,]/.test(t)) refuse(`${JSON.stringify(t)} is not a tag (no spaces or commas, not empty)`);
    if (lower.has(t.toLowerCase())) continue;
    lower.add(t.toLowerCase());
    add.push(t);
  }
  if (add.length === 0) return { count: 0, pairs: [] };
  const node = pairOf(doc, 'tags')?.value;
  let seq: YAMLSeq;
  if (isSeq(node)) {
    seq = node;
    for (const t of add) seq.items.push(stringScalar(t));
  } else seq = seqOf([...have.map((t) => t.text), ...add]);
  return { count: add.length, pairs: [{ key: 'tags', pair: rewrite(doc, 'tags', seq) }] };
}

function removeTags(doc: Document, core: Readonly<Record<string, unknown>>, tags: readonly string[]): KeyChanges {
  const drop = new Set(tags.map((t) => tagName(t).toLowerCase()));
  const out: KeyChanges = { count: 0, pairs: [] };
  for (const key of ['tags', 'tag']) {
    const have = currentTags(doc, core, key);
    const gone = have.map((t) => t.names.some((n) => drop.has(n)));
    const keep = have.filter((_, n) => !gone[n]);
    if (keep.length === have.length) continue;
    out.count += have.length - keep.length;
    const node = pairOf(doc, key)?.value;
    let pair: string | null = null;
    if (keep.length > 0 && isSeq(node)) {
      node.items = node.items.filter((_, n) => !gone[n]);
      pair = rewrite(doc, key, node);
    } else if (keep.length > 0) pair = rewrite(doc, key, seqOf(keep.map((t) => t.text)));
    out.pairs.push({ key, pair });
  }
  return out;
}

// ---- diff -----------------------------------------------------------------------------

export interface DiffOptions {
  /** Label of both sides (the note path). */
  path: string;
  /** Lines of context around each change (default 3). */
  context?: number;
  /** Largest diff returned, in characters; longer ones end with a line saying what was cut. */
  maxChars?: number;
}

/** Largest edit distance the line diff searches before it shows the middle as replaced. */
const MAX_DIFF_EDITS = 1_000;

type DiffLine = { t: ' ' | '-' | '+'; s: string };

/**
 * Myers' shortest edit script over lines, after trimming the common head and tail (edits are
 * local, so what is left is small); past MAX_DIFF_EDITS the rest is one replaced block.
 */
function diffLines(a: readonly string[], b: readonly string[]): DiffLine[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const A = a.slice(head, a.length - tail);
  const B = b.slice(head, b.length - tail);
  const mid = myers(A, B) ?? [...A.map((s) => ({ t: '-' as const, s })), ...B.map((s) => ({ t: '+' as const, s }))];
  return [
    ...a.slice(0, head).map((s) => ({ t: ' ' as const, s })),
    ...mid,
    ...a.slice(a.length - tail).map((s) => ({ t: ' ' as const, s })),
  ];
}

function myers(a: readonly string[], b: readonly string[]): DiffLine[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_DIFF_EDITS);
  const off = max + 1;
  // v[off + k]: the furthest x on diagonal k; updated in place, since round d reads only the
  // diagonals of the other parity. trace[d] is v as round d found it.
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!);
      let x = down ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, off);
    }
  }
  return null;
}

function backtrack(trace: readonly Int32Array[], a: readonly string[], b: readonly string[], off: number): DiffLine[] {
  const out: DiffLine[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!);
    const prevK = down ? k + 1 : k - 1;
    const px = v[off + prevK]!;
    const py = px - prevK;
    while (x > px && y > py) {
      x--;
      y--;
      out.push({ t: ' ', s: a[x]! });
    }
    if (down) {
      y--;
      out.push({ t: '+', s: b[y]! });
    } else {
      x--;
      out.push({ t: '-', s: a[x]! });
    }
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    out.push({ t: ' ', s: a[x]! });
  }
  return out.reverse();
}

/**
 * A unified diff of two versions of a note (`--- a/path`, `+++ b/path`, `@@` hunks), '' when
 * they are equal; longer than maxChars, it is cut at a line and says how much was left out.
 */
export function unifiedDiff(before: string, after: string, opts: DiffOptions): string {
  if (before === after) return '';
  const ctx = opts.context ?? 3;
  const max = opts.maxChars ?? 20_000;
  const split = (s: string): string[] => (s === '' ? [] : s.replace(/\r?\n$/, '').split(/\r?\n/));
  const lines = diffLines(split(before), split(after));
  const changed = lines.map((l, i) => (l.t === ' ' ? -1 : i)).filter((i) => i >= 0);
  const out: string[] = [`--- a/${opts.path}`, `+++ b/${opts.path}`];
  let i = 0;
  while (i < changed.length) {
    const first = changed[i]!;
    let last = first;
    while (i + 1 < changed.length && changed[i + 1]! - last <= 2 * ctx + 1) last = changed[++i]!;
    i++;
    const from = Math.max(0, first - ctx);
    const to = Math.min(lines.length - 1, last + ctx);
    let aStart = 1;
    let bStart = 1;
    for (let j = 0; j < from; j++) {
      if (lines[j]!.t !== '+') aStart++;
      if (lines[j]!.t !== '-') bStart++;
    }
    const hunk = lines.slice(from, to + 1);
    const aLen = hunk.filter((l) => l.t !== '+').length;
    const bLen = hunk.filter((l) => l.t !== '-').length;
    out.push(`@@ -${aLen === 0 ? aStart - 1 : aStart},${aLen} +${bLen === 0 ? bStart - 1 : bStart},${bLen} @@`);
    for (const l of hunk) out.push(l.t + l.s);
  }
  const text = `${out.join('\n')}\n`;
  if (text.length <= max) return text;
  const cut = text.lastIndexOf('\n', max);
  const kept = text.slice(0, cut + 1);
  const left = text.slice(cut + 1).split('\n').length - 1;
  return `${kept}… diff cut at ${max} characters: ${left} more lines; read_note shows the whole note\n`;
}
