import type { Statement } from 'better-sqlite3';
import type { Db } from '../db.ts';
import { CHUNK_SELECT, type ChunkRow, NOTE_SELECT, type NoteRow } from './rows.ts';

// Every statement the store runs, prepared once when the database opens. Statements whose SQL
// depends on a filter's shape are prepared on first use and kept (there are few shapes).

export function prepareStatements(db: Db) {
  // notes.ctime_ms is added by openDb for writers; a read-only open of a database an older
  // writer made has no such column, and never writes.
  const ctime = (db.pragma('table_info(notes)') as Array<{ name: string }>).some((c) => c.name === 'ctime_ms');
  const ctimeSet = ctime ? ', ctime_ms=@ctimeMs' : '';
  return {
    getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    bump: db.prepare(
      "INSERT INTO meta(key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    ),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    ),
    noteStates: db.prepare<
      [],
      Pick<NoteRow, 'id' | 'path' | 'disk_path' | 'hash' | 'size' | 'mtime_ms'> & { ctime_ms: number | null }
    >(`SELECT id, path, disk_path, hash, size, mtime_ms, ${ctime ? 'ctime_ms' : 'NULL AS ctime_ms'} FROM notes`),
    noteByPath: db.prepare<[string], NoteRow>(`${NOTE_SELECT} WHERE n.path = ?`),
    noteIdByPath: db.prepare<[string], { id: number }>('SELECT id FROM notes WHERE path = ?'),
    pathsWithPrefix: db.prepare<[string, string, number], { path: string }>(
      'SELECT path FROM notes WHERE path >= ? AND path < ? ORDER BY path LIMIT ?',
    ),
    chunkIdsOfNote: db.prepare<[number], { id: number }>('SELECT id FROM chunks WHERE note_id = ?'),
    deleteChunksOfNote: db.prepare<[number]>('DELETE FROM chunks WHERE note_id = ?'),
    deleteFts: db.prepare<[number]>('DELETE FROM chunks_fts WHERE rowid = ?'),
    mergeFts: db.prepare<[number]>("INSERT INTO chunks_fts(chunks_fts, rank) VALUES('merge', ?)"),
    insertNote: db.prepare(
      `INSERT INTO notes(path, disk_path, hash, size, mtime_ms, title, tags, aliases, front_matter, indexed_at${ctime ? ', ctime_ms' : ''})
       VALUES (@path, @diskPath, @hash, @size, @mtimeMs, @title, @tags, @aliases, @frontMatter, @indexedAt${ctime ? ', @ctimeMs' : ''})`,
    ),
    updateNote: db.prepare(
      `UPDATE notes SET disk_path=@diskPath, hash=@hash, size=@size, mtime_ms=@mtimeMs, title=@title, tags=@tags,
       aliases=@aliases, front_matter=@frontMatter, indexed_at=@indexedAt${ctimeSet} WHERE id=@id`,
    ),
    touchNote: db.prepare<{ diskPath: string; size: number; mtimeMs: number; ctimeMs: number; path: string }>(
      `UPDATE notes SET disk_path = @diskPath, size = @size, mtime_ms = @mtimeMs${ctimeSet} WHERE path = @path`,
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
    clearVectors: db.prepare('DELETE FROM vectors'),
    chunkVectors: db.prepare<[], { id: number; vec: Buffer }>(
      'SELECT c.id, v.vec FROM chunks c JOIN vectors v ON v.embed_hash = c.embed_hash ORDER BY c.id',
    ),
    chunkIdsWithVectors: db.prepare<[], [number]>(
      'SELECT c.id FROM chunks c WHERE EXISTS (SELECT 1 FROM vectors v WHERE v.embed_hash = c.embed_hash)',
    ),
    lexicalDocs: db.prepare<[], { id: number; text: string; title: string; headings: string }>(
      'SELECT c.id, c.text, n.title, c.headings FROM chunks c JOIN notes n ON n.id = c.note_id ORDER BY c.id',
    ),
    chunkById: db.prepare<[number], ChunkRow>(`${CHUNK_SELECT} WHERE c.id = ?`),
    chunkIdsOfPath: db.prepare<[string], { id: number }>(
      'SELECT c.id FROM chunks c JOIN notes n ON n.id = c.note_id WHERE n.path = ? ORDER BY c.seq',
    ),
    // One statement for any number of ids: the list travels as a JSON array.
    chunksByIds: db.prepare<[string], ChunkRow>(`${CHUNK_SELECT} WHERE c.id IN (SELECT value FROM json_each(?))`),
    counts: db.prepare<[], { notes: number; chunks: number; vectors: number }>(
      'SELECT (SELECT count(*) FROM notes) AS notes, (SELECT count(*) FROM chunks) AS chunks, (SELECT count(*) FROM vectors) AS vectors',
    ),
    lastIndexedAt: db.prepare<[], { t: number | null }>('SELECT max(indexed_at) AS t FROM notes'),
    tagCounts: db.prepare<[number], { tag: string; notes: number }>(
      'SELECT tag, count(*) AS notes FROM note_tags GROUP BY tag ORDER BY notes DESC, tag LIMIT ?',
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** Statements whose SQL is built from a filter's shape, prepared on first use of each shape. */
export class ShapedStatements {
  readonly #db: Db;
  readonly #cache = new Map<string, Statement<unknown[], unknown>>();

  constructor(db: Db) {
    this.#db = db;
  }

  get<P extends unknown[], R>(sql: string): Statement<P, R> {
    let s = this.#cache.get(sql);
    if (!s) {
      s = this.#db.prepare<unknown[], unknown>(sql);
      this.#cache.set(sql, s);
    }
    return s as unknown as Statement<P, R>;
  }
}
