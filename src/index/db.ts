import Database from 'better-sqlite3';
import { NotesError } from '../errors.ts';

export type Db = Database.Database;

// Schema migrations, applied in order inside one IMMEDIATE transaction and gated by
// PRAGMA user_version, so a crash mid-migration leaves the previous version intact.
const MIGRATIONS: readonly string[] = [
  // v1
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    disk_path TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    aliases TEXT NOT NULL,
    front_matter TEXT NOT NULL,
    indexed_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE note_tags (
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, note_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX note_tags_note ON note_tags(note_id);
  CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    headings TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL
  ) STRICT;
  CREATE INDEX chunks_note ON chunks(note_id, seq);
  CREATE INDEX chunks_embed ON chunks(embed_hash);
  -- Content-addressed: one vector per distinct embed text, for the model recorded in meta.
  CREATE TABLE vectors (embed_hash TEXT PRIMARY KEY, vec BLOB NOT NULL) STRICT, WITHOUT ROWID;
  CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, title, headings,
    content = '', contentless_delete = 1,
    tokenize = 'porter unicode61 remove_diacritics 2'
  );
  `,
  // v2: links between notes, and the names a link or a title lookup can use for a note. Links
  // are stored as written and resolved when asked, since which note [[Name]] means depends on
  // every other note. Notes indexed before v2 get their links from a one-time backfill.
  `
  CREATE TABLE links (
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    embed INTEGER NOT NULL,
    target TEXT NOT NULL,
    target_key TEXT NOT NULL,
    heading TEXT,
    alias TEXT,
    line INTEGER NOT NULL,
    PRIMARY KEY (note_id, seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX links_target ON links(target_key);
  CREATE TABLE note_names (
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    PRIMARY KEY (key, kind, note_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX note_names_note ON note_names(note_id);
  INSERT INTO meta(key, value) VALUES ('links_backfill', '1') ON CONFLICT(key) DO UPDATE SET value = '1';
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * SQLite page cache sizes, in KiB. Bulk indexing needs the large one: with the default 2 MB
 * every insert into a large index touched the disk. Serving reads little through SQLite (BM25
 * and the graph live in memory; the OS caches the file), and the pages a large cache keeps
 * stay in the process's RSS, so it runs with a small one.
 */
export const BULK_CACHE_KIB = 65_536;
export const SERVING_CACHE_KIB = 8_192;

export interface OpenDbOptions {
  readonly?: boolean;
}

export function openDb(file: string, opts: OpenDbOptions = {}): Db {
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new NotesError('NOTES_E_STATE_CORRUPT', [file, (err as Error).message], { cause: err });
  }
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma(`cache_size = -${SERVING_CACHE_KIB}`);
    db.pragma('temp_store = MEMORY');
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // FULL: a commit survives power loss, which is what "acknowledged" means for the index.
      db.pragma('synchronous = FULL');
      // Checkpoint the WAL every ~40 MB instead of every 4 MB (bulk indexing spent a third of
      // its SQLite time copying pages back), and truncate it afterwards.
      db.pragma('wal_autocheckpoint = 10000');
      db.pragma('journal_size_limit = 67108864');
      if (process.platform === 'darwin') {
        // On macOS plain fsync does not reach the platter; F_FULLFSYNC does.
        db.pragma('fullfsync = ON');
        db.pragma('checkpoint_fullfsync = ON');
      }
      migrate(db);
      addCompatibleColumns(db);
      configureFtsMerges(db);
    } else {
      const v = db.pragma('user_version', { simple: true }) as number;
      if (v !== SCHEMA_VERSION) {
        throw new NotesError('NOTES_E_STATE_CORRUPT', [file, `schema version ${v}, expected ${SCHEMA_VERSION}`]);
      }
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db.close();
    if (err instanceof NotesError) throw err;
    throw new NotesError('NOTES_E_STATE_CORRUPT', [file, (err as Error).message], { cause: err });
  }
}

/**
 * FTS5's own merging runs inside whichever write happens to trigger it, for as long as it
 * takes. Two settings, both kept in the database, hand it to Store instead, which merges a
 * bounded amount at the end of each write transaction (FTS_MERGE_PAGES):
 * - deletemerge 0: FTS5 rewrote a whole segment as soon as a tenth of its rows were deleted.
 *   During a full re-index of tldr-all, where every chunk is deleted and written again, single
 *   DELETEs took up to 1.4 s on the main thread (/health p99 1.4 s); with 0, deleted rows go
 *   in the ordinary merges (20,000 re-indexed chunks: worst DELETE 36 ms, against 1.1 s).
 * - automerge 0: an ordinary merge ran inside one DELETE for up to 150-750 ms on the first
 *   full re-index after a start (/health p99 259 ms, max 797 ms). Rewriting every FTS row of
 *   tldr-all on a copy of its index, the worst statement went from 153 ms to 18 ms with
 *   50-page merges per transaction, the table ending as compact (4,298 pages against 4,274).
 */
function configureFtsMerges(db: Db): void {
  const rows = db.prepare("SELECT k, v FROM chunks_fts_config WHERE k IN ('deletemerge', 'automerge')").all() as Array<{
    k: string;
    v: unknown;
  }>;
  for (const k of ['deletemerge', 'automerge']) {
    if (rows.find((r) => r.k === k)?.v !== 0) db.exec(`INSERT INTO chunks_fts(chunks_fts, rank) VALUES('${k}', 0)`);
  }
}

/**
 * FTS5 merge work (in pages written) at the end of each write transaction: enough to keep the
 * segments as few as FTS5's own automerge did, in steps of ~20 ms at most.
 */
export const FTS_MERGE_PAGES = 50;

/**
 * Columns an older notes-mcp can live with (it names its columns, so it leaves a nullable one
 * alone), added outside the versioned migrations so that a rollback to the previous release
 * still opens the database instead of refusing a "newer" schema.
 * - notes.ctime_ms: an edit that kept size and mtime while the daemon was down was never
 *   indexed. NULL (rows of an older version) counts as changed: the note is hashed once.
 */
function addCompatibleColumns(db: Db): void {
  const cols = db.pragma('table_info(notes)') as Array<{ name: string }>;
  if (!cols.some((c) => c.name === 'ctime_ms')) db.exec('ALTER TABLE notes ADD COLUMN ctime_ms REAL');
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `index schema version ${current} is newer than this notes-mcp (${SCHEMA_VERSION}); upgrade notes-mcp`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = current; v < SCHEMA_VERSION; v++) {
      const sql = MIGRATIONS[v];
      if (sql) db.exec(sql);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
