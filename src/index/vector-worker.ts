// The HNSW graph lives on its own thread: inserting into it costs about as much as embedding
// during a bulk index, and here it runs beside the main thread's parsing and SQLite work
// instead of after it. Adds and removes are applied in order, in slices; searches jump the
// queue, so a search during a bulk index waits for one slice, not for the whole backlog
// (it may miss points still queued; the main thread drops removed ids from its results).
import { createHash } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import hnswlib from 'hnswlib-node';
import { fsyncPathAsync, renameDurable, tempPathFor } from '../fs-atomic.ts';
import type { WorkerReply, WorkerRequest } from './vector-protocol.ts';

const { HierarchicalNSW } = hnswlib;
let h: InstanceType<typeof HierarchicalNSW> | undefined;
let defaultEf = 128;

function graph(): InstanceType<typeof HierarchicalNSW> {
  if (!h) throw new Error('vector graph not initialised');
  return h;
}

function handle(m: WorkerRequest): WorkerReply | undefined {
  switch (m.op) {
    case 'init': {
      h = new HierarchicalNSW('ip', m.dims);
      defaultEf = m.ef;
      if (m.load) {
        h.readIndexSync(m.load, true);
        h.setEf(m.ef);
        return { id: m.id, ok: true, ids: h.getIdsList() };
      }
      h.initIndex({
        maxElements: Math.max(1024, m.capacity),
        m: m.m,
        efConstruction: m.efConstruction,
        randomSeed: 100,
        allowReplaceDeleted: true,
      });
      h.setEf(m.ef);
      return { id: m.id, ok: true };
    }
    case 'add': {
      const g = graph();
      const dims = g.getNumDimensions();
      for (let i = 0; i < m.ids.length; i++) {
        if (g.getCurrentCount() >= g.getMaxElements()) g.resizeIndex(Math.ceil(g.getMaxElements() * 1.5) + 1024);
        g.addPoint(Array.from(m.vecs.subarray(i * dims, (i + 1) * dims)), m.ids[i]!, true);
      }
      return undefined;
    }
    case 'remove': {
      const g = graph();
      for (const id of m.ids) g.markDelete(id);
      return undefined;
    }
    case 'search': {
      const g = graph();
      const ef = Math.max(defaultEf, m.k);
      if (g.getEf() !== ef) g.setEf(ef);
      const q = Array.from(m.query);
      let r: { neighbors: number[]; distances: number[] };
      if (m.allow) {
        const allow = new Set(m.allow);
        r = g.searchKnn(q, m.k, (label) => allow.has(label));
      } else r = g.searchKnn(q, m.k);
      return { id: m.id, ok: true, neighbors: r.neighbors, distances: r.distances };
    }
    case 'settle':
      return { id: m.id, ok: true };
    case 'save':
      void save(m.id, m.file);
      return undefined;
  }
}

/**
 * Write the graph without blocking searches: hnswlib writes on a libuv thread and the file is
 * hashed as a stream, while searches (read-only) keep being answered; inserts wait until the
 * write is done, since hnswlib must not change the graph while it is being written.
 */
let saving = false;
async function save(id: number, file: string): Promise<void> {
  saving = true;
  const tmp = tempPathFor(file);
  try {
    await graph().writeIndex(tmp);
    await fsyncPathAsync(tmp);
    const { size } = await stat(tmp);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(tmp)) hash.update(chunk as Buffer);
    await renameDurable(tmp, file);
    parentPort?.postMessage({ id, ok: true, bytes: size, sha256: hash.digest('hex') } satisfies WorkerReply);
  } catch (err) {
    rmSync(tmp, { force: true });
    parentPort?.postMessage({ id, ok: false, error: (err as Error).message } satisfies WorkerReply);
  } finally {
    saving = false;
    schedule();
  }
}

const SLICE = 128;
const queue: WorkerRequest[] = [];
let scheduled = false;

function run(m: WorkerRequest): void {
  try {
    const reply = handle(m);
    if (reply) parentPort?.postMessage(reply);
  } catch (err) {
    if ('id' in m) {
      parentPort?.postMessage({ id: m.id, ok: false, error: (err as Error).message } satisfies WorkerReply);
    }
  }
}

function drain(): void {
  scheduled = false;
  if (saving) return; // resumed by save() when the write is done
  const m = queue.shift();
  if (!m) return;
  if (m.op === 'add' && m.ids.length > SLICE) {
    // Insert a slice now, put the rest back at the head, and let waiting searches in first.
    const dims = m.vecs.length / m.ids.length;
    run({ op: 'add', ids: m.ids.subarray(0, SLICE), vecs: m.vecs.subarray(0, SLICE * dims) });
    queue.unshift({ op: 'add', ids: m.ids.subarray(SLICE), vecs: m.vecs.subarray(SLICE * dims) });
  } else run(m);
  schedule();
}

function schedule(): void {
  if (scheduled || queue.length === 0) return;
  scheduled = true;
  setImmediate(drain);
}

parentPort?.on('message', (m: WorkerRequest) => {
  if (m.op === 'search') run(m);
  else {
    queue.push(m);
    schedule();
  }
});
