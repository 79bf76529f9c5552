// The HNSW graph lives on its own thread: inserting into it costs about as much as embedding
// during a bulk index, and here it runs beside the main thread's parsing and SQLite work
// instead of after it. Messages are handled in order, so a search sees every earlier add.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import hnswlib from 'hnswlib-node';
import type { WorkerReply, WorkerRequest } from './vector-protocol.ts';

const { HierarchicalNSW } = hnswlib;
let h: InstanceType<typeof HierarchicalNSW> | undefined;
let defaultEf = 128;

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

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
    case 'save': {
      const tmp = `${m.file}.tmp-${process.pid}`;
      try {
        graph().writeIndexSync(tmp);
        fsyncPath(tmp);
        const bytes = statSync(tmp).size;
        const sha256 = createHash('sha256').update(readFileSync(tmp)).digest('hex');
        renameSync(tmp, m.file);
        fsyncPath(dirname(m.file));
        return { id: m.id, ok: true, bytes, sha256 };
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
    }
  }
}

parentPort?.on('message', (m: WorkerRequest) => {
  try {
    const reply = handle(m);
    if (reply) parentPort?.postMessage(reply);
  } catch (err) {
    if ('id' in m)
      parentPort?.postMessage({ id: m.id, ok: false, error: (err as Error).message } satisfies WorkerReply);
  }
});
