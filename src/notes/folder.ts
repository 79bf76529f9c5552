import { mkdirSync, statSync } from 'node:fs';
import { NotesError } from '../errors.ts';

/**
 * Make sure the notes folder is there before anything is served from it. A mistyped --notes
 * used to be created silently (deep paths too) and served empty: only the default ./notes, or a
 * folder the user asked for with --create, is created.
 */
export function prepareNotesFolder(dir: string, opts: { isDefault: boolean; create: boolean }): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st?.isDirectory()) return;
  if (st) throw new NotesError('NOTES_E_NOTES_NOT_FOLDER', [dir]);
  if (!opts.isDefault && !opts.create) throw new NotesError('NOTES_E_NOTES_MISSING', [dir]);
  mkdirSync(dir, { recursive: true });
}
