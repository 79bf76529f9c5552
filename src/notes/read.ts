import { realpath } from 'node:fs/promises';
import { NotesError } from '../errors.ts';
import { checkText, MAX_NOTE_BYTES, noteFileError, readNoteFile } from './file.ts';
import { contentHash } from './hash.ts';
import { resolveNotePath, throwPathError } from './paths.ts';

export interface NoteContent {
  /** The note's identity: relative, '/'-separated, NFC. */
  path: string;
  absPath: string;
  content: string;
  /** sha256 hex of the bytes on disk (what writeNote's expectedHash compares with). */
  hash: string;
  mtimeMs: number;
  size: number;
}

/**
 * Read a note through the path checks. Refused, each with its own code: a note that does not
 * exist, one that is not a regular file (a FIFO, a folder), one over the size limit, and one
 * that is not text (binary files renamed .md).
 */
export async function readNote(root: string, rel: string, opts: { maxBytes?: number } = {}): Promise<NoteContent> {
  const check = await resolveNotePath(root, rel);
  if (!check.ok) throwPathError(check, rel);
  const r = await readNoteFile(check.abs, await realpath(root), opts.maxBytes ?? MAX_NOTE_BYTES);
  if (!r.ok) throw noteFileError(r, check.rel);
  const text = checkText(r.bytes);
  if (!text.ok) throw new NotesError('NOTES_E_NOTE_NOT_TEXT', [check.rel, text.reason]);
  return {
    path: check.rel,
    absPath: check.abs,
    content: r.bytes.toString('utf8'),
    hash: contentHash(r.bytes),
    mtimeMs: r.mtimeMs,
    size: r.size,
  };
}
