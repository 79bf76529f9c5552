import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { readStateFileSync, writeFileAtomicSync } from '../fs-atomic.ts';
import type { Logger } from '../log.ts';
import type { WorkerReply, WorkerRequest } from './vector-protocol.ts';

// The HNSW graph is a cache of the vectors stored in SQLite: it is saved beside the database
// with a manifest and rebuilt from the stored vectors (never by re-embedding) whenever the
// manifest does not match the database generation, model or file checksum. The graph itself
// lives in a worker thread (vector-worker.ts); this class keeps the live vectors, answers
// exact and small filtered searches itself, and forwards the rest.

export const HNSW_M = 16;
export const HNSW_EF_CONSTRUCTION = 100;
export const HNSW_EF_SEARCH = 128;
/** Below this many allowed chunks a filtered query is answered exactly instead of by HNSW. */
const EXACT_FILTER_LIMIT = 4000;

const Manifest = z.object({
  format: z.literal(1),
  generation: z.number().int(),
  count: z.number().int(),
  dims: z.number().int(),
  fingerprint: z.string(),
  bytes: z.number().int(),
  sha256: z.string(),
});
type Manifest = z.infer<typeof Manifest>;

export interface VectorHit {
  id: number;
  /** Cosine similarity (vectors are unit length). */
  score: number;
}

export interface VectorSource {
  generation(): number;
  /** Ids of chunks that have a stored vector: exactly the live labels of the graph. */
  chunkIdsWithVectors(): number[];
  iterateChunkVectors(): Iterable<{ id: number; vec: Float32Array }>;
}

function sha256File(path: string, bytes: number): string {
  return createHash('sha256').update(readStateFileSync(path, bytes)).digest('hex');
}

/** Sends requests to the graph worker; adds and removes are fire-and-forget, in order. */
/** Deleted slots a saved graph may carry beyond twice its live points before a rebuild. */
const SPARSE_GRAPH_SLACK = 10_000;

class GraphWorker {
  #w: Worker;
  #next = 1;
  #pending = new Map<number, { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void }>();
  #failed: Error | undefined;
  #terminating = false;

  constructor(log?: Logger) {
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    this.#w = new Worker(new URL(`./vector-worker.${ext}`, import.meta.url));
    this.#w.unref();
    this.#w.on('message', (r: WorkerReply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(r.error));
    });
    const fail = (err: Error): void => {
      if (this.#failed) return;
      this.#failed = err;
      log?.error({ err }, 'vector graph worker failed');
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      // No search can be answered without the graph: crash so the supervisor restarts us;
      // the next start rebuilds the graph from the database.
      process.nextTick(() => {
        throw err;
      });
    };
    this.#w.on('error', fail);
    this.#w.on('exit', (code) => {
      if (!this.#terminating) fail(new Error(`vector graph worker exited with code ${code}`));
    });
  }

  post(m: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    this.#w.postMessage(m, transfer);
  }

  request(m: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply & { ok: true }> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.set((m as { id: number }).id, { resolve, reject });
      this.#w.ref();
      this.#w.postMessage(m, transfer);
    }).finally(() => {
      if (this.#pending.size === 0) this.#w.unref();
    }) as Promise<WorkerReply & { ok: true }>;
  }

  nextId(): number {
    return this.#next++;
  }

  async terminate(): Promise<void> {
    this.#terminating = true;
    await this.#w.terminate();
  }
}

export class VectorIndex {
  readonly dims: number;
  readonly fingerprint: string;
  readonly file: string;
  /** Absent when a read-only open found no usable saved graph: searches are then exact. */
  #graph: GraphWorker | undefined;
  /** Live vectors by chunk id: exact search and filtered search read these, not the graph. */
  #live = new Map<number, Float32Array>();
  #dirty = false;
  #log: Logger | undefined;
  /** Points sent to the graph worker, and how many of them it is known to have applied. */
  #posted = 0;
  #applied = 0;

  private constructor(file: string, dims: number, fingerprint: string, graph: GraphWorker | undefined, log?: Logger) {
    this.file = file;
    this.dims = dims;
    this.fingerprint = fingerprint;
    this.#graph = graph;
    this.#log = log;
  }

  get manifestFile(): string {
    return `${this.file}.manifest.json`;
  }

