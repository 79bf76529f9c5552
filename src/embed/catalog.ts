import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describeIssues, NotesError } from '../errors.ts';

// The models notes-mcp knows how to fetch and verify. Each hub model is pinned to one
// revision with the sha256 and size of every file it needs, so `model fetch` downloads
// exactly these bytes and a moved `main` branch can never change the vectors under an index.

export const ModelFile = z.object({
  /** Path inside the model folder, '/'-separated (the same path as in the hub repo). */
  path: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.' || s === ''), {
      message: 'must be a relative path without . or .. segments',
    }),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ModelFile = z.infer<typeof ModelFile>;

export const HubModelSpec = z.object({
  /** Hub repository id, e.g. "Xenova/all-MiniLM-L6-v2"; also its folder under the models dir. */
  id: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must look like "owner/name"'),
  /** Full commit hash the files are fetched from. */
  revision: z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-hex commit hash'),
  /** transformers.js dtype: picks onnx/model<suffix>.onnx ("q8" -> model_quantized.onnx). */
  dtype: z.enum(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4']),
  dims: z.number().int().positive(),
  /** Content tokens the model reads (its window without [CLS]/[SEP]); longer text is truncated. */
  maxTokens: z.number().int().positive(),
  pooling: z.literal('mean'),
  license: z.string().min(1),
  description: z.string().min(1),
  files: z.array(ModelFile).min(1),
});
export type HubModelSpec = z.infer<typeof HubModelSpec>;

const ManifestFile = z.object({ models: z.array(HubModelSpec) }).strict();

/**
 * Xenova/all-MiniLM-L6-v2, int8 (q8) ONNX export. Revision and digests are the published
 * values of that commit on the Hugging Face hub (the LFS sha256 of the ONNX file, the sha256
 * of each small file's bytes), cross-checked against several independent pinned manifests;
 * no hub is reachable from the build machine, so they were not re-downloaded here.
 * special_tokens_map.json and vocab.txt are left out: transformers.js reads tokenizer.json.
 */
export const MINILM: HubModelSpec = {
  id: 'Xenova/all-MiniLM-L6-v2',
  revision: '751bff37182d3f1213fa05d7196b954e230abad9',
  dtype: 'q8',
  dims: 384,
  // sentence-transformers trained and configured it for 256 word pieces (max_seq_length).
  maxTokens: 256,
  pooling: 'mean',
  license: 'Apache-2.0',
  description: 'sentence-transformers all-MiniLM-L6-v2, int8 ONNX (about 23 MB)',
  files: [
    { path: 'config.json', size: 650, sha256: '7135149f7cffa1a573466c6e4d8423ed73b62fd2332c575bf738a0d033f70df7' },
    {
      path: 'tokenizer.json',
      size: 711_661,
      sha256: 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0',
    },
    {
      path: 'tokenizer_config.json',
      size: 366,
      sha256: '9261e7d79b44c8195c1cada2b453e55b00aeb81e907a6664974b4d7776172ab3',
    },
    {
      path: 'onnx/model_quantized.onnx',
      size: 22_972_370,
      sha256: 'afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1',
    },
  ],
};

/** The hub model `auto` prefers and `model fetch` downloads when no id is given. */
export const DEFAULT_HUB_MODEL_ID = MINILM.id;

/** Stable id of the bundled model, recorded in indexes (the alias "bundled" resolves to it). */
export const BUNDLED_MODEL_ID = 'notes-mcp/wink-sg-100d-avg';

/**
 * Environment variable naming a JSON file `{ "models": [HubModelSpec...] }` whose entries are
 * added to (or replace, by id) the built-in ones. Meant for tests and mirrors: it is how the
 * test suite points `model fetch` at a local server serving known files.
 */
export const MANIFEST_ENV = 'NOTES_MCP_MODEL_MANIFEST';

export interface Catalog {
  readonly hub: readonly HubModelSpec[];
}

export function builtinCatalog(): Catalog {
  return { hub: [MINILM] };
}

/** Built-in models plus the optional manifest override from the environment. */
export function loadCatalog(env: NodeJS.ProcessEnv = process.env): Catalog {
  const file = env[MANIFEST_ENV];
  if (!file) return builtinCatalog();
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new NotesError('NOTES_E_CONFIG', [`${MANIFEST_ENV}=${file}: ${(err as Error).message}`]);
  }
  const r = ManifestFile.safeParse(raw);
  if (!r.success) {
    throw new NotesError('NOTES_E_CONFIG', [`${MANIFEST_ENV}=${file}: ${describeIssues(r.error)}`]);
  }
  const byId = new Map(builtinCatalog().hub.map((m) => [m.id, m]));
  for (const m of r.data.models) byId.set(m.id, m);
  return { hub: [...byId.values()] };
}

export function findHubModel(catalog: Catalog, id: string): HubModelSpec | undefined {
  return catalog.hub.find((m) => m.id === id);
}

export interface FingerprintParts {
  id: string;
  revision: string;
  dtype: string;
  pooling: string;
  dims: number;
  maxTokens: number;
}

/** Identity of the vectors a model produces: anything that changes them is part of it. */
export function fingerprintOf(p: FingerprintParts): string {
  return `${p.id}@${p.revision};dtype=${p.dtype};pooling=${p.pooling};norm=l2;dims=${p.dims};max_tokens=${p.maxTokens}`;
}
