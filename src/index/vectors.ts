import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import hnswlib from 'hnswlib-node';
import { z } from 'zod';
import type { Logger } from '../log.ts';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

// The HNSW graph is a cache of the vectors stored in SQLite: it is saved beside the database
// with a manifest and rebuilt from the stored vectors (never by re-embedding) whenever the
// manifest does not match the database generation, model or file checksum.

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

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write bytes to `path` atomically: temp file, fsync, rename, fsync the folder. */
export function atomicWriteFileSync(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  fsyncPath(tmp);
  renameSync(tmp, path);
  fsyncPath(dirname(path));
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export class VectorIndex {
  readonly dims: number;
  readonly fingerprint: string;
  readonly file: string;
  #hnsw: Hnsw;
  /** Live vectors by chunk id: exact search and filtered search read these, not the graph. */
  #live = new Map<number, Float32Array>();
  #dirty = false;
  #log: Logger | undefined;

  private constructor(file: string, dims: number, fingerprint: string, hnsw: Hnsw, log?: Logger) {
    this.file = file;
    this.dims = dims;
    this.fingerprint = fingerprint;
    this.#hnsw = hnsw;
    this.#log = log;
  }

  static #empty(dims: number, capacity: number): Hnsw {
    const h = new HierarchicalNSW('ip', dims);
    h.initIndex({
      maxElements: Math.max(1024, capacity),
      m: HNSW_M,
      efConstruction: HNSW_EF_CONSTRUCTION,
      randomSeed: 100,
      allowReplaceDeleted: true,
    });
    h.setEf(HNSW_EF_SEARCH);
    return h;
  }

  get manifestFile(): string {
    return `${this.file}.manifest.json`;
  }

  /**
   * Load the saved graph when its manifest matches the database, else rebuild it from the
   * stored vectors. `expectedCount` is the number of chunks that have vectors.
   */
  static open(opts: {
    file: string;
    dims: number;
    fingerprint: string;
    source: VectorSource;
    expectedCount: number;
    log?: Logger;
  }): { index: VectorIndex; rebuilt: boolean; reason: string } {
    const { file, dims, fingerprint, source, log } = opts;
    const reason = VectorIndex.#checkSaved(file, dims, fingerprint, source.generation(), opts.expectedCount);
    if (reason === 'ok') {
      const h = new HierarchicalNSW('ip', dims);
      h.readIndexSync(file, true);
      h.setEf(HNSW_EF_SEARCH);
      const vi = new VectorIndex(file, dims, fingerprint, h, log);
      // The graph keeps labels of deleted points (marked, awaiting reuse), so the live set
      // comes from the database; every live id must be in the graph.
      const inGraph = new Set(h.getIdsList());
      const ids = source.chunkIdsWithVectors();
      if (ids.every((id) => inGraph.has(id))) {
        for (const { id, vec } of source.iterateChunkVectors()) vi.#live.set(id, vec);
        return { index: vi, rebuilt: false, reason: 'loaded' };
      }
      log?.warn({ expected: ids.length }, 'vector index lacks chunks of the database: rebuilding');
    }
    const vi = new VectorIndex(file, dims, fingerprint, VectorIndex.#empty(dims, opts.expectedCount * 1.25), log);
    for (const { id, vec } of source.iterateChunkVectors()) vi.#addOne(id, vec);
    vi.#dirty = true;
    return { index: vi, rebuilt: true, reason };
  }

  static #checkSaved(file: string, dims: number, fingerprint: string, generation: number, count: number): string {
    const mf = `${file}.manifest.json`;
    if (!existsSync(file) || !existsSync(mf)) return 'no saved vector index';
    let m: Manifest;
    try {
      const r = Manifest.safeParse(JSON.parse(readFileSync(mf, 'utf8')));
      if (!r.success) return 'manifest unreadable';
      m = r.data;
    } catch {
      return 'manifest unreadable';
    }
    if (m.dims !== dims || m.fingerprint !== fingerprint) return 'model changed';
    if (m.generation !== generation) return `generation ${m.generation} != database ${generation}`;
    if (m.count !== count) return `count ${m.count} != database ${count}`;
    if (statSync(file).size !== m.bytes) return 'size mismatch';
    if (sha256File(file) !== m.sha256) return 'checksum mismatch';
    return 'ok';
  }

  get size(): number {
    return this.#live.size;
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  has(id: number): boolean {
    return this.#live.has(id);
  }

  #addOne(id: number, vec: Float32Array): void {
    if (vec.length !== this.dims) throw new Error(`vector has ${vec.length} dims, index has ${this.dims}`);
    const h = this.#hnsw;
    if (h.getCurrentCount() >= h.getMaxElements()) h.resizeIndex(Math.ceil(h.getMaxElements() * 1.5) + 1024);
    h.addPoint(Array.from(vec), id, true);
    this.#live.set(id, vec);
  }

  add(items: Iterable<{ id: number; vec: Float32Array }>): void {
    for (const { id, vec } of items) {
      if (this.#live.has(id)) continue;
      this.#addOne(id, vec);
      this.#dirty = true;
    }
  }

  remove(ids: Iterable<number>): void {
    for (const id of ids) {
      if (!this.#live.delete(id)) continue;
      this.#hnsw.markDelete(id);
      this.#dirty = true;
    }
  }

  /** Approximate nearest neighbours; `allow` restricts results to those chunk ids. */
  search(query: Float32Array, k: number, allow?: ReadonlySet<number>): VectorHit[] {
    if (this.#live.size === 0 || k <= 0) return [];
    if (allow && allow.size <= EXACT_FILTER_LIMIT) return this.exact(query, k, allow);
    const n = Math.min(k, allow ? allow.size : this.#live.size);
    if (n === 0) return [];
    const h = this.#hnsw;
    const ef = Math.max(HNSW_EF_SEARCH, n);
    if (h.getEf() !== ef) h.setEf(ef);
    const q = Array.from(query);
    const r = allow ? h.searchKnn(q, n, (label) => allow.has(label)) : h.searchKnn(q, n);
    const out: VectorHit[] = [];
    for (let i = 0; i < r.neighbors.length; i++) {
      out.push({ id: r.neighbors[i]!, score: 1 - r.distances[i]! });
    }
    return out;
  }

  /** Exact search by brute force over the graph's stored points (the baseline for recall). */
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

  /** Persist graph + manifest (temp file, fsync, rename) for the given database generation. */
  save(generation: number): void {
    const tmp = `${this.file}.tmp-${process.pid}`;
    try {
      this.#hnsw.writeIndexSync(tmp);
      fsyncPath(tmp);
      const bytes = statSync(tmp).size;
      const sha256 = sha256File(tmp);
      renameSync(tmp, this.file);
      fsyncPath(dirname(this.file));
      const m: Manifest = {
        format: 1,
        generation,
        count: this.#live.size,
        dims: this.dims,
        fingerprint: this.fingerprint,
        bytes,
        sha256,
      };
      atomicWriteFileSync(this.manifestFile, `${JSON.stringify(m)}\n`);
      this.#dirty = false;
    } catch (err) {
      rmSync(tmp, { force: true });
      this.#log?.error({ err }, 'saving the vector index failed; it will be rebuilt from the database at next start');
    }
  }
}
