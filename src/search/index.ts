export {
  search,
  warmSearch,
  rankChunks,
  type SearchHit,
  type SearchMode,
  type SearchOptions,
  type SearchResult,
} from './search.ts';
export { CONTEXTUAL_FUSION, DEFAULT_FUSION, type FusionMethod, type FusionOptions, fusionFor } from './fusion.ts';
export { ftsMatch, queryTerms, searchTerms } from './query.ts';
export { makeSnippet } from './snippet.ts';
export { toWire, type WireHit, type WireSearch } from './wire.ts';
