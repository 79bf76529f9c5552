import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface FrontMatter {
  /** Lines taken by the block, delimiters included; 0 when absent or unterminated. */
  lineCount: number;
  data: Record<string, unknown>;
  error: string | null;
}

const NONE: FrontMatter = { lineCount: 0, data: {}, error: null };

function isFence(line: string | undefined, closing: boolean): boolean {
  if (line === undefined) return false;
  const t = line.trimEnd();
  return t === '---' || (closing && t === '...');
}

/**
 * The YAML parser's time grows faster than the text on some inputs (16 KB of "]&" takes
 * 0.36 s, 64 KB of "]" 2 s), and front matter is parsed on the daemon's main thread (by
 * read_note, and when indexing a note under 256 KB): longer front matter is not parsed. Real
 * front matter (title, tags, aliases, a few fields) is well under this.
 */
export const MAX_FRONT_MATTER_CHARS = 16 * 1024;

/**
 * A leading `---` line up to the next `---` or `...` line, parsed as YAML. An unterminated
 * block is not front matter: the caller keeps those lines as note text.
 */
export function splitFrontMatter(lines: readonly string[]): FrontMatter {
  if (!isFence(lines[0], false)) return NONE;
  let close = -1;
  for (let i = 1; i < lines.length; i++) {
    if (isFence(lines[i], true)) {
      close = i;
      break;
    }
  }
  if (close < 0) {
    return { ...NONE, error: 'front matter has no closing "---" line; it was read as note text' };
  }
  const lineCount = close + 1;
  const yaml = lines.slice(1, close).join('\n');
  if (yaml.trim() === '') return { lineCount, data: {}, error: null };
  if (yaml.length > MAX_FRONT_MATTER_CHARS) {
    return {
      lineCount,
      data: {},
      error: `front matter is longer than ${MAX_FRONT_MATTER_CHARS / 1024} KB; it was not read`,
    };
  }
  try {
    // maxAliasCount bounds alias expansion ("billion laughs"); the JSON round trip drops what
    // the index cannot store (undefined, cycles through aliases throw and land in catch).
    // logLevel 'error': the default prints warnings, with the note's text, to the daemon's log.
    const value: unknown = parseYaml(yaml, { maxAliasCount: 100, uniqueKeys: false, logLevel: 'error' });
    if (value === null || value === undefined) return { lineCount, data: {}, error: null };
    if (typeof value !== 'object' || Array.isArray(value)) {
      return { lineCount, data: {}, error: 'front matter is not a mapping of keys to values' };
    }
    const data = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
    return { lineCount, data, error: null };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { lineCount, data: {}, error: `front matter is not valid YAML: ${msg}` };
  }
}

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
const ScalarOrList = z.union([Scalar, z.array(z.unknown())]);

function listOf(value: unknown, splitter: RegExp): string[] {
  if (value === undefined || value === null) return [];
  const r = ScalarOrList.safeParse(value);
  if (!r.success) return [];
  const items = Array.isArray(r.data) ? r.data : [r.data];
  const out: string[] = [];
  for (const item of items) {
    const s = Scalar.safeParse(item);
    if (!s.success) continue;
    for (const part of String(s.data).split(splitter)) {
      const p = part.trim();
      if (p.length > 0) out.push(p);
    }
  }
  return out;
}

/** Tags from `tags`/`tag`: a list, or a string like "a, b" or "#a #b"; lower-case, no '#'. */
export function frontMatterTags(data: Record<string, unknown>): string[] {
  const raw = [...listOf(data['tags'], /[,\s]+/), ...listOf(data['tag'], /[,\s]+/)];
  return raw.map((t) => t.replace(/^#+/, '').toLowerCase()).filter((t) => t.length > 0);
}

/** Aliases from `aliases`/`alias`: a list, or a comma-separated string. */
export function frontMatterAliases(data: Record<string, unknown>): string[] {
  return [...listOf(data['aliases'], /,/), ...listOf(data['alias'], /,/)];
}

const TitleValue = z.union([z.string(), z.number()]);

export function frontMatterTitle(data: Record<string, unknown>): string | null {
  if (data['title'] === undefined) return null;
  const r = TitleValue.safeParse(data['title']);
  if (!r.success) return null;
  const t = String(r.data).trim();
  return t.length > 0 ? t : null;
}

export interface NoteMeta {
  title: string | null;
  tags: string[];
  aliases: string[];
  data: Record<string, unknown>;
  error: string | null;
  /** Lines the front matter takes at the top of the note (0 when absent or unterminated). */
  lineCount: number;
}

/** Front matter of a note and what it says about title, tags and aliases (no body parsing). */
export function parseFrontMatter(source: string): NoteMeta {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  // Only the lines up to the closing fence matter; avoid splitting a huge body.
  const lines: string[] = [];
  let from = 0;
  while (from <= text.length) {
    const m = /\r\n|\r|\n/g;
    m.lastIndex = from;
    const hit = m.exec(text);
    const end = hit ? hit.index : text.length;
    const line = text.slice(from, end);
    lines.push(line);
    if (lines.length === 1 && line.trimEnd() !== '---') break;
    if (lines.length > 1 && (line.trimEnd() === '---' || line.trimEnd() === '...')) break;
    if (!hit) break;
    from = end + hit[0].length;
  }
  const fm = splitFrontMatter(lines);
  return {
    title: frontMatterTitle(fm.data),
    tags: [...new Set(frontMatterTags(fm.data))].sort(),
    aliases: [...new Set(frontMatterAliases(fm.data))],
    data: fm.data,
    error: fm.error,
    lineCount: fm.lineCount,
  };
}
