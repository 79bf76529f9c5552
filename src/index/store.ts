import { z } from 'zod';
import { indexText } from '../chunk/index.ts';
import type { Db } from './db.ts';

// Typed access to the SQLite index. Everything read back from disk that is not a plain
// column (JSON arrays, front matter) is validated with zod before it leaves this module.

export interface NoteState {
  id: number;
  path: string;
  diskPath: string;
  hash: string;
  size: number;
  mtimeMs: number;
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

export interface Filter {
  /** Folder (path prefix) the note must be under, '' or undefined for all. */
  folder?: string | undefined;
  /** Every listed tag must be on the note. */
  tags?: readonly string[] | undefined;
  /** Note file modified at or after this time (ms since epoch). */
  modifiedAfter?: number | undefined;
  modifiedBefore?: number | undefined;
}

const StringList = z.array(z.string());
const FrontMatter = z.record(z.string(), z.unknown());

function parseJson<T>(schema: z.ZodType<T>, text: string, fallback: T): T {
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : fallback;
  } catch {
    return fallback;
  }
}

/** SQL range for "path is under folder": folder/ <= path < folder0 ('0' follows '/'). */
export function folderRange(folder: string): [string, string] | null {
  const f = folder.replace(/^\/+|\/+$/g, '');
  if (f === '') return null;
  return [`${f}/`, `${f}0`];
}

interface FilterSql {
  where: string;
  params: unknown[];
}

