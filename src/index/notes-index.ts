import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync, statfsSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  DEFAULT_CHUNK_OPTIONS,
  extractLinks,
  linkKey,
  type NoteLink,
  nameKeyOfPath,
  resolveRelativeTarget,
} from '../chunk/index.ts';
import type { ChunkOptions } from '../chunk/types.ts';
import type { Config } from '../config/index.ts';
import type { Embedder } from '../embed/types.ts';
import { describeError, NotesError } from '../errors.ts';
import { fsyncPath, readStateFileSync, stateFileProblem, writeFileAtomicSync } from '../fs-atomic.ts';
import type { Logger } from '../log.ts';
import { type ChangeBatch, readNoteFile } from '../notes/index.ts';
import { openDb } from './db.ts';
import { Indexer, type NoteEvent, type SyncProgress, type SyncSummary } from './indexer.ts';
import { buildLexicalIndex, LexicalIndex } from './lexical.ts';
import { acquireLock, type Lock } from './lock.ts';
import { type ChunkRecord, type Filter, type NoteRecord, Store, type StoredLink } from './store/index.ts';
import { VectorIndex } from './vectors.ts';

/** The files of one index folder (README "State folder layout" uses the same names). */
export function indexFiles(indexDir: string): { database: string; graph: string; lexical: string; lock: string } {
  return {
    database: join(indexDir, 'index.db'),
    graph: join(indexDir, 'vectors.hnsw'),
    lexical: join(indexDir, 'lexical.bin'),
    lock: join(indexDir, 'lock'),
  };
}

// Bumped when chunking changes in a way that should re-chunk existing indexes.
const CHUNKER_VERSION = 2;

export interface IndexStatus {
  notesDir: string;
  indexDir: string;
  notes: number;
  chunks: number;
  vectors: number;
  model: string;
  fingerprint: string;
  dims: number;
  generation: number;
  lastIndexedAt: number | undefined;
  lastSyncAt: number | undefined;
  /** Milliseconds the oldest unapplied change has waited (0 when the index is current). */
  lagMs: number;
  syncing: boolean;
  /** Files under the notes folder that are not indexed, and why (first few of them). */
  skipped: { count: number; first: Array<{ path: string; reason: string }> };
  /** loaded: the saved graph; rebuilt: from stored vectors; exact: read-only, no usable graph. */
  vectorIndex: { loaded: 'loaded' | 'rebuilt' | 'exact'; reason: string; size: number };
}

export interface OpenIndexOptions {
  config: Config;
  embedder: Embedder;
  log: Logger;
  /** Open without taking the writer lock (CLI search/status next to a running daemon). */
  readOnly?: boolean;
  chunkOptions?: Partial<ChunkOptions>;
  /** Debounce for saving the vector graph after changes. */
  saveDelayMs?: number;
}

interface SyncJob {
  full: boolean;
  listeners: Set<(p: SyncProgress) => void>;
  promise: Promise<SyncSummary>;
}

const MAX_SKIPPED_KEPT = 200;
const SkippedList = z.array(z.tuple([z.string(), z.string()]));

/** Which note a link or a name means: one, several (candidates), or none. */
export type LinkResolution =
  | { status: 'resolved'; path: string }
  | { status: 'ambiguous'; candidates: string[] }
  | { status: 'unresolved' };

/** A link from a note, with the note it resolves to. */
export interface ResolvedLink extends StoredLink {
  resolution: LinkResolution;
}

/** A mention of a note in another note. */
export interface Backlink extends StoredLink {
  /** The note the mention is in. */
  path: string;
}

const MAX_CANDIDATES = 20;
/** While indexing, status() reads the counts again at most this often. */
const STATUS_REFRESH_MS = 1000;

function folderOf(path: string): string {
  return path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
}

interface Events {
  note: [NoteEvent];
  synced: [SyncSummary];
  /** The database turned out damaged while running: the owner should restart, which heals it. */
  corrupt: [Error];
}

