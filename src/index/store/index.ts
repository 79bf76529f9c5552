export { type Filter, filterSql, folderRange, isEmptyFilter } from './filters.ts';
export type { ChunkInput, ChunkRecord, NoteInput, NoteRecord, NoteState, ReplaceResult } from './rows.ts';
export { Store } from './store.ts';
export type { StoredLink } from './reads.ts';
