export {
  type Backlink,
  type IndexStatus,
  indexFiles,
  type LinkResolution,
  NotesIndex,
  type OpenIndexOptions,
  type ResolvedLink,
} from './notes-index.ts';
export type { NoteEvent, NoteEventType, SyncProgress, SyncSummary, SyncTimings } from './indexer.ts';
export type { ChunkRecord, Filter, NoteRecord, StoredLink } from './store/index.ts';
export { isEmptyFilter } from './store/index.ts';
export { readLockOwner } from './lock.ts';
export { VectorIndex } from './vectors.ts';
export { compoundTokens, type LexicalDoc, LexicalIndex, lexicalTokens } from './lexical.ts';
