import { indexText, linkKey, nameKeyOfPath, type NoteLink } from '../../chunk/index.ts';
import { BULK_CACHE_KIB, type Db, FTS_MERGE_PAGES, SERVING_CACHE_KIB } from '../db.ts';
import { StoreReads } from './reads.ts';
import { type ChunkInput, type NoteInput, parseStringList, type ReplaceResult, vecToBlob } from './rows.ts';
import { prepareStatements } from './statements.ts';

// The index's SQLite database: StoreReads' queries plus the writes, each of which keeps notes,
// tags, chunks, FTS rows and content-addressed vectors consistent in one transaction and bumps
// the generation the HNSW manifest is checked against.

export class Store extends StoreReads {
  constructor(db: Db) {
    super(db, prepareStatements(db));
  }

  /** The page cache for bulk indexing (large) or serving (small): see BULK_CACHE_KIB. */
  /**
   * Give back the space of deleted notes when most of the file is free pages: after huge notes
   * were removed, index.db stayed at 581 MB against 15 MB rebuilt, for good (SQLite reuses
   * free pages but never returns them). VACUUM's cost follows the live pages, small exactly
   * when this runs, so it is done at start, before serving. undefined when nothing was done.
   */
  compactIfSparse(
    minFreeBytes = 64 * 1024 * 1024,
    availableBytes?: number,
  ): { beforeBytes: number; afterBytes: number } | undefined {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    if (free * pageSize < minFreeBytes || free < pages / 2) return undefined;
    // VACUUM writes every live page again (into the WAL): on a disk without room for twice
    // that, it would fail after taking the last free space.
    const live = (pages - free) * pageSize;
    if (availableBytes !== undefined && availableBytes < 2 * live + minFreeBytes) {
      throw new Error(`not enough free disk space to compact (${availableBytes} bytes free, ${live} live)`);
    }
    try {
      // Deleted rows stay in FTS5's segments as tombstones, which VACUUM cannot drop: 20 MB of
      // them for 394 chunks after huge notes were deleted. One merge into a single segment
      // costs about what the live text does.
      this.db.exec("INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')");
      this.db.exec('VACUUM');
    } finally {
      // The WAL holds the rewritten pages until a checkpoint, also those of a VACUUM that
      // failed (a full disk kept 16 MB of them, and every later write failed): give them back.
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    }
    const after = this.db.pragma('page_count', { simple: true }) as number;
    return { beforeBytes: pages * pageSize, afterBytes: after * pageSize };
  }

  cacheFor(use: 'bulk' | 'serving'): void {
    this.db.pragma(`cache_size = -${use === 'bulk' ? BULK_CACHE_KIB : SERVING_CACHE_KIB}`);
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  /** FTS rows were written in the open transaction: it ends with a merge step. */
  #ftsWritten = false;

  /**
   * Run fn in one IMMEDIATE transaction, or inside the caller's if one is open. One that
   * wrote FTS rows ends with a bounded FTS5 merge step (see FTS_MERGE_PAGES).
   */
  transaction<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.#ftsWritten = false;
    try {
      return this.db
        .transaction(() => {
          const r = fn();
          if (this.#ftsWritten) this.stmts.mergeFts.run(FTS_MERGE_PAGES);
          return r;
        })
        .immediate();
    } finally {
      this.#ftsWritten = false;
    }
  }

  #bump(): void {
    this.stmts.bump.run();
  }

