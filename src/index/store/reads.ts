import type { Db } from '../db.ts';
import { type Filter, filterSql } from './filters.ts';
import {
  blobToVec,
  type ChunkRecord,
  NOTE_SELECT,
  type NoteRecord,
  type NoteRow,
  type NoteState,
  parseStringList,
  toChunk,
  toNote,
} from './rows.ts';
import { ShapedStatements, type Statements } from './statements.ts';

// Everything the index asks of its database without changing it: notes, chunks, vectors,
// filters and BM25 over FTS5. Store (store.ts) adds the writes.

/** A link as stored: what a note's text says, not yet resolved to a note. */
export interface StoredLink {
  kind: 'wiki' | 'markdown';
  embed: boolean;
  target: string;
  heading: string | undefined;
  alias: string | undefined;
  line: number;
}

interface LinkRow {
  source: string;
  kind: string;
  embed: number;
  target: string;
  heading: string | null;
  alias: string | null;
  line: number;
}

const LINK_COLUMNS = 'n.path AS source, l.kind, l.embed, l.target, l.heading, l.alias, l.line';

function toLink(r: LinkRow): StoredLink & { source: string } {
  return {
    source: r.source,
    kind: r.kind === 'markdown' ? 'markdown' : 'wiki',
    embed: r.embed === 1,
    target: r.target,
    heading: r.heading ?? undefined,
    alias: r.alias ?? undefined,
    line: r.line,
  };
}

export class StoreReads {
  protected readonly db: Db;
  protected readonly stmts: Statements;
  protected readonly shaped: ShapedStatements;

  constructor(db: Db, stmts: Statements) {
    this.db = db;
    this.stmts = stmts;
    this.shaped = new ShapedStatements(db);
  }

