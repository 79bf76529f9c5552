import type { Logger } from '../log.ts';
import { NotesError } from '../errors.ts';
import { readBundledInfo } from './bundled.ts';
import { findHubModel, fingerprintOf, loadCatalog } from './catalog.ts';
import { type ModelChoice, resolveModelChoice } from './choice.ts';
import type { Embedder } from './types.ts';

// One Embedder over transformers.js' feature-extraction pipeline (mean pooling, L2 norm) for
// both the bundled model and hub models: the bundled ONNX graph is shaped like a BERT export
// so both take exactly the same code path. transformers.js is imported lazily: loading it
// costs ~300 ms that `--help` and commands without embeddings must not pay.

/** Texts per ONNX run: large enough to amortise per-call overhead, small enough to pad little. */
export const EMBED_BATCH = 32;

export interface OpenEmbedderOptions {
  /** "auto" | "bundled" | a hub model id (Config.model). */
  model: string;
  /** Config.modelsDir: where `model fetch` put hub models. */
  modelsDir: string;
  log?: Logger;
}

// The slice of transformers.js this module uses, typed narrowly: the library's own types
// describe every task at once and do not narrow well.
interface TensorLike {
  dims: number[];
  data: Float32Array | BigInt64Array;
}
interface TokenizerLike {
  (texts: string[], opts: { padding: boolean; truncation: boolean }): Record<string, TensorLike>;
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
}
interface ExtractorLike {
  tokenizer: TokenizerLike;
  model: (inputs: Record<string, TensorLike>) => Promise<Record<string, TensorLike | undefined>>;
  dispose(): Promise<void>;
}

interface ModelParams {
  id: string;
  revision: string;
  /** transformers.js dtype option: which onnx/model*.onnx file to load. */
  fileDtype: 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4';
  /** Recorded in the fingerprint. */
  dtype: string;
  dims: number;
  maxTokens: number;
  pooling: 'mean';
  bagOfWords: boolean;
}

function paramsFor(choice: ModelChoice): ModelParams {
  if (choice.kind === 'bundled') {
    const b = readBundledInfo(choice.dir);
    return {
      id: b.id,
      revision: b.revision,
      fileDtype: 'fp32',
      dtype: b.dtype,
      dims: b.dims,
      maxTokens: b.maxTokens,
      pooling: b.pooling,
      bagOfWords: true,
    };
  }
  const spec = findHubModel(loadCatalog(), choice.id);
  if (!spec) throw new NotesError('NOTES_E_MODEL_UNKNOWN', [choice.id]);
  return { ...spec, fileDtype: spec.dtype, bagOfWords: false };
}

let transformersReady: Promise<typeof import('@huggingface/transformers')> | undefined;

/** Load transformers.js once, offline-only and quiet (stdout may be an MCP stdio channel). */
function loadTransformers(): Promise<typeof import('@huggingface/transformers')> {
  transformersReady ??= import('@huggingface/transformers').then((t) => {
    t.env.allowRemoteModels = false;
    t.env.allowLocalModels = true;
    t.env.useFSCache = false;
    t.env.useBrowserCache = false;
    // Warnings and info go through console.log/console.warn; errors reach us as exceptions.
    t.env.logLevel = t.LogLevel.NONE;
    return t;
  });
  return transformersReady;
}

/**
 * Mean over the unmasked tokens, then L2 normalisation: what the feature-extraction pipeline
 * computes with `{ pooling: 'mean', normalize: true }`, reading each token's row once instead
 * of converting the BigInt mask once per dimension (that loop cost four times the bundled
 * model's own run). A text whose tokens all have zero vectors (only punctuation, say) gets a
 * zero vector, where the pipeline would return 0/0 = NaN.
 */
export function meanPoolNormalize(hidden: TensorLike, mask: TensorLike): Float32Array[] {
  const [rows = 0, seq = 0, dims = 0] = hidden.dims;
  const h = hidden.data as Float32Array;
  const m = mask.data as BigInt64Array;
  const out: Float32Array[] = [];
  const acc = new Float64Array(dims);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    let count = 0;
    for (let t = 0; t < seq; t++) {
      if (m[r * seq + t] === 0n) continue;
      count++;
      const base = (r * seq + t) * dims;
      for (let d = 0; d < dims; d++) acc[d] = (acc[d] ?? 0) + (h[base + d] ?? 0);
    }
    let sq = 0;
    for (let d = 0; d < dims; d++) sq += (acc[d] ?? 0) * (acc[d] ?? 0);
    const v = new Float32Array(dims);
    // Dividing by the count is a scale that normalisation removes; the norm alone suffices.
    if (count > 0 && sq > 0 && Number.isFinite(sq)) {
      const inv = 1 / Math.sqrt(sq);
      for (let d = 0; d < dims; d++) v[d] = (acc[d] ?? 0) * inv;
    }
    out.push(v);
  }
  return out;
}

