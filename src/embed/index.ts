export type { Embedder } from './types.ts';
export { bundledModelDir, readBundledInfo, type BundledInfo } from './bundled.ts';
export {
  BUNDLED_MODEL_ID,
  builtinCatalog,
  type Catalog,
  DEFAULT_HUB_MODEL_ID,
  fingerprintOf,
  type HubModelSpec,
  loadCatalog,
  MANIFEST_ENV,
  MINILM,
  type ModelFile,
} from './catalog.ts';
export { hubModelDir, type ModelChoice, resolveModelChoice } from './choice.ts';
export { EMBED_BATCH, type OpenEmbedderOptions, openEmbedder } from './embedder.ts';
export {
  DEFAULT_ENDPOINT,
  type FetchModelOptions,
  type FetchModelResult,
  type FetchProgress,
  fetchModel,
} from './fetch.ts';
export {
  describeModel,
  type FileCheck,
  listModels,
  type ModelInfo,
  type ModelListEntry,
  sha256File,
  verifyModelFiles,
} from './info.ts';