  /**
   * Load the saved graph when its manifest matches the database, else rebuild it from the
   * stored vectors. `expectedCount` is the number of chunks that have vectors.
   */
  static async open(opts: {
    file: string;
    dims: number;
    fingerprint: string;
    source: VectorSource;
    expectedCount: number;
    log?: Logger;
    /**
     * Read-only opens (CLI search next to the daemon) never build a graph: when the saved one
     * does not match, they search the stored vectors exactly, which is fast enough for one query.
     */
    exactWhenStale?: boolean;
  }): Promise<{ index: VectorIndex; rebuilt: boolean; reason: string }> {
    const { file, dims, fingerprint, source, log } = opts;
    const params = { dims, m: HNSW_M, efConstruction: HNSW_EF_CONSTRUCTION, ef: HNSW_EF_SEARCH };
    let reason = VectorIndex.#checkSaved(file, dims, fingerprint, source.generation(), opts.expectedCount);
    if (reason === 'ok') {
      const graph = new GraphWorker(log);
      const vi = new VectorIndex(file, dims, fingerprint, graph, log);
      // A graph whose manifest matches can still fail to load (written by another hnswlib, a
      // bit flipped after the checksum was taken): it is only a cache of the stored vectors,
      // so it is rebuilt, never a reason to stop.
      const r = await graph
        .request({ op: 'init', id: graph.nextId(), capacity: 0, load: file, ...params })
        .catch((err: unknown) => err as Error);
      if (r instanceof Error) {
        await graph.terminate();
        reason = `the saved graph failed to load (${r.message})`;
        log?.warn({ err: r.message }, 'saved vector index failed to load: rebuilding from stored vectors');
      } else {
        // The graph keeps labels of deleted points (marked, awaiting reuse), so the live set
        // comes from the database; every live id must be in the graph.
        const inGraph = new Set(r.ids ?? []);
        const ids = source.chunkIdsWithVectors();
        // Mostly slots of deleted points (huge notes removed: 58 MB for 394 live vectors, a
        // fresh graph 0.2 MB): the writer builds it again from the live ones, which costs
        // what those few do. Read-only opens keep it.
        const sparse = !opts.exactWhenStale && inGraph.size > 2 * ids.length + SPARSE_GRAPH_SLACK;
        if (!sparse && ids.every((id) => inGraph.has(id))) {
          for (const { id, vec } of source.iterateChunkVectors()) vi.#live.set(id, vec);
          return { index: vi, rebuilt: false, reason: 'loaded' };
        }
        await graph.terminate();
        if (sparse) {
          reason = `mostly deleted points (${inGraph.size} slots, ${ids.length} live): rebuilt smaller`;
          log?.info(
            { slots: inGraph.size, live: ids.length },
            'vector index mostly deleted points: rebuilding it smaller',
          );
        } else {
          reason = 'the graph lacks chunks of the database';
          log?.warn({ expected: ids.length }, 'vector index lacks chunks of the database: rebuilding');
        }
      }
    }
    if (opts.exactWhenStale) {
      const vi = new VectorIndex(file, dims, fingerprint, undefined, log);
      for (const { id, vec } of source.iterateChunkVectors()) vi.#live.set(id, vec);
      return { index: vi, rebuilt: false, reason: `${reason}; searching exactly` };
    }
    const graph = new GraphWorker(log);
    const vi = new VectorIndex(file, dims, fingerprint, graph, log);
    await graph.request({ op: 'init', id: graph.nextId(), capacity: Math.ceil(opts.expectedCount * 1.25), ...params });
    let batch: Array<{ id: number; vec: Float32Array }> = [];
    for (const item of source.iterateChunkVectors()) {
      batch.push(item);
      if (batch.length === 2048) {
        vi.add(batch);
        batch = [];
      }
    }
    vi.add(batch);
    vi.#dirty = true;
    return { index: vi, rebuilt: true, reason };
  }

