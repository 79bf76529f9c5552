export { NotesIndex, type IndexStatus, type OpenIndexOptions } from './notes-index.ts';
export type { NoteEvent, NoteEventType, SyncProgress, SyncSummary, SyncTimings } from './indexer.ts';
export type { ChunkRecord, Filter, NoteRecord } from './store.ts';
export { isEmptyFilter } from './store.ts';
export { readLockOwner } from './lock.ts';
export { VectorIndex } from './vectors.ts';
