export { createNoteFilter, DEFAULT_INCLUDE, type NoteFilter, type ScanOptions } from './filter.ts';
export { contentHash } from './hash.ts';
export {
  checkNotePathSyntax,
  isInside,
  isMarkdownName,
  reachedWithoutFolderLinks,
  type PathOptions,
  type PathSyntax,
  resolveNotePath,
  throwPathError,
} from './paths.ts';
export { checkText, MAX_NOTE_BYTES, type NoteBytes, noteFileError, readNoteFile, type TextCheck } from './file.ts';
export { type NoteContent, readNote } from './read.ts';
export { scanNotes } from './scan.ts';
export type { ChangeBatch, NoteFile, PathCheck, WriteMode, WriteResult } from './types.ts';
export { noteUri, parseNoteUri } from './uri.ts';
export { POLL_MS } from './folder-watch.ts';
export { type NotesWatcher, type WatchOptions, watchNotes } from './watch.ts';
export { isTempFileName, TEMP_PREFIX } from './temp.ts';
export { type WriteOptions, writeNote } from './write.ts';
export { type LinePage, type LinePageResult, pageLines } from './lines.ts';
export {
  applyEdits,
  type DiffOptions,
  type EditChange,
  type EditOp,
  type EditOutcome,
  unifiedDiff,
} from './edit.ts';
export { type MoveOptions, type MoveResult, moveNote, withMoveLock } from './move.ts';
export { type TrashOptions, trashNote, type UntrashOptions, untrashNote } from './trash.ts';
export type { NoteChange } from './write.ts';
export { prepareNotesFolder } from './folder.ts';
export { mapLimit } from './map-limit.ts';