  static #checkSaved(file: string, dims: number, fingerprint: string, generation: number, count: number): string {
    const mf = `${file}.manifest.json`;
    if (!existsSync(file) || !existsSync(mf)) return 'no saved vector index';
    let m: Manifest;
    try {
      const r = Manifest.safeParse(JSON.parse(readStateFileSync(mf).toString('utf8')));
      if (!r.success) return 'manifest unreadable';
      m = r.data;
    } catch {
      return 'manifest unreadable';
    }
    if (m.dims !== dims || m.fingerprint !== fingerprint) return 'model changed';
    if (m.generation !== generation) return `generation ${m.generation} != database ${generation}`;
    if (m.count !== count) return `count ${m.count} != database ${count}`;
    // Only a cache: a graph that cannot even be read (no permission, not a regular file) is
    // rebuilt like a stale one instead of stopping the start.
    try {
      if (statSync(file).size !== m.bytes) return 'size mismatch';
      if (sha256File(file, m.bytes) !== m.sha256) return 'checksum mismatch';
    } catch (err) {
      return `saved graph unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    return 'ok';
  }

  get size(): number {
    return this.#live.size;
  }

  /** True when there is no graph and every search is exact. */
  get exactOnly(): boolean {
    return this.#graph === undefined;
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  has(id: number): boolean {
    return this.#live.has(id);
  }

  add(items: Iterable<{ id: number; vec: Float32Array }>): void {
    const fresh: Array<{ id: number; vec: Float32Array }> = [];
    for (const it of items) {
      if (this.#live.has(it.id)) continue;
      if (it.vec.length !== this.dims) throw new Error(`vector has ${it.vec.length} dims, index has ${this.dims}`);
      this.#live.set(it.id, it.vec);
      fresh.push(it);
    }
    if (fresh.length === 0 || !this.#graph) return;
    const ids = new Float64Array(fresh.length);
    const vecs = new Float32Array(fresh.length * this.dims);
    fresh.forEach((it, i) => {
      ids[i] = it.id;
      vecs.set(it.vec, i * this.dims);
    });
    this.#graph.post({ op: 'add', ids, vecs }, [ids.buffer, vecs.buffer]);
    this.#posted += fresh.length;
    this.#dirty = true;
  }

  remove(ids: Iterable<number>): void {
    const gone: number[] = [];
    for (const id of ids) if (this.#live.delete(id)) gone.push(id);
    if (gone.length === 0 || !this.#graph) return;
    const arr = Float64Array.from(gone);
    this.#graph.post({ op: 'remove', ids: arr }, [arr.buffer]);
    this.#dirty = true;
  }

  /** Approximate nearest neighbours; `allow` restricts results to those chunk ids. */
  async search(query: Float32Array, k: number, allow?: ReadonlySet<number>): Promise<VectorHit[]> {
    if (this.#live.size === 0 || k <= 0) return [];
    if (!this.#graph || (allow && allow.size <= EXACT_FILTER_LIMIT)) return this.exact(query, k, allow);
    const n = Math.min(k, allow ? allow.size : this.#live.size);
    if (n === 0) return [];
    const q = Float32Array.from(query);
    const graph = this.#graph;
    const r = await graph.request({
      op: 'search',
      id: graph.nextId(),
      query: q,
      k: n,
      ...(allow ? { allow: Float64Array.from(allow) } : {}),
    });
    const neighbors = r.neighbors ?? [];
    const distances = r.distances ?? [];
    const out: VectorHit[] = [];
    for (let i = 0; i < neighbors.length; i++) {
      // A point removed after the request was queued is dropped here.
      if (this.#live.has(neighbors[i]!)) out.push({ id: neighbors[i]!, score: 1 - distances[i]! });
    }
    return out;
  }

  /** Exact search by brute force over the live vectors (the baseline for recall). */
  exact(query: Float32Array, k: number, allow?: ReadonlySet<number>): VectorHit[] {
    if (k <= 0) return [];
    // Keep only the best k while scanning (sorted descending), instead of sorting everything.
    const hits: VectorHit[] = [];
    const dims = this.dims;
    const score = (id: number, p: Float32Array): void => {
      let dot = 0;
      for (let i = 0; i < dims; i++) dot += p[i]! * query[i]!;
      if (hits.length === k) {
        const last = hits[k - 1]!;
        if (dot < last.score || (dot === last.score && id > last.id)) return;
        hits.pop();
      }
      let j = hits.length;
      while (j > 0 && (hits[j - 1]!.score < dot || (hits[j - 1]!.score === dot && hits[j - 1]!.id > id))) j--;
      hits.splice(j, 0, { id, score: dot });
    };
    if (allow) {
      for (const id of allow) {
        const p = this.#live.get(id);
        if (p) score(id, p);
      }
    } else for (const [id, p] of this.#live) score(id, p);
    return hits;
  }

  /**
   * The cosine of each of these chunks that has a vector, by id: what exact() scores them,
   * without ranking them (fusion wants every one, in any order).
   */
  cosines(query: Float32Array, ids: Iterable<number>): Map<number, number> {
    const out = new Map<number, number>();
    const dims = this.dims;
    for (const id of ids) {
      const p = this.#live.get(id);
      if (!p) continue;
      let dot = 0;
      for (let i = 0; i < dims; i++) dot += p[i]! * query[i]!;
      out.set(id, dot);
    }
    return out;
  }

  /** Resolves once the graph worker has applied every add and remove sent so far. */
  async settled(): Promise<void> {
    if (!this.#graph) return;
    const graph = this.#graph;
    const upTo = this.#posted;
    await graph.request({ op: 'settle', id: graph.nextId() });
    this.#applied = Math.max(this.#applied, upTo);
  }

  /**
   * Points sent to the graph worker that it may not have applied yet. Bulk indexing waits when
   * this grows (Indexer): a full re-index ran 10,000s of inserts ahead of the worker, and
   * shutdown then waited 8 s for them after the index work had stopped.
   */
  get backlog(): number {
    return this.#posted - this.#applied;
  }

  /** Persist graph + manifest (temp file, fsync, rename) for the given database generation. */
  async save(generation: number): Promise<void> {
    if (!this.#graph) return;
    const count = this.#live.size;
    this.#dirty = false;
    try {
      const graph = this.#graph;
      const r = await graph.request({ op: 'save', id: graph.nextId(), file: this.file });
      const m: Manifest = {
        format: 1,
        generation,
        count,
        dims: this.dims,
        fingerprint: this.fingerprint,
        bytes: r.bytes ?? 0,
        sha256: r.sha256 ?? '',
      };
      writeFileAtomicSync(this.manifestFile, `${JSON.stringify(m)}\n`);
    } catch (err) {
      this.#dirty = true;
      this.#log?.error({ err }, 'saving the vector index failed; it will be rebuilt from the database at next start');
    }
  }

  async close(): Promise<void> {
    await this.#graph?.terminate();
  }
}
