import { z } from 'zod';

// The store's records and how SQLite rows become them. Everything read back from disk that is
// not a plain column (JSON arrays, front matter) is validated with zod here, before it leaves
// the index.

export interface NoteState {
  id: number;
  path: string;
  diskPath: string;
  hash: string;
  size: number;
  mtimeMs: number;
  /** Only in noteStates(); undefined for rows written by an older notes-mcp. */
  ctimeMs?: number | undefined;
}

export interface NoteRecord extends NoteState {
  title: string;
  tags: string[];
  aliases: string[];
  frontMatter: Record<string, unknown>;
  indexedAt: number;
  chunkCount: number;
}

export interface NoteInput {
  path: string;
  diskPath: string;
  hash: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  title: string;
  tags: readonly string[];
  aliases: readonly string[];
  frontMatter: Record<string, unknown>;
}

export interface ChunkInput {
  seq: number;
  headings: readonly string[];
  startLine: number;
  endLine: number;
  text: string;
  embedHash: string;
}

export interface ChunkRecord {
  id: number;
  noteId: number;
  path: string;
  diskPath: string;
  title: string;
  seq: number;
  headings: string[];
  startLine: number;
  endLine: number;
  text: string;
  noteHash: string;
  size: number;
  mtimeMs: number;
  indexedAt: number;
}

const StringList = z.array(z.string());
const FrontMatter = z.record(z.string(), z.unknown());

export function parseJson<T>(schema: z.ZodType<T>, text: string, fallback: T): T {
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : fallback;
  } catch {
    return fallback;
  }
}

export function parseStringList(text: string): string[] {
  return parseJson(StringList, text, []);
}

export function vecToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function blobToVec(b: Buffer): Float32Array {
  // Copy: the Buffer may share a pool with other data and be misaligned for Float32Array.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export interface ChunkRow {
  id: number;
  note_id: number;
  path: string;
  disk_path: string;
  title: string;
  seq: number;
  headings: string;
  start_line: number;
  end_line: number;
  text: string;
  hash: string;
  size: number;
  mtime_ms: number;
  indexed_at: number;
}

export const CHUNK_SELECT = `SELECT c.id, c.note_id, n.path, n.disk_path, n.title, c.seq, c.headings, c.start_line, c.end_line,
  c.text, n.hash, n.size, n.mtime_ms, n.indexed_at FROM chunks c JOIN notes n ON n.id = c.note_id`;

export function toChunk(r: ChunkRow): ChunkRecord {
  return {
    id: r.id,
    noteId: r.note_id,
    path: r.path,
    diskPath: r.disk_path,
    title: r.title,
    seq: r.seq,
    headings: parseStringList(r.headings),
    startLine: r.start_line,
    endLine: r.end_line,
    text: r.text,
    noteHash: r.hash,
    size: r.size,
    mtimeMs: r.mtime_ms,
    indexedAt: r.indexed_at,
  };
}

export interface NoteRow {
  id: number;
  path: string;
  disk_path: string;
  hash: string;
  size: number;
  mtime_ms: number;
  title: string;
  tags: string;
  aliases: string;
  front_matter: string;
  indexed_at: number;
  chunk_count: number;
}

export function toNote(r: NoteRow): NoteRecord {
  return {
    id: r.id,
    path: r.path,
    diskPath: r.disk_path,
    hash: r.hash,
    size: r.size,
    mtimeMs: r.mtime_ms,
    title: r.title,
    tags: parseStringList(r.tags),
    aliases: parseStringList(r.aliases),
    frontMatter: parseJson(FrontMatter, r.front_matter, {}),
    indexedAt: r.indexed_at,
    chunkCount: r.chunk_count,
  };
}

export const NOTE_SELECT = `SELECT n.*, (SELECT count(*) FROM chunks c WHERE c.note_id = n.id) AS chunk_count FROM notes n`;

export interface ReplaceResult {
  noteId: number;
  added: Array<{ id: number; embedHash: string }>;
  removed: number[];
  created: boolean;
}
