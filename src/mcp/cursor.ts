import { NotesError } from '../errors.ts';

// Keyset paging cursors (list_notes, resources/list): the last path of a page, opaque to
// clients. One codec, so every paginated answer accepts and refuses the same cursors.

export function encodeCursor(path: string): string {
  return Buffer.from(path, 'utf8').toString('base64url');
}

/** The path a cursor names; a cursor that cannot be one of ours is a usage error. */
export function decodeCursor(cursor: string): string {
  const s = Buffer.from(cursor, 'base64url').toString('utf8');
  if (s === '' || s.includes('\u0000') || encodeCursor(s) !== cursor.replace(/=+$/, '')) {
    throw new NotesError('NOTES_E_USAGE', ['invalid cursor: pass next_cursor unchanged']);
  }
  return s;
}
