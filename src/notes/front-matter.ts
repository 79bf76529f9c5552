import { CST, Document, isMap, isScalar, isSeq, Pair, Parser, parseDocument, Scalar, YAMLMap, YAMLSeq } from 'yaml';

// Front matter edited one top-level key at a time, as text: the keys an edit names are
// rewritten, every other byte stays as the author wrote it. Re-serialising the whole block
// (what a YAML library does) turned `zip: 01234` into 1234, cut 20-digit ids to floats,
// rewrote 0x1F, 1e3, folded blocks, escapes and flow spacing in keys nobody asked to change.

// yaml's default logLevel prints warnings (with the note's text) to the daemon's stderr.

/** Longest front matter the index reads (src/chunk/front-matter.ts, the same limit). */
export const MAX_FRONT_MATTER_CHARS = 16 * 1024;

export type YamlEdit<T> = { ok: true; value: T } | { ok: false; reason: string };

interface Item {
  /** The key as YAML reads it; null for a comment-only item or a key that is not a scalar. */
  key: string | null;
  /** Offset of the key (or its anchor/tag), after the comments and blank lines above it. */
  at: number;
  /** Offset just past the item (its value, trailing comment and newline included). */
  end: number;
  /** Its value is a `|+` / `>+` block: the blank lines after it are part of that value. */
  keep: boolean;
}

type Layout =
  | { kind: 'empty' }
  | { kind: 'map'; indent: number; items: Item[]; end: number }
  /** A top-level flow mapping `{…}` or explicit `? key` entries: edited by re-serialising. */
  | { kind: 'other' };

const FILLER = new Set(['space', 'newline', 'comment']);

function layout(yaml: string): Layout {
  const doc = [...new Parser().parse(yaml)].find((t) => t.type === 'document');
  const value = doc?.type === 'document' ? doc.value : undefined;
  if (value === undefined) return { kind: 'empty' };
  if (value.type !== 'block-map') return { kind: 'other' };
  const items: Item[] = [];
  let end = value.offset;
  for (const it of value.items) {
    if (it.explicitKey) return { kind: 'other' };
    const first = it.start[0]?.offset ?? it.key?.offset ?? it.sep?.[0]?.offset ?? it.value?.offset;
    if (first === undefined) continue;
    end = first + CST.stringify(it).length;
    const lead = it.start.find((t) => !FILLER.has(t.type));
    const at = lead?.offset ?? it.key?.offset ?? first;
    const key = it.key ? (CST.resolveAsScalar(it.key)?.value ?? null) : null;
    const v = it.value;
    const keep =
      v?.type === 'block-scalar' && v.props.some((p) => p.type === 'block-scalar-header' && p.source.includes('+'));
    items.push({ key, at, end, keep });
  }
  return { kind: 'map', indent: value.indent, items, end };
}

/** Lines after the first get the map's indent (the first starts where the old key did). */
function indented(text: string, indent: number, first: boolean): string {
  if (indent === 0) return text;
  const pad = ' '.repeat(indent);
  const body = text.replace(/\n(?=.)/g, `\n${pad}`);
  return first ? pad + body : body;
}

/** The source of one `key: value` pair, rendered by the core schema (numbers stay numbers). */
export function renderValue(key: string, value: unknown): string {
  const doc = new Document(new YAMLMap());
  (doc.contents as YAMLMap).items.push(new Pair(doc.createNode(key), doc.createNode(value)));
  return doc.toString({ lineWidth: 0 });
}

/**
 * The source of one pair whose nodes came from `parseFailsafe`: scalars keep their text
 * (`007` stays 007), quoting and comments stay; new scalars carry their own quoting.
 */
export function renderNode(key: Pair['key'], value: Pair['value']): string {
  const doc = new Document(new YAMLMap(), { schema: 'failsafe' });
  (doc.contents as YAMLMap).items.push(new Pair(key, value));
  return doc.toString({ lineWidth: 0 });
}

/**
 * The block parsed with every scalar as its text, for reading and re-rendering a key without
 * reinterpreting it. Scalars under the core schema are what the index reads.
 */
