import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeIssues, NotesError } from '../errors.ts';
import { BUNDLED_MODEL_ID, ModelFile } from './catalog.ts';

// The bundled model ships in the repo (models/bundled, built by scripts/build-bundled-model.py).
// This module runs from src/embed/ under a TypeScript loader and from dist/src/embed/ once
// compiled, so the repo root is two or three levels up: look for the model in both.

const HERE = dirname(fileURLToPath(import.meta.url));

export function bundledModelDir(): string {
  for (const up of ['../..', '../../..']) {
    const dir = resolve(HERE, up, 'models', 'bundled');
    if (existsSync(join(dir, 'config.json'))) return dir;
  }
  // Report the source-tree location: that is where a rebuild writes it.
  return resolve(HERE, '../..', 'models', 'bundled');
}

const BundledConfig = z.object({
  notes_mcp: z.object({
    id: z.literal(BUNDLED_MODEL_ID),
    revision: z.string().regex(/^[0-9a-f]{8,64}$/),
    dims: z.number().int().positive(),
    max_tokens: z.number().int().positive(),
    pooling: z.literal('mean'),
    dtype: z.string().min(1),
    source: z.object({ npm: z.string(), tarball_sha256: z.string() }),
    words: z.number().int().positive(),
    files: z.record(z.string(), ModelFile.pick({ size: true, sha256: true })),
  }),
});

export interface BundledInfo {
  id: string;
  dir: string;
  revision: string;
  dims: number;
  maxTokens: number;
  /** How the weights are stored (descriptive; the ONNX file itself is model.onnx). */
  dtype: string;
  pooling: 'mean';
  words: number;
  source: string;
  files: ModelFile[];
}

/** Files transformers.js reads for the bundled model, besides those listed with digests. */
const PLAIN_FILES = ['config.json', 'tokenizer_config.json'];

export function bundledFilesPresent(dir: string): boolean {
  return [...PLAIN_FILES, 'tokenizer.json', 'onnx/model.onnx'].every((f) => existsSync(join(dir, f)));
}

/** Metadata the builder wrote into config.json; throws NOTES_E_MODEL_LOAD when unreadable. */
export function readBundledInfo(dir: string = bundledModelDir()): BundledInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (err) {
    throw new NotesError('NOTES_E_MODEL_LOAD', [
      BUNDLED_MODEL_ID,
      `cannot read ${join(dir, 'config.json')}: ${(err as Error).message}`,
    ]);
  }
  const r = BundledConfig.safeParse(raw);
  if (!r.success) {
    throw new NotesError('NOTES_E_MODEL_LOAD', [
      BUNDLED_MODEL_ID,
      `${join(dir, 'config.json')} has no valid notes_mcp block (${describeIssues(r.error)})`,
    ]);
  }
  const m = r.data.notes_mcp;
  return {
    id: m.id,
    dir,
    revision: m.revision,
    dims: m.dims,
    maxTokens: m.max_tokens,
    dtype: m.dtype,
    pooling: m.pooling,
    words: m.words,
    source: m.source.npm,
    files: Object.entries(m.files).map(([path, f]) => ({ path, size: f.size, sha256: f.sha256 })),
  };
}