/** The knowledge index: one SQLite database plus an HNSW graph, with one writer at a time. */
export class NotesIndex extends EventEmitter<Events> {
  readonly config: Config;
  readonly #store: Store;
  readonly embedder: Embedder;
  readonly readOnly: boolean;
  #vectors: VectorIndex;
  #lexical = new LexicalIndex();
  #lexicalReady = false;
  #lexicalWaiters = new Set<() => void>();
  #readOnlyLexical: LexicalIndex | undefined;
  /** Store generation of the BM25 snapshot on disk (saved or loaded), to save only on change. */
  #snapshotGeneration: number | undefined;
  #vectorInfo: IndexStatus['vectorIndex'];
  #indexer: Indexer;
  #lock: Lock | undefined;
  #log: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  #queued = 0;
  #pendingSince: number | undefined;
  #lastSyncAt: number | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  #saveDelayMs: number;
  #closed = false;
  /** Aborted by close(): queued and running index work stops at its next step. */
  #stop = new AbortController();
  #runningSync: SyncJob | undefined;
  #queuedSyncs = new Set<SyncJob>();
  /** Files not indexed (path → reason), persisted in meta for other processes to show. */
  #skipped = new Map<string, string>();
  #statusFacts:
    | {
        generation: number;
        /** performance.now() when read. */
        at: number;
        counts: { notes: number; chunks: number; vectors: number };
        lastIndexedAt: number | undefined;
      }
    | undefined;