export function parseFailsafe(yaml: string): YamlEdit<Document> {
  const doc = parseDocument(yaml, { schema: 'failsafe', uniqueKeys: false, logLevel: 'error' });
  const core = parseDocument(yaml, { uniqueKeys: false, logLevel: 'error' });
  const err = doc.errors[0] ?? core.errors[0];
  if (err) return { ok: false, reason: `the front matter is not valid YAML (${err.message.split('\n')[0]})` };
  if (doc.contents !== null && !isMap(doc.contents)) {
    return { ok: false, reason: 'the front matter is not a mapping of keys to values' };
  }
  try {
    // Aliases resolve only here: a removed anchor leaves `*name` pointing at nothing.
    core.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return {
      ok: false,
      reason: `the front matter does not resolve (${String(e instanceof Error ? e.message : e).split('\n')[0]})`,
    };
  }
  return { ok: true, value: doc };
}

/** The block as the index reads it (core schema, the last of duplicate keys); null: unreadable. */
export function coreValues(yaml: string): Record<string, unknown> | null {
  try {
    const v: unknown = parseDocument(yaml, { uniqueKeys: false, logLevel: 'error' }).toJS({ maxAliasCount: 100 });
    if (v === null || v === undefined) return {};
    return typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A new scalar for `text`, quoted when the core schema would read it as something else. */
export function stringScalar(text: string): Scalar {
  const s = new Scalar(text);
  const back = parseDocument(text, { logLevel: 'error' }).contents;
  const plain = isScalar(back) && back.value === text && !text.includes('#') && text.trim() === text;
  if (!plain) s.type = Scalar.QUOTE_DOUBLE;
  return s;
}

export function seqOf(items: readonly string[]): YAMLSeq {
  const seq = new YAMLSeq();
  for (const t of items) seq.items.push(stringScalar(t));
  return seq;
}

export interface Spliced {
  yaml: string;
  /** Offset in the new YAML text where the change starts. */
  at: number;
}

/**
 * `yaml` with the first top-level `key` replaced by `pair` (the source of one `key: value`
 * pair ending in a newline), or removed when `pair` is null, or `pair` added at the end.
 * Null when the block is not a plain block mapping (the caller re-serialises instead).
 */
export function splice(yaml: string, key: string, pair: string | null): Spliced | null {
  const l = layout(yaml);
  if (l.kind === 'other') return null;
  if (l.kind === 'empty') {
    if (pair === null) return { yaml, at: 0 };
    const sep = yaml === '' || yaml.endsWith('\n') ? '' : '\n';
    return { yaml: yaml + sep + pair, at: yaml.length + sep.length };
  }
  // The last of duplicate keys: the one every YAML reader (and the index) goes by.
  const item = l.items.findLast((i) => i.key === key);
  if (item) {
    const text = pair === null ? '' : indented(pair, l.indent, false);
    // A removed key goes with the indent before it, so the next key keeps its column.
    const from = pair === null ? lineStart(yaml, item.at) : item.at;
    const tail = yaml.slice(item.end);
    // The pair ends in a newline; the old item may not have (it was the last line).
    const fixed =
      pair !== null && !yaml.slice(item.at, item.end).endsWith('\n') && tail === '' ? text.replace(/\n$/, '') : text;
    return { yaml: yaml.slice(0, from) + fixed + tail, at: from };
  }
  if (pair === null) return { yaml, at: 0 };
  // After a `|+` block the blank lines are its text: a new key goes before that block instead.
  const last = l.items.findLast((i) => i.key !== null);
  if (last?.keep) {
    return {
      yaml: yaml.slice(0, last.at) + indented(pair, l.indent, false) + ' '.repeat(l.indent) + yaml.slice(last.at),
      at: last.at,
    };
  }
  const before = yaml.slice(0, l.end);
  const sep = before.endsWith('\n') ? '' : '\n';
  return { yaml: before + sep + indented(pair, l.indent, true) + yaml.slice(l.end), at: l.end + sep.length };
}

function lineStart(text: string, at: number): number {
  const nl = text.lastIndexOf('\n', at - 1);
  const start = nl + 1;
  return /^[ \t]*$/.test(text.slice(start, at)) ? start : at;
}
