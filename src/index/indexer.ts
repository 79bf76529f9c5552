import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { parseWhole } from './chunk-whole.ts';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ChunkOptions, ParsedNote } from '../chunk/types.ts';
import type { NoteLink } from '../chunk/index.ts';
import { EMBED_BATCH } from '../embed/index.ts';
import { NotesError } from '../errors.ts';
import type { Embedder } from '../embed/types.ts';
import type { Logger } from '../log.ts';
import {
  checkNotePathSyntax,
  checkText,
  contentHash,
  MAX_NOTE_BYTES,
  mapLimit,
  reachedWithoutFolderLinks,
  readNoteFile,
  scanNotes,
} from '../notes/index.ts';
import type { ChangeBatch, NoteFile } from '../notes/types.ts';
import type { ChunkInput, NoteInput, Store } from './store/index.ts';
import type { LexicalDoc } from './lexical.ts';
import type { VectorIndex } from './vectors.ts';

// Notes → chunks → vectors → (SQLite + HNSW). Work is grouped so that one SQLite commit (an
// fsync with synchronous=FULL) covers many notes, and each group is durable on its own: a
// process killed at any moment resumes from the last committed group on the next sync.

/**
 * A file the scan left out because another spells the same name in another Unicode form (Linux
 * only): listed under its own spelling, so status shows why it is not searchable.
 */
function twinSkipped(root: string, f: NoteFile): { path: string; reason: string } {
  return {
    path: relative(root, f.absPath).split(sep).join('/'),
    reason: `the same name as ${f.path} in another Unicode form: the NFC spelling is the note`,
  };
}

/** Files larger than this are skipped (and reported), not indexed: the same limit as reads. */
export const MAX_INDEX_BYTES = MAX_NOTE_BYTES;
// The main thread's share of indexing (parsing, SQLite commits) runs in slices of about this
// long, then yields, so /health and searches keep answering during a full re-index.
const SLICE_MS = 15;
// A note with more chunks than this is stored in sliced transactions of its own.
const BIG_NOTE_CHUNKS = 800;
// Note reads in flight at once (through libuv's pool; the model runs on its own threads).
const READ_CONCURRENCY = 8;
// Larger transactions mean fewer FTS5 segments to merge and fewer WAL checkpoints: 512
// notes per commit indexed tldr-all's SQLite part ~35% faster than 256, and a killed run
// still loses at most one group.
const GROUP_NOTES = 512;
/** Points the graph worker may lag behind a bulk index by (a second or two of its work). */
const MAX_GRAPH_BACKLOG = 4096;

export type NoteEventType = 'added' | 'changed' | 'removed';
export interface NoteEvent {
  type: NoteEventType;
  path: string;
}

export interface SyncProgress {
  phase: 'scan' | 'index';
  done: number;
  total: number;
}

export interface SyncTimings {
  scanMs: number;
  readMs: number;
  parseMs: number;
  embedMs: number;
  dbMs: number;
  vectorMs: number;
}

export interface SyncSummary {
  notes: number;
  chunks: number;
  /** Notes whose content was (re)indexed. */
  indexed: number;
  unchanged: number;
  removed: number;
  /** Files that could not be indexed (too large, unreadable), with reasons. */
  skipped: Array<{ path: string; reason: string }>;
  /** Texts sent through the model (content-addressed vectors are reused otherwise). */
  embedded: number;
  seconds: number;
  timings: SyncTimings;
}

export interface IndexerDeps {
  root: string;
  store: Store;
  vectors: VectorIndex;
  embedder: Embedder;
  chunkOptions: ChunkOptions;
  scan: { include: readonly string[]; exclude: readonly string[]; skipDirs: readonly string[] };
  log: Logger;
  emit: (e: NoteEvent) => void;
  /** Committed chunk changes, for indexes kept in memory (the lexical BM25 index). */
  onChunks?: (added: LexicalDoc[], removed: readonly number[]) => void;
  /**
   * Aborted at shutdown: work stops before the next embedding batch or group, with nothing of
   * that group committed, so the next start indexes it (its hash is still the old one).
   */
  signal?: AbortSignal;
}