  /**
   * 'ok', or what SQLite's quick_check found first: cheap enough at start (it reads every page
   * once, not every index entry) and it catches truncated and overwritten files that open fine.
   */
  quickCheck(): string {
    // Through a small page cache: every page passes once, and a full 64 MiB cache of pages
    // nobody asked for stayed resident (~60 MB of the daemon's RSS on tldr-all).
    const cache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma('cache_size = -2048');
    try {
      const rows = this.db.pragma('quick_check(1)') as Array<{ quick_check?: unknown }>;
      return String(rows[0]?.quick_check ?? 'no answer');
    } finally {
      this.db.pragma(`cache_size = ${cache}`);
      this.db.pragma('shrink_memory');
    }
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  /** Bumped in the same transaction as every chunk change; the HNSW manifest records it. */
  generation(): number {
    return Number(this.getMeta('generation') ?? '0');
  }

  noteStates(): Map<string, NoteState> {
    const out = new Map<string, NoteState>();
    for (const r of this.stmts.noteStates.iterate()) {
      out.set(r.path, {
        id: r.id,
        path: r.path,
        diskPath: r.disk_path,
        hash: r.hash,
        size: r.size,
        mtimeMs: r.mtime_ms,
        ctimeMs: r.ctime_ms ?? undefined,
      });
    }
    return out;
  }

  getNote(path: string): NoteRecord | undefined {
    const r = this.stmts.noteByPath.get(path);
    return r ? toNote(r) : undefined;
  }

  listNotes(filter: Filter, opts: { after?: string; limit: number }): NoteRecord[] {
    const f = filterSql(filter);
    const after = opts.after === undefined ? '' : ' AND n.path > ?';
    const params = opts.after === undefined ? f.params : [...f.params, opts.after];
    return this.shaped
      .get<unknown[], NoteRow>(`${NOTE_SELECT} WHERE ${f.where}${after} ORDER BY n.path LIMIT ?`)
      .all(...params, opts.limit)
      .map(toNote);
  }

  countNotes(filter?: Filter): number {
    const f = filterSql(filter);
    return (
      this.shaped.get<unknown[], { c: number }>(`SELECT count(*) AS c FROM notes n WHERE ${f.where}`).get(...f.params)
        ?.c ?? 0
    );
  }

  /** Note paths starting with `prefix` (for completion), sorted, at most `limit`. */
  pathsWithPrefix(prefix: string, limit: number): string[] {
    return this.stmts.pathsWithPrefix.all(prefix, `${prefix}\u{10FFFF}`, limit).map((r) => r.path);
  }

  hasVector(embedHash: string): boolean {
    return this.stmts.hasVector.get(embedHash) !== undefined;
  }

  vectorOf(embedHash: string): Float32Array | undefined {
    const r = this.stmts.vectorOf.get(embedHash);
    return r ? blobToVec(r.vec) : undefined;
  }

  /** Every chunk with its vector, for rebuilding the HNSW graph without re-embedding. */
  *iterateChunkVectors(): Generator<{ id: number; vec: Float32Array }> {
    for (const r of this.stmts.chunkVectors.iterate()) yield { id: r.id, vec: blobToVec(r.vec) };
  }

  chunkIdsWithVectors(): number[] {
    return this.stmts.chunkIdsWithVectors
      .raw()
      .all()
      .map((r) => r[0]);
  }

  /** Every chunk as the lexical index needs it (id order). */
  *iterateLexicalDocs(): Generator<{ id: number; text: string; title: string; headings: string[] }> {
    for (const r of this.stmts.lexicalDocs.iterate()) {
      yield { id: r.id, text: r.text, title: r.title, headings: parseStringList(r.headings) };
    }
  }

  /** A note's chunk ids in order (empty when it is not indexed). */
  chunkIdsOf(path: string): number[] {
    return this.stmts.chunkIdsOfPath.all(path).map((r) => r.id);
  }

  chunk(id: number): ChunkRecord | undefined {
    const r = this.stmts.chunkById.get(id);
    return r ? toChunk(r) : undefined;
  }

  chunks(ids: readonly number[]): Map<number, ChunkRecord> {
    const out = new Map<number, ChunkRecord>();
    if (ids.length === 0) return out;
    for (const r of this.stmts.chunksByIds.all(JSON.stringify(ids))) out.set(r.id, toChunk(r));
    return out;
  }

  /** Chunk ids allowed by a filter (for filtered vector search). */
  chunkIdsMatching(filter: Filter): Set<number> {
    const f = filterSql(filter);
    const rows = this.shaped
      .get<unknown[], { id: number }>(`SELECT c.id FROM chunks c JOIN notes n ON n.id = c.note_id WHERE ${f.where}`)
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
    const rows = this.shaped.get<unknown[], { id: number; s: number }>(sql).all(match, ...f.params, limit);
    return rows.map((r) => ({ id: r.id, score: -r.s }));
  }

  counts(): { notes: number; chunks: number; vectors: number } {
    return this.stmts.counts.get() ?? { notes: 0, chunks: 0, vectors: 0 };
  }

  lastIndexedAt(): number | undefined {
    return this.stmts.lastIndexedAt.get()?.t ?? undefined;
  }

  tagCounts(limit: number): Array<{ tag: string; notes: number }> {
    return this.stmts.tagCounts.all(limit);
  }

  hasNote(path: string): boolean {
    return this.stmts.noteIdByPath.get(path) !== undefined;
  }

  /** The links a note's indexed text makes, in order. */
  linksFrom(path: string): Array<StoredLink & { source: string }> {
    return this.shaped
      .get<[string], LinkRow>(
        `SELECT ${LINK_COLUMNS} FROM links l JOIN notes n ON n.id = l.note_id WHERE n.path = ? ORDER BY l.seq`,
      )
      .all(path)
      .map(toLink);
  }

  /** Links whose target's last segment has one of these keys (candidates for backlinks). */
  linksToKeys(keys: readonly string[]): Array<StoredLink & { source: string }> {
    if (keys.length === 0) return [];
    return this.shaped
      .get<[string], LinkRow>(
        `SELECT ${LINK_COLUMNS} FROM links l JOIN notes n ON n.id = l.note_id
         WHERE l.target_key IN (SELECT value FROM json_each(?)) ORDER BY n.path, l.seq`,
      )
      .all(JSON.stringify(keys))
      .map(toLink);
  }

  /** Notes answering to a name key, by file name, title or alias. */
  notesNamed(key: string): Array<{ path: string; kind: 'file' | 'title' | 'alias' }> {
    return this.shaped
      .get<[string], { path: string; kind: 'file' | 'title' | 'alias' }>(
        'SELECT n.path, nn.kind FROM note_names nn JOIN notes n ON n.id = nn.note_id WHERE nn.key = ? ORDER BY n.path',
      )
      .all(key);
  }

  /** The name keys a note answers to. */
  namesOf(path: string): Array<{ key: string; kind: 'file' | 'title' | 'alias' }> {
    return this.shaped
      .get<[string], { key: string; kind: 'file' | 'title' | 'alias' }>(
        'SELECT nn.key, nn.kind FROM note_names nn JOIN notes n ON n.id = nn.note_id WHERE n.path = ?',
      )
      .all(path);
  }

  /** The stored vectors of a note's chunks. */
  noteVectors(path: string): Float32Array[] {
    return this.shaped
      .get<[string], { vec: Buffer }>(
        `SELECT v.vec FROM chunks c JOIN notes n ON n.id = c.note_id JOIN vectors v ON v.embed_hash = c.embed_hash
         WHERE n.path = ? ORDER BY c.seq`,
      )
      .all(path)
      .map((r) => blobToVec(r.vec));
  }
}