  /** Delete a note's chunks and their FTS rows, collecting the chunk ids (for the graph). */
  #dropChunks(noteId: number, removed: number[]): void {
    for (const c of this.stmts.chunkIdsOfNote.all(noteId)) {
      removed.push(c.id);
      this.stmts.deleteFts.run(c.id);
      this.#ftsWritten = true;
    }
    this.stmts.deleteChunksOfNote.run(noteId);
  }

  /** One chunk row and its FTS row (inside the caller's transaction). */
  #insertChunk(noteId: number, title: string, c: ChunkInput): { id: number; embedHash: string } {
    const s = this.stmts;
    const id = Number(
      s.insertChunk.run({
        noteId,
        seq: c.seq,
        headings: JSON.stringify(c.headings),
        startLine: c.startLine,
        endLine: c.endLine,
        text: c.text,
        embedHash: c.embedHash,
      }).lastInsertRowid,
    );
    s.insertFts.run(id, indexText(c.text), title, c.headings.join(' '));
    this.#ftsWritten = true;
    return { id, embedHash: c.embedHash };
  }

  /**
   * Replace a note's metadata, chunks and FTS rows in one transaction; vectors for new embed
   * hashes are inserted alongside (content-addressed, so unchanged text keeps its vector).
   * Its links and names are replaced in the same transaction.
   */
  replaceNote(
    note: NoteInput,
    chunks: readonly ChunkInput[],
    vectors: ReadonlyMap<string, Float32Array>,
    links: readonly NoteLink[] = [],
  ): ReplaceResult {
    const s = this.stmts;
    return this.transaction((): ReplaceResult => {
      const existing = s.noteIdByPath.get(note.path);
      const row = noteRow(note);
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
      for (const c of chunks) added.push(this.#insertChunk(noteId, note.title, c));
      this.#writeLinks(noteId, note, links);
      this.#bump();
      return { noteId, added, removed, created: !existing };
    });
  }

  /**
   * A note's links (as written) and the names it answers to: its file name, title and
   * aliases, as keys compared the Obsidian way (see linkKey).
   */
  #writeLinks(noteId: number, note: Pick<NoteInput, 'path' | 'title' | 'aliases'>, links: readonly NoteLink[]): void {
    this.shaped.get<[number], unknown>('DELETE FROM links WHERE note_id = ?').run(noteId);
    this.shaped.get<[number], unknown>('DELETE FROM note_names WHERE note_id = ?').run(noteId);
    const insertLink = this.shaped.get<unknown[], unknown>(
      `INSERT INTO links(note_id, seq, kind, embed, target, target_key, heading, alias, line)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    links.forEach((l, seq) => {
      insertLink.run(
        noteId,
        seq,
        l.kind,
        l.embed ? 1 : 0,
        l.target,
        nameKeyOfPath(l.target),
        l.heading ?? null,
        l.alias ?? null,
        l.line,
      );
    });
    const insertName = this.shaped.get<[string, string, number], unknown>(
      'INSERT OR IGNORE INTO note_names(key, kind, note_id) VALUES (?, ?, ?)',
    );
    insertName.run(nameKeyOfPath(note.path), 'file', noteId);
    if (note.title) insertName.run(linkKey(note.title), 'title', noteId);
    for (const a of note.aliases) if (linkKey(a) !== '') insertName.run(linkKey(a), 'alias', noteId);
  }

  /**
   * Fill links and names for notes indexed before they were stored (schema v2), a slice at a
   * time: `read` gives a note's text, or undefined when it cannot be read (the next sync
   * re-indexes it anyway). Async, with the loop free between slices: a vault of 38k notes is
   * read here, and a note swapped for a FIFO must not block the daemon's start.
   */
  async backfillLinks(
    read: (diskPath: string) => Promise<string | undefined>,
    extract: (text: string) => NoteLink[],
  ): Promise<number> {
    const rows = this.shaped
      .get<[], { id: number; path: string; disk_path: string; title: string; aliases: string }>(
        'SELECT id, path, disk_path, title, aliases FROM notes ORDER BY id',
      )
      .all();
    for (let i = 0; i < rows.length; i += 500) {
      const slice: Array<{ r: (typeof rows)[number]; links: NoteLink[] }> = [];
      for (const r of rows.slice(i, i + 500)) {
        const text = await read(r.disk_path);
        slice.push({ r, links: text === undefined ? [] : extract(text) });
      }
      this.transaction(() => {
        for (const { r, links } of slice) {
          this.#writeLinks(r.id, { path: r.path, title: r.title, aliases: parseStringList(r.aliases) }, links);
        }
      });
    }
    this.setMeta('links_backfill', '0');
    return rows.length;
  }

  /**
   * replaceNote for a note too large for one short transaction (thousands of chunks): the
   * chunks go in slices of `slice`, each its own transaction, with `pause()` between them so
   * the daemon keeps serving. The note is marked unindexed (no hash, size -1) until the last
   * step, so a crash in between leaves it to be indexed again, never half-indexed for good.
   */
  async replaceNoteInSlices(
    note: NoteInput,
    chunks: readonly ChunkInput[],
    vectors: ReadonlyMap<string, Float32Array>,
    links: readonly NoteLink[],
    pause: () => Promise<void>,
    slice = 400,
  ): Promise<ReplaceResult> {
    const s = this.stmts;
    const row = noteRow(note);
    const pending = { ...row, hash: '', size: -1 };
    const removed: number[] = [];
    const { noteId, created } = this.transaction(() => {
      const existing = s.noteIdByPath.get(note.path);
      if (existing) {
        this.#dropChunks(existing.id, removed);
        s.updateNote.run({ ...pending, id: existing.id });
        s.deleteTags.run(existing.id);
        this.#bump();
        return { noteId: existing.id, created: false };
      }
      const id = Number(s.insertNote.run(pending).lastInsertRowid);
      this.#bump();
      return { noteId: id, created: true };
    });
    const added: ReplaceResult['added'] = [];
    for (let i = 0; i < chunks.length; i += slice) {
      await pause();
      this.transaction(() => {
        for (const c of chunks.slice(i, i + slice)) {
          const vec = vectors.get(c.embedHash);
          if (vec) s.insertVector.run(c.embedHash, vecToBlob(vec));
          added.push(this.#insertChunk(noteId, note.title, c));
        }
        this.#bump();
      });
    }
    this.transaction(() => {
      s.updateNote.run({ ...row, id: noteId });
      for (const tag of note.tags) s.insertTag.run(noteId, tag);
      this.#writeLinks(noteId, note, links);
      this.#bump();
    });
    return { noteId, added, removed, created };
  }

  /** The file was touched but its content hash is unchanged: record the new stat only. */
  touchNote(path: string, diskPath: string, size: number, mtimeMs: number, ctimeMs: number): void {
    this.stmts.touchNote.run({ diskPath, size, mtimeMs, ctimeMs, path });
  }

  /** Remove notes and everything derived from them; returns the chunk ids that went away. */
  removeNotes(paths: readonly string[]): number[] {
    const s = this.stmts;
    return this.transaction((): number[] => {
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
    return this.stmts.gcVectors.run().changes;
  }

  /** Forget every vector (the model changed): chunks stay, vectors are re-embedded. */
  clearVectors(): void {
    this.transaction(() => {
      this.stmts.clearVectors.run();
      this.#bump();
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** A note's row as the notes table stores it, stamped with the time it was indexed. */
function noteRow(note: NoteInput) {
  return {
    path: note.path,
    diskPath: note.diskPath,
    hash: note.hash,
    size: note.size,
    mtimeMs: note.mtimeMs,
    ctimeMs: note.ctimeMs,
    title: note.title,
    tags: JSON.stringify(note.tags),
    aliases: JSON.stringify(note.aliases),
    frontMatter: JSON.stringify(note.frontMatter),
    indexedAt: Date.now(),
  };
}