interface Prepared {
  pending: Pending[];
  touched: NoteFile[];
}

interface Pending {
  file: NoteFile;
  hash: string;
  parsed: ParsedNote;
  embedHashes: string[];
  existed: boolean;
  links: NoteLink[];
}

function embedHashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function now(): number {
  return performance.now();
}

function emptyTimings(): SyncTimings {
  return { scanMs: 0, readMs: 0, parseMs: 0, embedMs: 0, dbMs: 0, vectorMs: 0 };
}

export class Indexer {
  readonly #d: IndexerDeps;

  constructor(deps: IndexerDeps) {
    this.#d = deps;
  }

  #stopIfAborted(): void {
    if (this.#d.signal?.aborted) throw new NotesError('NOTES_E_SHUTTING_DOWN');
  }

  /** Bring the index in line with the notes folder: add, update and remove notes. */
  async sync(opts: { full?: boolean; onProgress?: (p: SyncProgress) => void } = {}): Promise<SyncSummary> {
    const t0 = now();
    const timings = emptyTimings();
    const { store } = this.#d;
    opts.onProgress?.({ phase: 'scan', done: 0, total: 0 });
    let ts = now();
    const twins: NoteFile[] = [];
    const refused: SyncSummary['skipped'] = [];
    const files = await scanNotes(this.#d.root, this.#d.scan, { removeStrayTemps: true, twins, refused });
    timings.scanMs = now() - ts;
    const existing = store.noteStates();
    const seen = new Set<string>();
    const candidates: NoteFile[] = [];
    let unchanged = 0;
    for (const f of files) {
      if (seen.has(f.path)) continue; // NFC/NFD twins on a case- or form-sensitive disk: first wins
      seen.add(f.path);
      const e = existing.get(f.path);
      // ctime too: an offline edit that kept size and mtime was kept unindexed for good.
      if (
        !opts.full &&
        e &&
        e.size === f.size &&
        e.mtimeMs === f.mtimeMs &&
        e.ctimeMs === f.ctimeMs &&
        e.diskPath === f.absPath
      )
        unchanged++;
      else candidates.push(f);
    }
    const gone = [...existing.keys()].filter((p) => !seen.has(p));
    ts = now();
    this.#remove(gone);
    timings.dbMs += now() - ts;
    const r = await this.#indexFiles(candidates, existing, timings, opts.full ?? false, opts.onProgress);
    ts = now();
    if (store.gcVectors() > 0) timings.dbMs += now() - ts;
    const counts = store.counts();
    return {
      notes: counts.notes,
      chunks: counts.chunks,
      indexed: r.indexed,
      unchanged: unchanged + r.sameHash,
      removed: gone.length,
      skipped: [...refused, ...r.skipped, ...twins.map((f) => twinSkipped(this.#d.root, f))],
      embedded: r.embedded,
      seconds: (now() - t0) / 1000,
      timings,
    };
  }

  /** Apply a watcher batch (or a write by the daemon itself). */
  async apply(batch: ChangeBatch): Promise<SyncSummary> {
    const t0 = now();
    const timings = emptyTimings();
    const { store } = this.#d;
    const existing = store.noteStates();
    const removed = new Set<string>(batch.removed);
    for (const dir of batch.removedDirs) {
      const prefix = `${dir.replace(/\/+$/, '')}/`;
      for (const p of existing.keys()) if (p.startsWith(prefix)) removed.add(p);
    }
    const files: NoteFile[] = [];
    const refused: SyncSummary['skipped'] = [];
    for (const path of new Set(batch.upserted)) {
      // As the scan does: a name read_note could never be given is not a note.
      const syntax = checkNotePathSyntax(path);
      if (!syntax.ok) {
        refused.push({ path, reason: `its name cannot be a note path: ${syntax.reason}` });
        removed.add(path);
        continue;
      }
      const f = await this.#locate(path);
      if (f) {
        files.push(f);
        removed.delete(path);
      } else removed.add(path);
    }
    // A name removed may still be a note under another Unicode spelling (NFC and NFD twins, on
    // Linux): deleting the NFC file left the NFD one unindexed until a full re-index.
    const upserted = new Set(batch.upserted);
    for (const path of batch.removed) {
      // Only a non-ASCII name has other spellings (and #locate reads folders to find them).
      if (upserted.has(path) || !existing.has(path) || !/[^\x00-\x7f]/.test(path)) continue;
      const f = await this.#locate(path);
      if (f) {
        files.push(f);
        removed.delete(path);
      }
    }
    const gone = [...removed].filter((p) => existing.has(p));
    this.#remove(gone);
    // Every file a batch names is read and its hash compared: a watcher event says it changed,
    // and size and mtime can say otherwise (an edit of the same length whose mtime was set back,
    // as cp -p, rsync -a and sync tools do: search kept the old text, marked fresh). Files whose
    // hash is unchanged are only touched.
    const candidates = files;
    const r = await this.#indexFiles(candidates, existing, timings, false);
    if (gone.length > 0 || r.indexed > 0) store.gcVectors();
    const counts = store.counts();
    return {
      notes: counts.notes,
      chunks: counts.chunks,
      indexed: r.indexed,
      unchanged: files.length - candidates.length + r.sameHash,
      removed: gone.length,
      skipped: [...refused, ...r.skipped],
      embedded: r.embedded,
      seconds: (now() - t0) / 1000,
      timings,
    };
  }

  /** Find a note on disk by its NFC path; the disk may spell the name in NFD. */
  async #locate(path: string): Promise<NoteFile | undefined> {
    const { root, scan } = this.#d;
    const realRoot = await realpath(root).catch(() => root);
    const tryStat = async (abs: string): Promise<NoteFile | undefined> => {
      try {
        const s = await stat(abs);
        if (!s.isFile() || !(await reachedWithoutFolderLinks(root, realRoot, abs))) return undefined;
        return { path, absPath: abs, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
      } catch {
        return undefined;
      }
    };
    const direct = await tryStat(join(root, path));
    if (direct) return direct;
    // Walk the parts, matching each by NFC form: only reached for odd Unicode spellings.
    let dir = root;
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        return undefined;
      }
      const want = parts[i]!;
      const hit = names.find((n) => n.normalize('NFC') === want);
      if (!hit) return undefined;
      dir = join(dir, hit);
    }
    void scan;
    return tryStat(dir);
  }

  #remove(paths: readonly string[]): void {
    if (paths.length === 0) return;
    const ids = this.#d.store.removeNotes(paths);
    this.#d.vectors.remove(ids);
    this.#d.onChunks?.([], ids);
    for (const path of paths) this.#d.emit({ type: 'removed', path });
  }

  async #indexFiles(
    files: readonly NoteFile[],
    existing: ReadonlyMap<string, { hash: string; id: number }>,
    timings: SyncTimings,
    full: boolean,
    onProgress?: (p: SyncProgress) => void,
  ): Promise<{ indexed: number; sameHash: number; embedded: number; skipped: SyncSummary['skipped'] }> {
    const { log } = this.#d;
    const totals = { indexed: 0, sameHash: 0, embedded: 0 };
    const skipped: SyncSummary['skipped'] = [];
    onProgress?.({ phase: 'index', done: 0, total: files.length });
    // A three-stage pipeline: while the model embeds group g (onnxruntime runs on its own
    // threads), the main thread reads and parses group g+1 and commits group g-1.
    const groups: NoteFile[][] = [];
    for (let g = 0; g < files.length; g += GROUP_NOTES) groups.push(files.slice(g, g + GROUP_NOTES));
    const bulk = groups.length > 1;
    if (bulk) this.#d.store.cacheFor('bulk');
    try {
      await this.#runGroups(groups, existing, timings, full, skipped, totals, onProgress, files.length);
    } finally {
      if (bulk) this.#d.store.cacheFor('serving');
    }
    for (const s of skipped.slice(0, 50)) log.warn({ note_path: s.path, reason: s.reason }, 'note not indexed');
    if (skipped.length > 50) log.warn({ skipped: skipped.length }, 'more notes were not indexed (first 50 logged)');
    return { ...totals, skipped };
  }

