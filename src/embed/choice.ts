import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NotesError } from '../errors.ts';
import { bundledFilesPresent, bundledModelDir } from './bundled.ts';
import {
  BUNDLED_MODEL_ID,
  type Catalog,
  DEFAULT_HUB_MODEL_ID,
  findHubModel,
  type HubModelSpec,
  loadCatalog,
} from './catalog.ts';

export interface ModelChoice {
  /** What the configuration asked for: "auto", "bundled" or a model id. */
  requested: string;
  /** The model that will be used (BUNDLED_MODEL_ID for the bundled one). */
  id: string;
  kind: 'bundled' | 'hub';
  /** Folder holding (or meant to hold) the model's files. */
  dir: string;
  /** Every file the model needs is there with its expected size. */
  present: boolean;
  /** One sentence on why this model, for logs and `doctor`. */
  reason: string;
}

/** Where `model fetch` puts a hub model: <modelsDir>/<owner>/<name>, the hub's own layout. */
export function hubModelDir(modelsDir: string, id: string): string {
  return join(resolve(modelsDir), ...id.split('/'));
}

/** Cheap presence check (sizes only); checksums are verified by fetch and by `doctor`. */
export function hubModelPresent(spec: HubModelSpec, dir: string): boolean {
  return spec.files.every((f) => {
    try {
      const st = statSync(join(dir, ...f.path.split('/')));
      return st.isFile() && st.size === f.size;
    } catch {
      return false;
    }
  });
}

export function isBundledRequest(model: string): boolean {
  return model === 'bundled' || model === BUNDLED_MODEL_ID;
}

function bundledChoice(requested: string, reason: string): ModelChoice {
  const dir = bundledModelDir();
  return { requested, id: BUNDLED_MODEL_ID, kind: 'bundled', dir, present: bundledFilesPresent(dir), reason };
}

/**
 * Decide which model `model` ("auto" | "bundled" | hub id) means on this machine.
 * `auto` takes the default hub model when its files are in `modelsDir` (a provisioned
 * machine ran `notes-mcp model fetch`), else the bundled one, so a fresh offline machine
 * still starts. Throws NOTES_E_MODEL_UNKNOWN for an id no catalog entry describes.
 */
export function resolveModelChoice(model: string, modelsDir: string, catalog: Catalog = loadCatalog()): ModelChoice {
  const requested = model.trim();
  if (isBundledRequest(requested)) return bundledChoice(requested, 'the bundled model was requested');
  if (requested === 'auto') {
    const spec = findHubModel(catalog, DEFAULT_HUB_MODEL_ID);
    if (spec) {
      const dir = hubModelDir(modelsDir, spec.id);
      if (hubModelPresent(spec, dir)) {
        return { requested, id: spec.id, kind: 'hub', dir, present: true, reason: `auto: ${spec.id} is in ${dir}` };
      }
      return bundledChoice(
        requested,
        `auto: ${spec.id} is not in ${dir}, using the bundled model (run "notes-mcp model fetch" for better search)`,
      );
    }
    return bundledChoice(requested, 'auto: no hub model is configured, using the bundled model');
  }
  const spec = findHubModel(catalog, requested);
  if (!spec) throw new NotesError('NOTES_E_MODEL_UNKNOWN', [requested]);
  const dir = hubModelDir(modelsDir, spec.id);
  const present = hubModelPresent(spec, dir);
  return {
    requested,
    id: spec.id,
    kind: 'hub',
    dir,
    present,
    reason: present ? `${spec.id} was requested and is in ${dir}` : `${spec.id} was requested but is not in ${dir}`,
  };
}
