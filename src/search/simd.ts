// The late-interaction cosines in WebAssembly SIMD: four query words per f32x4 lane, each
// cosine one float32 sum over the components in order (a multiply, then an add, each rounded
// to float32: no fused multiply-add), so wordCosines in late.ts gets the same bits with
// Math.fround (the tests compare them). Four lanes of float32 against two of float64 halved
// the kernel's time; scores moved in the last float32 bits only, and the quality bench's
// held-out halves did not move. Assembled here byte by byte (a few hundred bytes; no
// toolchain needed).
//
// Memory layout of one pass: the query block (layQueries' layout), then the pass's word
// vectors one after another, then the cosines (`stride` floats per word), all float32.

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const get = (l: number): number[] => [0x20, l];
const set = (l: number): number[] => [0x21, l];
const tee = (l: number): number[] => [0x22, l];
const i32c = (n: number): number[] => [0x41, ...sleb(n)];

/**
 * run(qp, wp, n, dims, outp, stride): for each of n words (float32 vectors at wp), the cosines
 * with `blocks` x 4 query words (at qp), into outp + word * stride.
 */
function kernelBody(blocks: number): number[] {
  // params 0 qp, 1 wp, 2 n, 3 dims, 4 outp, 5 stride; locals 6 r, 7 i, 8 q, 9 w, 10 o,
  // 11.. the accumulators, then v.
  const [R, I, Q, W, O] = [6, 7, 8, 9, 10];
  const acc = (k: number) => 11 + k;
  const V = 11 + blocks;
  const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
  const code: number[] = [];
  code.push(0x02, 0x40, 0x03, 0x40); // block, loop (words)
  code.push(...get(R), ...get(2), 0x4f, 0x0d, 1); // r >= n: out
  for (let k = 0; k < blocks; k++) code.push(...zero, ...set(acc(k)));
  code.push(...get(0), ...set(Q));
  code.push(...get(1), ...get(R), ...get(3), 0x6c, ...i32c(2), 0x74, 0x6a, ...set(W));
  code.push(...i32c(0), ...set(I));
  code.push(0x03, 0x40); // loop (components)
  code.push(...get(W), 0x2a, 2, 0, ...simd(0x13), ...set(V)); // v = f32x4.splat(word[i])
  for (let k = 0; k < blocks; k++) {
    // acc += q[i] * v, lane by lane (f32x4.mul, then f32x4.add: no fused multiply-add)
    code.push(...get(acc(k)), ...get(Q), ...simd(0x00), 4, ...uleb(16 * k), ...get(V), ...simd(0xe6));
    code.push(...simd(0xe4), ...set(acc(k)));
  }
  code.push(...get(Q), ...i32c(16 * blocks), 0x6a, ...set(Q));
  code.push(...get(W), ...i32c(4), 0x6a, ...set(W));
  code.push(...get(I), ...i32c(1), 0x6a, ...tee(I), ...get(3), 0x49, 0x0d, 0, 0x0b);
  code.push(...get(4), ...get(R), ...get(5), 0x6c, 0x6a, ...set(O));
  for (let k = 0; k < blocks; k++) code.push(...get(O), ...get(acc(k)), ...simd(0x0b), 4, ...uleb(16 * k));
  code.push(...get(R), ...i32c(1), 0x6a, ...set(R), 0x0c, 0, 0x0b, 0x0b, 0x0b);
  const locals = [2, 5, I32, blocks + 1, V128];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Buffer.from(s, 'utf8')];
}

function moduleBytes(): Uint8Array {
  const bodies = [kernelBody(2), kernelBody(1)];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 6, I32, I32, I32, I32, I32, I32, 0]),
    ...section(3, [2, 0, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [3, ...name('mem'), 2, 0, ...name('run8'), 0, 0, ...name('run4'), 0, 1]),
    ...section(10, [2, ...bodies.flat()]),
  ]);
}

type Run = (qp: number, wp: number, n: number, dims: number, outp: number, stride: number) => void;

// The few WebAssembly globals used here (this project's TypeScript libs do not declare them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { mem: WasmMemory; run8: Run; run4: Run } };
}

export interface SimdCosines {
  /** Room for a pass of Q query words (a multiple of 4), `words` word vectors of `dims`. */
  reserve(Q: number, words: number, dims: number): void;
  /** The query block, the word vectors and the cosines, as views of the module's memory. */
  readonly q: Float32Array;
  readonly words: Float32Array;
  readonly out: Float32Array;
  /** Cosines of the first n word vectors with the Q query words (laid out by kernelQueries). */
  run(Q: number, n: number, dims: number): void;
}

/** The SIMD kernel, or undefined where WebAssembly SIMD is not available. */
export function simdCosines(): SimdCosines | undefined {
  const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
  if (!wasm) return undefined;
  let exports: { mem: WasmMemory; run8: Run; run4: Run };
  try {
    exports = new wasm.Instance(new wasm.Module(moduleBytes())).exports;
  } catch {
    // No SIMD in this engine (the module does not validate): the JavaScript kernel runs.
    return undefined;
  }
  const { mem, run8, run4 } = exports;
  let qBytes = 0;
  let wBytes = 0;
  const self = {
    q: new Float32Array(0),
    words: new Float32Array(0),
    out: new Float32Array(0),
    reserve(Q: number, words: number, dims: number): void {
      qBytes = Math.ceil((Q * dims * 4) / 16) * 16;
      wBytes = Math.ceil((words * dims * 4) / 16) * 16;
      const need = qBytes + wBytes + words * Q * 4;
      if (need > mem.buffer.byteLength) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
      self.q = new Float32Array(mem.buffer, 0, Q * dims);
      self.words = new Float32Array(mem.buffer, qBytes, words * dims);
      self.out = new Float32Array(mem.buffer, qBytes + wBytes, words * Q);
    },
    run(Q: number, n: number, dims: number): void {
      const outp = qBytes + wBytes;
      let q = 0;
      for (; q + 8 <= Q; q += 8) run8(q * dims * 4, qBytes, n, dims, outp + q * 4, Q * 4);
      for (; q + 4 <= Q; q += 4) run4(q * dims * 4, qBytes, n, dims, outp + q * 4, Q * 4);
    },
  };
  return self;
}

/**
 * Q query word vectors (rows of `dims`) as run() reads them, padded with zero vectors to a
 * multiple of 4: in blocks of 8 words, then of 4, each block component by component (its
 * words' i-th components side by side). Returns the padded count.
 */
export function layQueries(rows: Float32Array, Q: number, dims: number, out: Float32Array): number {
  const Qp = paddedQueries(Q);
  let q = 0;
  while (q < Qp) {
    const w = q + 8 <= Qp ? 8 : 4;
    const base = q * dims;
    for (let j = 0; j < w; j++) {
      const src = (q + j) * dims;
      for (let i = 0; i < dims; i++) out[base + i * w + j] = q + j < Q ? rows[src + i]! : 0;
    }
    q += w;
  }
  return Qp;
}

/** Query words per pass as run() takes them: Q rounded up to a multiple of 4. */
export function paddedQueries(Q: number): number {
  return (Q + 3) & ~3;
}