  private constructor(
    opts: OpenIndexOptions,
    store: Store,
    vectors: VectorIndex,
    vectorInfo: IndexStatus['vectorIndex'],
    lock: Lock | undefined,
  ) {
    super();
    this.config = opts.config;
    this.#store = store;
    this.embedder = opts.embedder;
    this.readOnly = opts.readOnly ?? false;
    this.#vectors = vectors;
    this.#vectorInfo = vectorInfo;
    this.#lock = lock;
    this.#log = opts.log;
    this.#saveDelayMs = opts.saveDelayMs ?? 5_000;
    try {
      const kept = SkippedList.safeParse(JSON.parse(store.getMeta('skipped') ?? '[]'));
      if (kept.success) for (const [p, r] of kept.data) this.#skipped.set(p, r);
    } catch {
      // An unreadable list is only a status detail: the next sync writes it again.
    }
    // Chunk sizes use the chunker's cheap token estimate: the tokenizer costs more than the
    // rest of parsing, and the embedder truncates at its real window anyway.
    const chunkOptions: ChunkOptions = { ...DEFAULT_CHUNK_OPTIONS, ...opts.chunkOptions };
    this.#indexer = new Indexer({
      root: opts.config.notesDir,
      store,
      vectors,
      embedder: opts.embedder,
      chunkOptions,
      scan: { include: opts.config.include, exclude: opts.config.exclude, skipDirs: [opts.config.stateDir] },
      log: opts.log,
      emit: (e) => this.emit('note', e),
      onChunks: (added, removed) => {
        this.#lexical.remove(removed);
        for (const d of added) this.#lexical.add(d);
      },
      signal: this.#stop.signal,
    });
  }

  static async open(opts: OpenIndexOptions): Promise<NotesIndex> {
    const { config, embedder, log } = opts;
    const readOnly = opts.readOnly ?? false;
    const files = indexFiles(config.indexDir);
    const dbFile = files.database;
    let lock: Lock | undefined;
    if (!readOnly) {
      makeIndexFolder(config.indexDir, log);
      lock = acquireLock(files.lock, config.indexDir);
    }
    let store: Store | undefined;
    try {
      const identity = `${embedder.fingerprint}|dims=${embedder.dims}|chunker=${CHUNKER_VERSION}`;
      if (readOnly && !existsSync(dbFile)) throw new NotesError('NOTES_E_NOT_INDEXED', [config.notesDir]);
      // A folder, FIFO, device or unreadable file where index.db or its WAL belongs: SQLite would
      // block on the FIFO (read-only) or call it a disk I/O error, and every start would exit.
      const unusable = unusableDatabase(dbFile, !readOnly);
      try {
        if (unusable) throw new NotesError('NOTES_E_STATE_CORRUPT', [dbFile, unusable]);
        store = openStore(dbFile, readOnly, log);
        prepareIdentity(store, identity, opts);
      } catch (err) {
        store?.close();
        store = undefined;
        if (readOnly || !(unusable || isCorruption(err))) throw err;
        // Everything in index.db can be rebuilt from the notes: keep the broken file for a
        // post-mortem, start an empty index, and let the initial sync fill it while serving.
        const aside = moveAside(dbFile, [files.graph, `${files.graph}.manifest.json`, files.lexical]);
        log.error(
          { err: describeError(err), kept_as: aside },
          'the index database is unreadable: moved it aside and rebuilding it from the notes',
        );
        store = openStore(dbFile, false, log);
        prepareIdentity(store, identity, opts);
      }
      const ids = store.chunkIdsWithVectors();
      const opened = await VectorIndex.open({
        file: files.graph,
        dims: embedder.dims,
        fingerprint: identity,
        source: store,
        expectedCount: ids.length,
        log,
        exactWhenStale: readOnly,
      });
      log.info({ vectors: opened.index.size, rebuilt: opened.rebuilt, reason: opened.reason }, 'vector index ready');
      const idx = new NotesIndex(
        opts,
        store,
        opened.index,
        {
          loaded: opened.rebuilt ? 'rebuilt' : opened.index.exactOnly ? 'exact' : 'loaded',
          reason: opened.reason,
          size: opened.index.size,
        },
        lock,
      );
      if (opened.rebuilt && !readOnly) await idx.#vectors.save(store.generation());
      const backfilling = store;
      if (!readOnly && backfilling.getMeta('links_backfill') === '1')
        void idx
          .#enqueue(async () => {
            const realRoot = await realpath(config.notesDir).catch(() => config.notesDir);
            const n = await backfilling.backfillLinks(async (file) => {
              const r = await readNoteFile(file, realRoot).catch(() => undefined);
              return r?.ok ? r.bytes.toString('utf8') : undefined;
            }, extractLinks);
            log.info({ notes: n }, 'links of already indexed notes stored');
          })
          .catch((err: unknown) => log.error({ err }, 'storing links of indexed notes failed'));
      if (!readOnly)
        void idx
          .#buildLexical()
          .catch((err: unknown) => log.error({ err }, 'building the in-memory BM25 index failed'));
      return idx;
    } catch (err) {
      store?.close();
      lock?.release();
      throw err;
    }
  }

  /**
   * Fill the in-memory BM25 index from the database, a slice at a time so the daemon keeps
   * answering (searches use FTS5 until it is ready). It runs in the mutation queue, so no
   * indexing change can interleave with the build.
   */
  #buildLexical(): Promise<void> {
    return this.#enqueue(async () => {
      const t0 = performance.now();
      // The snapshot saved at the last flush, when it is of this very generation, loads about
      // five times faster than building (0.6 s against 3.3 s on 38k notes).
      const loaded = this.#loadLexicalSnapshot();
      if (loaded) {
        this.#lexical = loaded;
        this.#snapshotGeneration = this.#store.generation();
      } else {
        let n = 0;
        for (const doc of this.#store.iterateLexicalDocs()) {
          this.#lexical.add(doc);
          if (++n % 2000 === 0) await new Promise((r) => setImmediate(r));
        }
      }
      this.#lexicalReady = true;
      for (const w of this.#lexicalWaiters) w();
      this.#lexicalWaiters.clear();
      this.#log.info(
        { ms: Math.round(performance.now() - t0), from: loaded ? 'snapshot' : 'database' },
        'in-memory BM25 index ready',
      );
    });
  }

  #loadLexicalSnapshot(): LexicalIndex | undefined {
    try {
      return LexicalIndex.load(
        readStateFileSync(indexFiles(this.config.indexDir).lexical, 2 ** 31 - 1),
        this.#store.generation(),
      );
    } catch {
      // Missing, of another generation or unreadable: build from the database instead.
      return undefined;
    }
  }

  /** The writer's in-memory BM25 index once built; undefined before that and for read-only opens. */
  get lexical(): LexicalIndex | undefined {
    return this.#lexicalReady ? this.#lexical : undefined;
  }

  /**
   * The BM25 index a search should use, so that the CLI ranks exactly like the daemon: the
   * writer's own (waiting up to waitMs while it is built at start), or for a read-only open the
   * writer's snapshot when it is current, else one built from the stored chunks, once.
   * undefined only when the writer's is not ready within waitMs (search then uses FTS5).
   */
  async lexicalForSearch(waitMs = 5_000): Promise<LexicalIndex | undefined> {
    if (this.readOnly) {
      this.#readOnlyLexical ??= this.#loadLexicalSnapshot() ?? buildLexicalIndex(this.#store.iterateLexicalDocs());
      return this.#readOnlyLexical;
    }
    if (!this.#lexicalReady && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        timer.unref();
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#lexicalWaiters.add(done);
      });
    }
    return this.lexical;
  }

  /**
   * Save the in-memory BM25 index for read-only openers and the next start (atomically, tagged
   * with the store generation it reflects). false: nothing to save (read-only, not built yet).
   */
  saveLexicalSnapshot(): boolean {
    if (this.readOnly || !this.#lexicalReady) return false;
    const generation = this.#store.generation();
    writeFileAtomicSync(indexFiles(this.config.indexDir).lexical, this.#lexical.serialize(generation), 0o600);
    this.#snapshotGeneration = generation;
    return true;
  }

  /** True while indexing work is queued or running (cheap: no database query). */
  get busy(): boolean {
    return this.#queued > 0;
  }

  get vectors(): VectorIndex {
    return this.#vectors;
  }

  /** Run index mutations one at a time, in order. */
  #enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new NotesError('NOTES_E_SHUTTING_DOWN'));
    if (this.readOnly) return Promise.reject(new NotesError('NOTES_E_INTERNAL', ['index opened read-only']));
    this.#queued++;
    this.#pendingSince ??= Date.now();
    const guarded = async (): Promise<T> => {
      if (this.#stop.signal.aborted) throw new NotesError('NOTES_E_SHUTTING_DOWN');
      try {
        return await fn();
      } catch (err) {
        // Damage found mid-run (a page gone bad under the daemon): the start-time check moves
        // the file aside and rebuilds, so the owner is told to restart rather than limp on.
        if (isCorruption(err)) this.emit('corrupt', err as Error);
        throw err;
      }
    };
    const run = this.#queue.then(guarded, guarded);
    this.#queue = run.then(
      () => this.#settle(),
      () => this.#settle(),
    );
    return run;
  }

  #settle(): void {
    // Vector garbage collection does not bump the generation: count again after any work.
    this.#statusFacts = undefined;
    this.#queued--;
    if (this.#queued === 0) this.#pendingSince = undefined;
    this.#lastSyncAt = Date.now();
    this.#scheduleSave();
  }

  /**
   * Bring the index in line with the folder. Calls made while a sync of the same kind (or a
   * full one) runs or waits join it instead of queuing another: eight "reindex full" calls
   * cost one re-index, not eight.
   */
  sync(opts: { full?: boolean; onProgress?: (p: SyncProgress) => void } = {}): Promise<SyncSummary> {
    const full = opts.full ?? false;
    const join = [this.#runningSync, ...this.#queuedSyncs].find((j) => j !== undefined && (j.full || !full));
    if (join) {
      if (opts.onProgress) join.listeners.add(opts.onProgress);
      return join.promise;
    }
    const job: SyncJob = { full, listeners: new Set(opts.onProgress ? [opts.onProgress] : []), promise: undefined! };
    this.#queuedSyncs.add(job);
    job.promise = this.#enqueue(async () => {
      this.#queuedSyncs.delete(job);
      this.#runningSync = job;
      try {
        const s = await this.#indexer.sync({
          full,
          onProgress: (p) => {
            for (const l of job.listeners) l(p);
          },
        });
        // Done means searchable by every method: wait for the graph worker to catch up.
        await this.#vectors.settled();
        this.#noteSkipped(s.skipped, 'all');
        this.emit('synced', s);
        return s;
      } finally {
        this.#runningSync = undefined;
      }
    });
    return job.promise;
  }

  apply(batch: ChangeBatch): Promise<SyncSummary> {
    return this.#enqueue(async () => {
      const s = await this.#indexer.apply(batch);
      await this.#vectors.settled();
      this.#noteSkipped(s.skipped, [...batch.upserted, ...batch.removed], batch.removedDirs);
      return s;
    });
  }

  /**
   * Remember which files were not indexed and why (status, doctor, the CLI in another
   * process): `scope` is every path a sync looked at ('all' for a full scan).
   */
  #noteSkipped(skipped: SyncSummary['skipped'], scope: 'all' | readonly string[], dirs: readonly string[] = []): void {
    const before = JSON.stringify([...this.#skipped]);
    if (scope === 'all') this.#skipped.clear();
    else {
      for (const p of scope) this.#skipped.delete(p);
      for (const d of dirs)
        for (const p of [...this.#skipped.keys()]) if (p.startsWith(`${d}/`)) this.#skipped.delete(p);
    }
    for (const s of skipped) this.#skipped.set(s.path, s.reason);
    const after = [...this.#skipped].slice(0, MAX_SKIPPED_KEPT);
    if (JSON.stringify(after) !== before) this.#store.setMeta('skipped', JSON.stringify(after));
  }

  /** Index these notes now (after the daemon wrote them), without waiting for the watcher. */
  refresh(paths: readonly string[]): Promise<SyncSummary> {
    return this.apply({ upserted: [...paths], removed: [], removedDirs: [] });
  }

  /** Wait for every queued mutation to finish, the vector graph included. */
  async idle(): Promise<void> {
    while (this.#queued > 0) await this.#queue;
    await this.#vectors.settled();
  }

  #scheduleSave(): void {
    if (this.#saveTimer || !this.#vectors.dirty || this.#closed) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      if (this.#queued > 0) return this.#scheduleSave();
      void this.flush();
    }, this.#saveDelayMs);
    this.#saveTimer.unref();
  }

  /** Persist the vector graph now if it changed. */
  async flush(): Promise<void> {
    if (this.readOnly) return;
    if (this.#vectors.dirty) await this.#vectors.save(this.#store.generation());
    if (this.#lexicalReady && this.#snapshotGeneration !== this.#store.generation()) {
      // Only a speed-up for the next start and the CLI: failing to save it is not a failure.
      try {
        this.saveLexicalSnapshot();
      } catch (err) {
        this.#log.warn({ err: describeError(err) }, 'could not save the BM25 snapshot');
      }
    }
  }

  // What callers outside src/index/ may ask of the index. The database behind it is private:
  // a schema change stays inside this folder.

  /** One note's indexed record (title, tags, front matter, stat), by its notes-relative path. */
  getNote(path: string): NoteRecord | undefined {
    return this.#store.getNote(path);
  }

  /** Notes matching a filter, sorted by path, after a path (keyset paging). */
  listNotes(filter: Filter, page: { after?: string | undefined; limit: number }): NoteRecord[] {
    return this.#store.listNotes(filter, page.after === undefined ? { limit: page.limit } : page);
  }

  countNotes(filter?: Filter): number {
    return this.#store.countNotes(filter);
  }

  /** Note paths starting with `prefix` (completion), sorted, at most `limit`. */
  pathsWithPrefix(prefix: string, limit: number): string[] {
    return this.#store.pathsWithPrefix(prefix, limit);
  }

  chunk(id: number): ChunkRecord | undefined {
    return this.#store.chunk(id);
  }

  /** A note's chunk ids in order (empty when it is not indexed). */
  chunkIdsOf(path: string): number[] {
    return this.#store.chunkIdsOf(path);
  }

  chunks(ids: readonly number[]): Map<number, ChunkRecord> {
    return this.#store.chunks(ids);
  }

  /** Chunk ids a filter allows (filtered vector and BM25 search). */
  chunkIdsMatching(filter: Filter): Set<number> {
    return this.#store.chunkIdsMatching(filter);
  }

  /** SQLite FTS5 BM25 (the durable lexical index; answers until the in-memory one is built). */
  fts(match: string, limit: number, filter?: Filter): Array<{ id: number; score: number }> {
    return this.#store.fts(match, limit, filter);
  }

  counts(): { notes: number; chunks: number; vectors: number } {
    return this.#store.counts();
  }

  noteStates(): ReadonlyMap<string, { path: string; hash: string; size: number; mtimeMs: number }> {
    return this.#store.noteStates();
  }

  tagCounts(limit: number): Array<{ tag: string; notes: number }> {
    return this.#store.tagCounts(limit);
  }

  /**
   * Which note a wikilink target or a typed name means, the way Obsidian resolves links: the
   * file name (or a path suffix, "folder/Note"), case-insensitive; among several, an exact
   * path, else the one in the linking note's folder; failing a file name, a unique title or
   * alias. Several left over are ambiguous (candidates sorted, shortest path first).
   * `filesOnly`: a typed file name (`x.md`) is looked up as a file, never as a title.
   */
  resolveName(name: string, from?: string, filesOnly = false): LinkResolution {
    const key = linkKey(name.replace(/#.*$/, ''));
    if (key === '') return { status: 'unresolved' };
    const last = key.slice(key.lastIndexOf('/') + 1);
    const named = this.#store.notesNamed(last);
    let files = named.filter((n) => n.kind === 'file').map((n) => n.path);
    if (key.includes('/')) files = files.filter((p) => linkKey(p) === key || linkKey(p).endsWith(`/${key}`));
    const pick = (paths: string[]): LinkResolution | undefined => {
      const unique = [...new Set(paths)];
      if (unique.length === 1) return { status: 'resolved', path: unique[0]! };
      if (unique.length === 0) return undefined;
      const exact = unique.filter((p) => linkKey(p) === key);
      if (exact.length === 1) return { status: 'resolved', path: exact[0]! };
      if (from !== undefined) {
        const near = unique.filter((p) => folderOf(p) === folderOf(from));
        if (near.length === 1) return { status: 'resolved', path: near[0]! };
      }
      const sorted = unique.sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
      return { status: 'ambiguous', candidates: sorted.slice(0, MAX_CANDIDATES) };
    };
    const byFile = pick(files);
    if (byFile) return byFile;
    if (filesOnly) return { status: 'unresolved' };
    const byTitle = pick(
      (key === last ? named : this.#store.notesNamed(key)).filter((n) => n.kind !== 'file').map((n) => n.path),
    );
    return byTitle ?? { status: 'unresolved' };
  }

  /** The note a link from `from` points at: wikilinks by name, Markdown links by path. */
  resolveLink(from: string, link: Pick<StoredLink, 'kind' | 'target'>): LinkResolution {
    // [[ghost.md]] names a file, as read_note("ghost.md") does: never a title or alias.
    if (link.kind === 'wiki') return this.resolveName(link.target, from, /\.(?:md|markdown)$/i.test(link.target));
    // Relative to the linking note; Obsidian also writes paths from the vault's top.
    for (const p of [resolveRelativeTarget(from, link.target), resolveRelativeTarget('', link.target)]) {
      if (p !== null && this.#store.hasNote(p)) return { status: 'resolved', path: p };
    }
    return { status: 'unresolved' };
  }

  /** A note's links, resolved: from the text given (just read from disk), else as indexed. */
  outgoingLinks(path: string, links?: readonly NoteLink[]): ResolvedLink[] {
    const source: StoredLink[] =
      links?.map((l) => ({
        kind: l.kind,
        embed: l.embed,
        target: l.target,
        heading: l.heading,
        alias: l.alias,
        line: l.line,
      })) ?? this.#store.linksFrom(path);
    const resolve = this.#resolver();
    return source.map((l) => ({ ...l, resolution: resolve(path, l) }));
  }

  // A note that links one name 5,000 times asks the database once, not 5,000 times (that was
  // most of a read_note of such a note, on the main thread). Only for one call: a note written
  // meanwhile changes what names resolve to.
  #resolver(): (from: string, link: Pick<StoredLink, 'kind' | 'target'>) => LinkResolution {
    const seen = new Map<string, LinkResolution>();
    return (from, link) => {
      const key = `${link.kind}\0${link.target}\0${from}`;
      let r = seen.get(key);
      if (r === undefined) {
        r = this.resolveLink(from, link);
        seen.set(key, r);
      }
      return r;
    };
  }

  /** Every mention of a note in the indexed notes, by path and line. */
  backlinks(path: string): Backlink[] {
    const keys = new Set([nameKeyOfPath(path), ...this.#store.namesOf(path).map((n) => n.key)]);
    const out: Backlink[] = [];
    const resolve = this.#resolver();
    for (const { source, ...l } of this.#store.linksToKeys([...keys])) {
      const r = resolve(source, l);
      if (r.status === 'resolved' && r.path === path) out.push({ path: source, ...l });
    }
    return out;
  }

  /**
   * The notes nearest in meaning to a note: its chunks' mean vector against the graph, one
   * score per note (its best chunk), the note itself left out.
   */
  async nearestNotes(path: string, k: number): Promise<Array<{ path: string; title: string; score: number }>> {
    const vecs = this.#store.noteVectors(path);
    if (vecs.length === 0) return [];
    const mean = new Float32Array(vecs[0]!.length);
    for (const v of vecs) for (let i = 0; i < mean.length; i++) mean[i]! += v[i]!;
    const norm = Math.hypot(...mean) || 1;
    for (let i = 0; i < mean.length; i++) mean[i]! /= norm;
    const hits = await this.#vectors.search(mean, Math.max(50, k * 8));
    const records = this.#store.chunks(hits.map((h) => h.id));
    const best = new Map<string, { path: string; title: string; score: number }>();
    for (const h of hits) {
      const c = records.get(h.id);
      if (!c || c.path === path || best.has(c.path)) continue;
      best.set(c.path, { path: c.path, title: c.title, score: Number(h.score.toFixed(6)) });
    }
    return [...best.values()].slice(0, k);
  }

  status(): IndexStatus {
    // Counts and the latest indexed_at change only with the store generation: /health and
    // /metrics ask on every request, and max(indexed_at) scans every note (3 ms on tldr-all).
    // While indexing runs, the generation moves with every commit, and reading them again for
    // each /health took 11 s of a tldr-all re-index's main thread (through a growing WAL, up
    // to tens of ms a call): then they are read at most once a second.
    const generation = this.#store.generation();
    const facts = this.#statusFacts;
    const t = performance.now();
    if (facts?.generation !== generation && (!facts || !this.busy || t - facts.at >= STATUS_REFRESH_MS)) {
      this.#statusFacts = {
        generation,
        at: t,
        counts: this.#store.counts(),
        lastIndexedAt: this.#store.lastIndexedAt(),
      };
    }
    const c = this.#statusFacts!.counts;
    return {
      notesDir: this.config.notesDir,
      indexDir: this.config.indexDir,
      notes: c.notes,
      chunks: c.chunks,
      vectors: c.vectors,
      model: this.embedder.modelId,
      fingerprint: this.embedder.fingerprint,
      dims: this.embedder.dims,
      generation,
      lastIndexedAt: this.#statusFacts!.lastIndexedAt,
      lastSyncAt: this.#lastSyncAt,
      lagMs: this.#pendingSince === undefined ? 0 : Date.now() - this.#pendingSince,
      syncing: this.#queued > 0,
      skipped: {
        count: this.#skipped.size,
        first: [...this.#skipped].slice(0, 5).map(([path, reason]) => ({ path, reason })),
      },
      vectorIndex: { ...this.#vectorInfo, size: this.#vectors.size },
    };
  }

  /**
   * Let go of the database the way a crash would: nothing saved, the lock left behind for the
   * next opener to judge stale. Tests use it to prove the index heals from that state.
   */
  abandon(): void {
    this.#closed = true;
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#store.close();
  }

  /** Stop queued and running index work at its next step (close() does it too). */
  stopWork(): void {
    this.#stop.abort();
  }

  /**
   * Stop queued work at its next step, save the graph, release the database and the lock.
   * Closing used to finish every queued job first: a large note being embedded kept a stopping
   * daemon (and the state lock) for 19 s to 9 minutes past SIGTERM, and launchd's restarts
   * failed NOTES_E_STATE_LOCKED meanwhile. What is stopped was never committed, so the next
   * start's sync indexes it. (Exiting the process instead aborted it when the graph worker was
   * inside hnswlib: the worker is let finish what it was sent, one group at most.)
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.stopWork();
    await this.idle();
    this.#closed = true;
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    try {
      await this.flush();
    } finally {
      await this.#vectors.close();
      this.#store.close();
      this.#lock?.release();
    }
  }
}

/** Bytes free for this process on the disk holding `dir`; undefined when it cannot tell. */
function availableBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function openStore(file: string, readOnly: boolean, log?: Logger): Store {
  const store = new Store(openDb(file, { readonly: readOnly }));
  try {
    // The writer checks every page once (~0.3 s on 38k notes) so a truncated or overwritten
    // file is caught before it is served; read-only CLI commands skip it to stay quick.
    if (!readOnly) {
      const check = store.quickCheck();
      if (check !== 'ok') throw new NotesError('NOTES_E_STATE_CORRUPT', [file, `failed its integrity check: ${check}`]);
      try {
        const compacted = store.compactIfSparse(undefined, availableBytes(dirname(file)));
        if (compacted)
          log?.info(
            {
              before_mb: Math.round(compacted.beforeBytes / 2 ** 20),
              after_mb: Math.round(compacted.afterBytes / 2 ** 20),
            },
            'index database compacted (most of it was space of deleted notes)',
          );
      } catch (err) {
        // Only space (a full disk: VACUUM needs room for a copy of the live pages): serve anyway.
        log?.warn({ err: describeError(err) }, 'could not compact the index database');
      }
    }
    store.counts();
    return store;
  } catch (err) {
    store.close();
    throw err;
  }
}

/** Record the model and chunker the index is built with; a change empties it for re-indexing. */
function prepareIdentity(store: Store, identity: string, opts: OpenIndexOptions): void {
  const { config, embedder, log } = opts;
  const readOnly = opts.readOnly ?? false;
  const recorded = store.getMeta('identity');
  if (recorded === identity) return;
  const hasNotes = store.counts().notes > 0;
  if (hasNotes && readOnly) {
    throw new NotesError('NOTES_E_INDEX_MODEL_MISMATCH', [store.getMeta('model') ?? 'unknown', embedder.modelId]);
  }
  if (readOnly) return;
  if (hasNotes) {
    log.warn({ from: recorded, to: identity }, 'embedding model or chunker changed: re-indexing every note');
    store.removeNotes([...store.noteStates().keys()]);
    store.clearVectors();
  }
  store.setMeta('identity', identity);
  store.setMeta('model', embedder.modelId);
  store.setMeta('fingerprint', embedder.fingerprint);
  store.setMeta('dims', String(embedder.dims));
  store.setMeta('notes_root', config.notesDir);
}

/**
 * Create the index folder, first moving aside whatever stands where it or its parent
 * (<state>/index) should be and is no folder (a file, a FIFO, a link to one): all of it is
 * rebuilt from the notes, and mkdir would fail with EEXIST or ENOTDIR on every start. A folder
 * the daemon may not write is the one coded error a person has to fix.
 */
function makeIndexFolder(indexDir: string, log: Logger): void {
  try {
    for (const dir of [dirname(indexDir), indexDir]) {
      const st = statSync(dir, { throwIfNoEntry: false });
      const link = lstatSync(dir, { throwIfNoEntry: false });
      if (st?.isDirectory() || !link) continue;
      const aside = `${dir}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(dir, aside);
      log.error(
        { path: dir, kept_as: aside },
        'the index folder was not a folder: moved it aside and rebuilding it from the notes',
      );
    }
    mkdirSync(indexDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // The folder holding what could not be examined or made is the one to fix.
    if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS')
      throw new NotesError('NOTES_E_STATE_UNWRITABLE', [dirname(e.path ?? indexDir), e.code], { cause: err });
    throw err;
  }
}

/** Why index.db, its -wal or its -shm cannot be opened as SQLite files, if it cannot. */
function unusableDatabase(dbFile: string, write: boolean): string | undefined {
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
    let why = stateFileProblem(f, write);
    // SQLite refuses a WAL or shared-memory file that is a symlink, wherever it points.
    if (!why && f !== dbFile && lstatSync(f, { throwIfNoEntry: false })?.isSymbolicLink()) why = 'a symbolic link';
    if (why) return f === dbFile ? why : `${basename(f)}: ${why}`;
  }
  return undefined;
}

const CORRUPT_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_FORMAT', 'SQLITE_CORRUPT_INDEX']);

/** The database file itself is damaged (not: locked, unwritable, missing). */
function isCorruption(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CORRUPT_CODES.has(code) || code.startsWith('SQLITE_CORRUPT'))) return true;
    if (
      e instanceof NotesError &&
      e.code === 'NOTES_E_STATE_CORRUPT' &&
      /malformed|not a database|integrity check|corrupt|file is not/i.test(e.message)
    )
      return true;
  }
  return false;
}

/**
 * Rename the database and its WAL and shared-memory files out of the way, and delete what was
 * derived from it (a fresh database counts generations from 0 again, so an old graph or BM25
 * snapshot could pass for current). Returns the new name.
 */
function moveAside(file: string, derived: readonly string[]): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = `${file}.corrupt-${stamp}`;
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      renameSync(`${file}${suffix}`, `${aside}${suffix}`);
    } catch (err) {
      // A missing -wal or -shm is normal; anything else leaves the old file in the way.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  for (const d of derived) rmSync(d, { force: true, recursive: true });
  fsyncPath(dirname(file));
  return aside;
}
