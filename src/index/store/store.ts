import { indexText } from '../../chunk/index.ts';
import type { Db } from '../db.ts';
import { StoreReads } from './reads.ts';
import { type ChunkInput, type NoteInput, type ReplaceResult, vecToBlob } from './rows.ts';
import { prepareStatements } from './statements.ts';

// The index's SQLite database: StoreReads' queries plus the writes, each of which keeps notes,
// tags, chunks, FTS rows and content-addressed vectors consistent in one transaction and bumps
// the generation the HNSW manifest is checked against.

export class Store extends StoreReads {
  constructor(db: Db) {
    super(db, prepareStatements(db));
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  /** Run fn in one IMMEDIATE transaction, or inside the caller's if one is open. */
  transaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  #bump(): void {
    this.stmts.bump.run();
  }

  /** Delete a note's chunks and their FTS rows, collecting the chunk ids (for the graph). */
  #dropChunks(noteId: number, removed: number[]): void {
    for (const c of this.stmts.chunkIdsOfNote.all(noteId)) {
      removed.push(c.id);
      this.stmts.deleteFts.run(c.id);
    }
    this.stmts.deleteChunksOfNote.run(noteId);
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
    const s = this.stmts;
    return this.transaction((): ReplaceResult => {
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
      for (const c of chunks) {
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
        s.insertFts.run(id, indexText(c.text), note.title, c.headings.join(' '));
        added.push({ id, embedHash: c.embedHash });
      }
      this.#bump();
      return { noteId, added, removed, created: !existing };
    });
  }

  /** The file was touched but its content hash is unchanged: record the new stat only. */
  touchNote(path: string, diskPath: string, size: number, mtimeMs: number): void {
    this.stmts.touchNote.run(diskPath, size, mtimeMs, path);
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