class TransformersEmbedder implements Embedder {
  readonly modelId: string;
  readonly fingerprint: string;
  readonly dims: number;
  readonly maxTokens: number;
  readonly bagOfWords: boolean;
  readonly #extractor: ExtractorLike;
  // ONNX runs are serialised: concurrent runs only contend for the same cores.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(params: ModelParams, extractor: ExtractorLike) {
    this.modelId = params.id;
    this.fingerprint = fingerprintOf(params);
    this.dims = params.dims;
    this.maxTokens = params.maxTokens;
    this.bagOfWords = params.bagOfWords;
    this.#extractor = extractor;
  }

  countTokens(text: string): number {
    return this.#extractor.tokenizer.encode(text, { add_special_tokens: false }).length;
  }

  embed(texts: readonly string[]): Promise<Float32Array[]> {
    const run = this.#queue.then(() => this.#embedNow(texts));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #embedNow(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = texts.map(() => new Float32Array(this.dims));
    // Similar lengths in one batch means little padding; empty texts never reach the model.
    const order = texts
      .map((t, i) => ({ i, len: t.length, blank: t.trim() === '' }))
      .filter((x) => !x.blank)
      .sort((a, b) => a.len - b.len);
    for (let start = 0; start < order.length; start += EMBED_BATCH) {
      const batch = order.slice(start, start + EMBED_BATCH);
      // The feature-extraction pipeline's own steps (tokenize with padding and truncation,
      // run the model) with a faster pooling; tests check it matches the pipeline.
      const inputs = this.#extractor.tokenizer(
        batch.map((b) => texts[b.i] ?? ''),
        { padding: true, truncation: true },
      );
      const outputs = await this.#extractor.model(inputs);
      const hidden = outputs.last_hidden_state ?? outputs.token_embeddings;
      const mask = inputs.attention_mask;
      if (!hidden || !mask || hidden.dims[0] !== batch.length || hidden.dims[2] !== this.dims) {
        throw new NotesError('NOTES_E_MODEL_LOAD', [
          this.modelId,
          `expected last_hidden_state [${batch.length}, seq, ${this.dims}], got [${hidden?.dims.join(', ') ?? 'nothing'}]`,
        ]);
      }
      for (const [r, v] of meanPoolNormalize(hidden, mask).entries()) {
        const b = batch[r];
        if (b) out[b.i] = v;
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.#queue;
    await this.#extractor.dispose();
  }
}

/**
 * Open the configured model for embedding. Throws NOTES_E_MODEL_MISSING when a hub model is
 * configured but not on this machine, NOTES_E_MODEL_UNKNOWN for an unknown id and
 * NOTES_E_MODEL_LOAD when the files are there but do not load.
 */
export async function openEmbedder(opts: OpenEmbedderOptions): Promise<Embedder> {
  const choice = resolveModelChoice(opts.model, opts.modelsDir);
  if (!choice.present) {
    if (choice.kind === 'hub') throw new NotesError('NOTES_E_MODEL_MISSING', [choice.id]);
    throw new NotesError('NOTES_E_MODEL_LOAD', [choice.id, `its files are missing from ${choice.dir}`]);
  }
  const params = paramsFor(choice);
  opts.log?.info({ model: choice.id, requested: choice.requested, model_dir: choice.dir }, choice.reason);

  const t = await loadTransformers();
  t.env.localModelPath = opts.modelsDir;
  let extractor: ExtractorLike;
  const started = performance.now();
  try {
    // An absolute folder is never taken for a hub id, so nothing is looked up remotely.
    const loaded: unknown = await t.pipeline('feature-extraction', choice.dir, {
      dtype: params.fileDtype,
      device: 'cpu',
      local_files_only: true,
    });
    extractor = loaded as ExtractorLike;
  } catch (err) {
    throw new NotesError('NOTES_E_MODEL_LOAD', [choice.id, (err as Error).message], { cause: err });
  }
  // Truncate at the model's own window. transformers.js cuts an over-long encoding to
  // model_max_length ids, dropping the final [SEP], so [CLS] + maxTokens is the length that
  // keeps exactly maxTokens text tokens. The tokenizer reads this getter from its config; an
  // own property shadows it for this instance only.
  Object.defineProperty(extractor.tokenizer, 'model_max_length', { value: params.maxTokens + 1 });
  opts.log?.debug({ model: choice.id, load_ms: Math.round(performance.now() - started) }, 'embedding model loaded');
  return new TransformersEmbedder(params, extractor);
}