export function filterSql(filter: Filter | undefined, alias = 'n'): FilterSql {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (!filter) return { where: '1', params };
  const range = filter.folder ? folderRange(filter.folder) : null;
  if (range) {
    parts.push(`${alias}.path >= ? AND ${alias}.path < ?`);
    params.push(range[0], range[1]);
  }
  for (const tag of filter.tags ?? []) {
    parts.push(`EXISTS (SELECT 1 FROM note_tags t WHERE t.note_id = ${alias}.id AND t.tag = ?)`);
    params.push(tag.replace(/^#/, '').toLowerCase());
  }
  if (filter.modifiedAfter !== undefined) {
    parts.push(`${alias}.mtime_ms >= ?`);
    params.push(filter.modifiedAfter);
  }
  if (filter.modifiedBefore !== undefined) {
    parts.push(`${alias}.mtime_ms < ?`);
    params.push(filter.modifiedBefore);
  }
  return { where: parts.length ? parts.join(' AND ') : '1', params };
}

export function isEmptyFilter(filter: Filter | undefined): boolean {
  return filterSql(filter).params.length === 0;
}

function vecToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function blobToVec(b: Buffer): Float32Array {
  // Copy: the Buffer may share a pool with other data and be misaligned for Float32Array.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

interface ChunkRow {
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

const CHUNK_SELECT = `SELECT c.id, c.note_id, n.path, n.disk_path, n.title, c.seq, c.headings, c.start_line, c.end_line,
  c.text, n.hash, n.size, n.mtime_ms, n.indexed_at FROM chunks c JOIN notes n ON n.id = c.note_id`;

function toChunk(r: ChunkRow): ChunkRecord {
  return {
    id: r.id,
    noteId: r.note_id,
    path: r.path,
    diskPath: r.disk_path,
    title: r.title,
    seq: r.seq,
    headings: parseJson(StringList, r.headings, []),
    startLine: r.start_line,
    endLine: r.end_line,
    text: r.text,
    noteHash: r.hash,
    size: r.size,
    mtimeMs: r.mtime_ms,
    indexedAt: r.indexed_at,
  };
}

interface NoteRow {
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

function toNote(r: NoteRow): NoteRecord {
  return {
    id: r.id,
    path: r.path,
    diskPath: r.disk_path,
    hash: r.hash,
    size: r.size,
    mtimeMs: r.mtime_ms,
    title: r.title,
    tags: parseJson(StringList, r.tags, []),
    aliases: parseJson(StringList, r.aliases, []),
    frontMatter: parseJson(FrontMatter, r.front_matter, {}),
    indexedAt: r.indexed_at,
    chunkCount: r.chunk_count,
  };
}

const NOTE_SELECT = `SELECT n.*, (SELECT count(*) FROM chunks c WHERE c.note_id = n.id) AS chunk_count FROM notes n`;

export interface ReplaceResult {
  noteId: number;
  added: Array<{ id: number; embedHash: string }>;
  removed: number[];
  created: boolean;
}

export class Store {
  readonly db: Db;
  #stmts;

  constructor(db: Db) {
    this.db = db;
    this.#stmts = {
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      bump: db.prepare(
        "INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
      ),
      setMeta: db.prepare<[string, string]>(
        'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ),
      noteStates: db.prepare<
        [],
        { id: number; path: string; disk_path: string; hash: string; size: number; mtime_ms: number }
      >('SELECT id, path, disk_path, hash, size, mtime_ms FROM notes'),
      noteByPath: db.prepare<[string], NoteRow>(`${NOTE_SELECT} WHERE n.path = ?`),
      noteIdByPath: db.prepare<[string], { id: number }>('SELECT id FROM notes WHERE path = ?'),
      chunkIdsOfNote: db.prepare<[number], { id: number }>('SELECT id FROM chunks WHERE note_id = ?'),
      deleteChunksOfNote: db.prepare<[number]>('DELETE FROM chunks WHERE note_id = ?'),
      deleteFts: db.prepare<[number]>('DELETE FROM chunks_fts WHERE rowid = ?'),
      insertNote: db.prepare(
        `INSERT INTO notes(path, disk_path, hash, size, mtime_ms, title, tags, aliases, front_matter, indexed_at)
         VALUES (@path, @diskPath, @hash, @size, @mtimeMs, @title, @tags, @aliases, @frontMatter, @indexedAt)`,
      ),
      updateNote: db.prepare(
        `UPDATE notes SET disk_path=@diskPath, hash=@hash, size=@size, mtime_ms=@mtimeMs, title=@title, tags=@tags,
         aliases=@aliases, front_matter=@frontMatter, indexed_at=@indexedAt WHERE id=@id`,
      ),
      touchNote: db.prepare<[string, number, number, string]>(
        'UPDATE notes SET disk_path = ?, size = ?, mtime_ms = ? WHERE path = ?',
      ),
      deleteTags: db.prepare<[number]>('DELETE FROM note_tags WHERE note_id = ?'),
      insertTag: db.prepare<[number, string]>('INSERT OR IGNORE INTO note_tags(note_id, tag) VALUES (?, ?)'),
      insertChunk: db.prepare(
        `INSERT INTO chunks(note_id, seq, headings, start_line, end_line, text, embed_hash)
         VALUES (@noteId, @seq, @headings, @startLine, @endLine, @text, @embedHash)`,
      ),
      insertFts: db.prepare<[number, string, string, string]>(
        'INSERT INTO chunks_fts(rowid, text, title, headings) VALUES (?, ?, ?, ?)',
      ),
      deleteNote: db.prepare<[number]>('DELETE FROM notes WHERE id = ?'),
      hasVector: db.prepare<[string], { x: number }>('SELECT 1 AS x FROM vectors WHERE embed_hash = ?'),
      insertVector: db.prepare<[string, Buffer]>('INSERT OR IGNORE INTO vectors(embed_hash, vec) VALUES (?, ?)'),
      vectorOf: db.prepare<[string], { vec: Buffer }>('SELECT vec FROM vectors WHERE embed_hash = ?'),
      gcVectors: db.prepare(
        'DELETE FROM vectors WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.embed_hash = vectors.embed_hash)',
      ),
      chunkById: db.prepare<[number], ChunkRow>(`${CHUNK_SELECT} WHERE c.id = ?`),
      chunksByIds: db.prepare<[string], ChunkRow>(`${CHUNK_SELECT} WHERE c.id IN (SELECT value FROM json_each(?))`),
      counts: db.prepare<[], { notes: number; chunks: number; vectors: number }>(
        'SELECT (SELECT count(*) FROM notes) AS notes, (SELECT count(*) FROM chunks) AS chunks, (SELECT count(*) FROM vectors) AS vectors',
      ),
    };
  }

  getMeta(key: string): string | undefined {
    return this.#stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#stmts.setMeta.run(key, value);
  }

  /** Bumped in the same transaction as every chunk change; the HNSW manifest records it. */
  generation(): number {
    return Number(this.getMeta('generation') ?? '0');
  }

  #bump(): void {
    this.#stmts.bump.run();
  }

  /** Delete a note's chunks and their FTS rows, collecting the chunk ids (for the graph). */
  #dropChunks(noteId: number, removed: number[]): void {
    for (const c of this.#stmts.chunkIdsOfNote.all(noteId)) {
      removed.push(c.id);
      this.#stmts.deleteFts.run(c.id);
    }
    this.#stmts.deleteChunksOfNote.run(noteId);
  }

  /** Run fn in one IMMEDIATE transaction, or inside the caller's if one is open. */
  #tx<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  noteStates(): Map<string, NoteState> {
    const out = new Map<string, NoteState>();
    for (const r of this.#stmts.noteStates.iterate()) {
      out.set(r.path, {
        id: r.id,
        path: r.path,
        diskPath: r.disk_path,
        hash: r.hash,
        size: r.size,
        mtimeMs: r.mtime_ms,
      });
    }
    return out;
  }

  getNote(path: string): NoteRecord | undefined {
    const r = this.#stmts.noteByPath.get(path);
    return r ? toNote(r) : undefined;
  }

  listNotes(filter: Filter, opts: { after?: string; limit: number }): NoteRecord[] {
    const f = filterSql(filter);
    const after = opts.after === undefined ? '' : ' AND n.path > ?';
    const params = opts.after === undefined ? f.params : [...f.params, opts.after];
    const rows = this.db
      .prepare<unknown[], NoteRow>(`${NOTE_SELECT} WHERE ${f.where}${after} ORDER BY n.path LIMIT ?`)
      .all(...params, opts.limit);
    return rows.map(toNote);
  }

  countNotes(filter?: Filter): number {
    const f = filterSql(filter);
    return (this.db
      .prepare<unknown[], { c: number }>(`SELECT count(*) AS c FROM notes n WHERE ${f.where}`)
      .get(...f.params)?.c ?? 0) as number;
  }

  /** Note paths starting with `prefix` (for completion), sorted, at most `limit`. */
  pathsWithPrefix(prefix: string, limit: number): string[] {
    const rows = this.db
      .prepare<[string, string, number], { path: string }>(
        'SELECT path FROM notes WHERE path >= ? AND path < ? ORDER BY path LIMIT ?',
      )
      .all(prefix, `${prefix}\u{10FFFF}`, limit);
    return rows.map((r) => r.path);
  }

  hasVector(embedHash: string): boolean {
    return this.#stmts.hasVector.get(embedHash) !== undefined;
  }

  vectorOf(embedHash: string): Float32Array | undefined {
    const r = this.#stmts.vectorOf.get(embedHash);
    return r ? blobToVec(r.vec) : undefined;
  }

  /**
   * Replace a note's metadata, chunks and FTS rows in one transaction; vectors for new embed
   * hashes are inserted alongside (content-addressed, so unchanged text keeps its vector).
   */
  replaceNote(
    note: NoteInput,
    chunks: readonly ChunkInput[],
    vectors: ReadonlyMap<string, Float32Array>,
  ): ReplaceResult {
    const s = this.#stmts;
    return this.#tx((): ReplaceResult => {
      const existing = s.noteIdByPath.get(note.path);
      const row = {
        path: note.path,
        diskPath: note.diskPath,
        hash: note.hash,
        size: note.size,
        mtimeMs: note.mtimeMs,
        title: note.title,
        tags: JSON.stringify(note.tags),
        aliases: JSON.stringify(note.aliases),
        frontMatter: JSON.stringify(note.frontMatter),
        indexedAt: Date.now(),
      };
      let noteId: number;
      const removed: number[] = [];
      if (existing) {
        noteId = existing.id;
        this.#dropChunks(noteId, removed);
        s.updateNote.run({ ...row, id: noteId });
        s.deleteTags.run(noteId);
      } else {
        noteId = Number(s.insertNote.run(row).lastInsertRowid);
      }
      for (const tag of note.tags) s.insertTag.run(noteId, tag);
      for (const [hash, vec] of vectors) s.insertVector.run(hash, vecToBlob(vec));
      const added: ReplaceResult['added'] = [];
      const headingsTitle = note.title;
      for (const c of chunks) {
        const headings = JSON.stringify(c.headings);
        const id = Number(
          s.insertChunk.run({
            noteId,
            seq: c.seq,
            headings,
            startLine: c.startLine,
            endLine: c.endLine,
            text: c.text,
            embedHash: c.embedHash,
          }).lastInsertRowid,
        );
        s.insertFts.run(id, indexText(c.text), headingsTitle, c.headings.join(' '));
        added.push({ id, embedHash: c.embedHash });
      }
      this.#bump();
      return { noteId, added, removed, created: !existing };
    });
  }

  /** The file was touched but its content hash is unchanged: record the new stat only. */
  touchNote(path: string, diskPath: string, size: number, mtimeMs: number): void {
    this.#stmts.touchNote.run(diskPath, size, mtimeMs, path);
  }

  /** Remove notes and everything derived from them; returns the chunk ids that went away. */
  removeNotes(paths: readonly string[]): number[] {
    const s = this.#stmts;
    return this.#tx((): number[] => {
      const removed: number[] = [];
      for (const path of paths) {
        const n = s.noteIdByPath.get(path);
        if (!n) continue;
        this.#dropChunks(n.id, removed);
        s.deleteNote.run(n.id);
      }
      if (paths.length > 0) this.#bump();
      return removed;
    });
  }

  /** Drop vectors no chunk uses any more (after renames and edits). */
  gcVectors(): number {
    return this.#stmts.gcVectors.run().changes;
  }

  /** Forget every vector (the model changed): chunks stay, vectors are re-embedded. */
  clearVectors(): void {
    this.#tx(() => {
      this.db.exec('DELETE FROM vectors');
      this.#bump();
    });
  }

  /** Every chunk with its vector, for rebuilding the HNSW graph without re-embedding. */
  *iterateChunkVectors(): Generator<{ id: number; vec: Float32Array }> {
    const stmt = this.db.prepare<[], { id: number; vec: Buffer }>(
      'SELECT c.id, v.vec FROM chunks c JOIN vectors v ON v.embed_hash = c.embed_hash ORDER BY c.id',
    );
    for (const r of stmt.iterate()) yield { id: r.id, vec: blobToVec(r.vec) };
  }

  chunkIdsWithVectors(): number[] {
    return (
      this.db
        .prepare('SELECT c.id FROM chunks c WHERE EXISTS (SELECT 1 FROM vectors v WHERE v.embed_hash = c.embed_hash)')
        .raw()
        .all() as Array<[number]>
    ).map((r) => r[0]);
  }

  /** Every chunk as the lexical index needs it (id order). */
  *iterateLexicalDocs(): Generator<{ id: number; text: string; title: string; headings: string[] }> {
    const stmt = this.db.prepare<[], { id: number; text: string; title: string; headings: string }>(
      'SELECT c.id, c.text, n.title, c.headings FROM chunks c JOIN notes n ON n.id = c.note_id ORDER BY c.id',
    );
    for (const r of stmt.iterate()) {
      yield { id: r.id, text: r.text, title: r.title, headings: parseJson(StringList, r.headings, []) };
    }
  }

  /** Chunks whose vector is missing (e.g. after a model change), with what to embed. */
  chunksMissingVectors(): Array<{ embedHash: string; noteId: number }> {
    return this.db
      .prepare<[], { embed_hash: string; note_id: number }>(
        'SELECT DISTINCT c.embed_hash, c.note_id FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.embed_hash = c.embed_hash)',
      )
      .all()
      .map((r) => ({ embedHash: r.embed_hash, noteId: r.note_id }));
  }

  chunk(id: number): ChunkRecord | undefined {
    const r = this.#stmts.chunkById.get(id);
    return r ? toChunk(r) : undefined;
  }

  chunks(ids: readonly number[]): Map<number, ChunkRecord> {
    const out = new Map<number, ChunkRecord>();
    if (ids.length === 0) return out;
    // One prepared statement for any number of ids: the list travels as a JSON array.
    for (const r of this.#stmts.chunksByIds.all(JSON.stringify(ids))) out.set(r.id, toChunk(r));
    return out;
  }

  chunksOfNote(noteId: number): ChunkRecord[] {
    return this.db
      .prepare<[number], ChunkRow>(`${CHUNK_SELECT} WHERE c.note_id = ? ORDER BY c.seq`)
      .all(noteId)
      .map(toChunk);
  }

  /** Chunk ids allowed by a filter (for filtered vector search). */
  chunkIdsMatching(filter: Filter): Set<number> {
    const f = filterSql(filter);
    const rows = this.db
      .prepare<unknown[], { id: number }>(`SELECT c.id FROM chunks c JOIN notes n ON n.id = c.note_id WHERE ${f.where}`)
      .raw()
      .all(...f.params) as unknown as Array<[number]>;
    return new Set(rows.map((r) => r[0]));
  }

  /** BM25 over chunk text, title and headings; lower score is better in SQLite, negated here. */
  fts(match: string, limit: number, filter?: Filter): Array<{ id: number; score: number }> {
    const f = filterSql(filter);
    const sql =
      f.params.length === 0
        ? 'SELECT rowid AS id, bm25(chunks_fts, 1.0, 1.0, 1.0) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?'
        : `SELECT f.rowid AS id, bm25(chunks_fts, 1.0, 1.0, 1.0) AS s FROM chunks_fts f
           JOIN chunks c ON c.id = f.rowid JOIN notes n ON n.id = c.note_id
           WHERE chunks_fts MATCH ? AND ${f.where} ORDER BY s LIMIT ?`;
    const rows = this.db.prepare<unknown[], { id: number; s: number }>(sql).all(match, ...f.params, limit);
    return rows.map((r) => ({ id: r.id, score: -r.s }));
  }

  counts(): { notes: number; chunks: number; vectors: number } {
    return this.#stmts.counts.get() ?? { notes: 0, chunks: 0, vectors: 0 };
  }

  lastIndexedAt(): number | undefined {
    const r = this.db.prepare<[], { t: number | null }>('SELECT max(indexed_at) AS t FROM notes').get();
    return r?.t ?? undefined;
  }

  tagCounts(limit: number): Array<{ tag: string; notes: number }> {
    return this.db
      .prepare<[number], { tag: string; notes: number }>(
        'SELECT tag, count(*) AS notes FROM note_tags GROUP BY tag ORDER BY notes DESC, tag LIMIT ?',
      )
      .all(limit);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
