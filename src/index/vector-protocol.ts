/** Messages between VectorIndex (main thread) and the graph worker. */
export type WorkerRequest =
  | {
      op: 'init';
      id: number;
      dims: number;
      capacity: number;
      m: number;
      efConstruction: number;
      ef: number;
      load?: string;
    }
  | { op: 'add'; ids: Float64Array; vecs: Float32Array }
  | { op: 'remove'; ids: Float64Array }
  | { op: 'search'; id: number; query: Float32Array; k: number; allow?: Float64Array }
  | { op: 'save'; id: number; file: string }
  | { op: 'settle'; id: number };

export type WorkerReply =
  | { id: number; ok: false; error: string }
  | {
      id: number;
      ok: true;
      ids?: number[];
      neighbors?: number[];
      distances?: number[];
      bytes?: number;
      sha256?: string;
    };