  async #runGroups(
    groups: readonly NoteFile[][],
    existing: ReadonlyMap<string, { hash: string; id: number }>,
    timings: SyncTimings,
    full: boolean,
    skipped: SyncSummary['skipped'],
    totals: { indexed: number; sameHash: number; embedded: number },
    onProgress: ((p: SyncProgress) => void) | undefined,
    total: number,
  ): Promise<void> {
    let done = 0;
    let prepared = groups.length > 0 ? await this.#prepare(groups[0]!, existing, full, timings, skipped) : undefined;
    let embedding = prepared ? handled(this.#embed(prepared, timings)) : undefined;
    for (let g = 0; g < groups.length; g++) {
      const next =
        g + 1 < groups.length ? await this.#prepare(groups[g + 1]!, existing, full, timings, skipped) : undefined;
      const vectors = await embedding!;
      this.#stopIfAborted();
      embedding = next ? handled(this.#embed(next, timings)) : undefined;
      await this.#commit(prepared!, vectors, timings);
      totals.indexed += prepared!.pending.length;
      totals.sameHash += prepared!.touched.length;
      totals.embedded += vectors.size;
      done += groups[g]!.length;
      onProgress?.({ phase: 'index', done, total });
      prepared = next;
    }
  }

  /**
   * A note's bytes, read without ever blocking (see readNoteFile), or undefined with the reason
   * recorded: not a regular file (a FIFO swapped in), too large, gone, or not text.
   */
  async #read(file: NoteFile, realRoot: string, skipped: SyncSummary['skipped']): Promise<Buffer | undefined> {
    if (file.size > MAX_INDEX_BYTES) {
      skipped.push({ path: file.path, reason: `larger than the ${MAX_INDEX_BYTES}-byte limit` });
      return undefined;
    }
    try {
      const r = await readNoteFile(file.absPath, realRoot, MAX_INDEX_BYTES);
      if (!r.ok) {
        skipped.push({ path: file.path, reason: r.reason });
        return undefined;
      }
      const text = checkText(r.bytes);
      if (!text.ok) {
        skipped.push({ path: file.path, reason: text.reason });
        return undefined;
      }
      return r.bytes;
    } catch (err) {
      skipped.push({ path: file.path, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' });
      return undefined;
    }
  }

  /** Read and parse a group of notes; files whose content hash is unchanged are only touched. */
  async #prepare(
    group: readonly NoteFile[],
    existing: ReadonlyMap<string, { hash: string; id: number }>,
    full: boolean,
    timings: SyncTimings,
    skipped: SyncSummary['skipped'],
  ): Promise<Prepared> {
    const pending: Pending[] = [];
    const touched: NoteFile[] = [];
    let ts = now();
    const realRoot = await realpath(this.#d.root);
    const bufs = await mapLimit(group, READ_CONCURRENCY, (file) => this.#read(file, realRoot, skipped));
    timings.readMs += now() - ts;
    ts = now();
    let slice = now();
    for (const [i, file] of group.entries()) {
      this.#stopIfAborted();
      const buf = bufs[i];
      if (!buf) continue;
      const hash = contentHash(buf);
      const prev = existing.get(file.path);
      if (prev && prev.hash === hash && !full) {
        touched.push(file);
        continue;
      }
      const text = buf.toString('utf8');
      const { parsed, links } = await parseOffThread(text, basename(file.path), this.#d.chunkOptions, this.#d.signal);
      if (parsed.truncated) {
        const last = parsed.chunks[parsed.chunks.length - 1]?.endLine ?? 0;
        skipped.push({ path: file.path, reason: `too long to index whole: only lines 1-${last} are searchable` });
      }
      pending.push({
        file,
        hash,
        parsed,
        embedHashes: parsed.chunks.map((c) => embedHashOf(c.embedText)),
        existed: prev !== undefined,
        links,
      });
      if (now() - slice > SLICE_MS) {
        timings.parseMs += now() - ts;
        await yieldToLoop();
        ts = slice = now();
      }
    }
    timings.parseMs += now() - ts;
    return { pending, touched };
  }

  /** Vectors for the texts of a group that the store does not have yet. */
  async #embed(p: Prepared, timings: SyncTimings): Promise<Map<string, Float32Array>> {
    const { store, embedder } = this.#d;
    let ts = now();
    const need = new Map<string, string>();
    for (const x of p.pending) {
      x.parsed.chunks.forEach((c, i) => {
        const h = x.embedHashes[i]!;
        if (!need.has(h) && !store.hasVector(h)) need.set(h, c.embedText);
      });
    }
    timings.dbMs += now() - ts;
    const vectors = new Map<string, Float32Array>();
    const entries = [...need];
    ts = now();
    for (let i = 0; i < entries.length; i += EMBED_BATCH) {
      this.#stopIfAborted();
      const part = entries.slice(i, i + EMBED_BATCH);
      const vecs = await embedder.embed(part.map(([, text]) => text));
      part.forEach(([h], j) => {
        vectors.set(h, vecs[j]!);
      });
    }
    timings.embedMs += now() - ts;
    return vectors;
  }

  /**
   * Store a group: transactions of at most about SLICE_MS each, each a durable step a killed
   * process resumes after, with a yield between them so the event loop keeps serving.
   */
  async #commit(p: Prepared, vectors: ReadonlyMap<string, Float32Array>, timings: SyncTimings): Promise<void> {
    const { store } = this.#d;
    let ts = now();
    store.transaction(() => {
      for (const f of p.touched) store.touchNote(f.path, f.absPath, f.size, f.mtimeMs, f.ctimeMs);
    });
    timings.dbMs += now() - ts;
    let i = 0;
    while (i < p.pending.length) {
      // Between notes the in-memory indexes match the database: stopping here leaves the rest
      // of the group to the next start (seven large notes committed one after another held a
      // shutdown for 12 s).
      if (i > 0) this.#stopIfAborted();
      ts = now();
      let results: Array<{ x: Pending; r: ReturnType<typeof store.replaceNote> }>;
      const big = p.pending[i]!;
      if (big.parsed.chunks.length > BIG_NOTE_CHUNKS) {
        // One huge note: its own sliced transactions, so it never blocks serving for seconds.
        i++;
        const r = await store.replaceNoteInSlices(
          noteInput(big),
          chunkInputs(big),
          vectorsOf(big, vectors),
          big.links,
          // Never stopped between slices: the chunks it dropped are still in the in-memory
          // BM25 index and the graph, which close() saves as of this generation.
          () => yieldToLoop(),
        );
        results = [{ x: big, r }];
      } else {
        results = store.transaction(() => {
          const out: Array<{ x: Pending; r: ReturnType<typeof store.replaceNote> }> = [];
          const start = now();
          while (
            i < p.pending.length &&
            p.pending[i]!.parsed.chunks.length <= BIG_NOTE_CHUNKS &&
            (out.length === 0 || now() - start < SLICE_MS)
          ) {
            const x = p.pending[i++]!;
            out.push({ x, r: store.replaceNote(noteInput(x), chunkInputs(x), vectorsOf(x, vectors), x.links) });
          }
          return out;
        });
      }
      timings.dbMs += now() - ts;
      ts = now();
      for (const { x, r } of results) {
        // In slices too: the in-memory BM25 index and the graph worker take a big note's
        // thousands of chunks a few hundred at a time.
        for (let j = 0; j < Math.max(r.added.length, r.removed.length); j += BIG_NOTE_CHUNKS / 2) {
          const added = r.added.slice(j, j + BIG_NOTE_CHUNKS / 2);
          const removed = r.removed.slice(j, j + BIG_NOTE_CHUNKS / 2);
          this.#d.onChunks?.(
            added.map((a, k) => ({
              id: a.id,
              text: x.parsed.chunks[j + k]!.text,
              title: x.parsed.title,
              headings: x.parsed.chunks[j + k]!.headings,
            })),
            removed,
          );
          this.#d.vectors.remove(removed);
          this.#d.vectors.add(
            added.map((a) => ({ id: a.id, vec: vectors.get(a.embedHash) ?? store.vectorOf(a.embedHash)! })),
          );
          if (j + BIG_NOTE_CHUNKS / 2 < Math.max(r.added.length, r.removed.length)) await yieldToLoop();
        }
        if (r.added.length === 0 && r.removed.length === 0) this.#d.onChunks?.([], []);
      }
      timings.vectorMs += now() - ts;
      for (const { x } of results) this.#d.emit({ type: x.existed ? 'changed' : 'added', path: x.file.path });
      if (this.#d.vectors.backlog > MAX_GRAPH_BACKLOG) await this.#d.vectors.settled();
      if (i < p.pending.length) await yieldToLoop();
    }
  }
}

/** fn over items with at most `limit` calls in flight, results in order. */
/**
 * The pipeline awaits each group's embedding one step later: mark it handled now, so that a
 * rejection (shutdown) while the previous group commits is not an unhandled rejection, which
 * exits the daemon with 70. The rejection still reaches whoever awaits the promise.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function chunkInputs(x: Pending): ChunkInput[] {
  return x.parsed.chunks.map((c, i) => ({
    seq: c.seq,
    headings: c.headings,
    startLine: c.startLine,
    endLine: c.endLine,
    text: c.text,
    embedHash: x.embedHashes[i]!,
  }));
}

/** The vectors this note brings that the store does not have yet. */
function vectorsOf(x: Pending, vectors: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  const mine = new Map<string, Float32Array>();
  for (const h of x.embedHashes) {
    const v = vectors.get(h);
    if (v) mine.set(h, v);
  }
  return mine;
}

function noteInput(x: Pending): NoteInput {
  return {
    path: x.file.path,
    diskPath: x.file.absPath,
    hash: x.hash,
    size: x.file.size,
    mtimeMs: x.file.mtimeMs,
    ctimeMs: x.file.ctimeMs,
    title: x.parsed.title,
    tags: x.parsed.tags,
    aliases: x.parsed.aliases,
    frontMatter: x.parsed.frontMatter,
  };
}

/** Notes larger than this are chunked in a worker thread: parsing them would stall serving. */
const WORKER_CHUNK_BYTES = 256 * 1024;

/** parseWhole, in a worker of its own for a large note (and inline when options hold a function). */
async function parseOffThread(
  text: string,
  fileName: string,
  opts: ChunkOptions,
  signal?: AbortSignal,
): Promise<{ parsed: ParsedNote; links: NoteLink[] }> {
  if (text.length < WORKER_CHUNK_BYTES || opts.countTokens) return parseWhole(text, fileName, opts);
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const w = new Worker(new URL(`./chunk-worker.${ext}`, import.meta.url), { workerData: { text, fileName, opts } });
  try {
    // once() rejects on the worker's 'error'; an exit without a message is a failure too.
    const exited = once(w, 'exit').then(([code]) => {
      throw new Error(`the chunking worker exited (${String(code)}) without a result`);
    });
    exited.catch(() => undefined); // the normal exit after the message is not an error
    // Shutdown does not wait for a large note's parse (5-9 s for 7 MB): the worker is plain
    // JavaScript, safe to terminate at any point, and nothing of the note was committed.
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(new NotesError('NOTES_E_SHUTTING_DOWN'));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    stopped.catch(() => undefined);
    try {
      const [out] = (await Promise.race([once(w, 'message'), exited, stopped])) as [
        { parsed: ParsedNote; links: NoteLink[] },
      ];
      return out;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    void w.terminate();
  }
}
