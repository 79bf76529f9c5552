export { type IndexStatus, indexFiles, NotesIndex, type OpenIndexOptions } from './notes-index.ts';
export type { NoteEvent, NoteEventType, SyncProgress, SyncSummary, SyncTimings } from './indexer.ts';
export type { ChunkRecord, Filter, NoteRecord } from './store/index.ts';
export { isEmptyFilter } from './store/index.ts';
export { readLockOwner } from './lock.ts';
export { VectorIndex } from './vectors.ts';
export { compoundTokens, type LexicalDoc, LexicalIndex, lexicalTokens } from './lexical.ts';
