import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { NotesError } from '../errors.ts';
import { contentHash } from './hash.ts';
import { realNotePath, resolveNotePath, throwPathError } from './paths.ts';

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

/** Reads larger than this are refused rather than loaded into memory. */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

/** Read a note through the path checks; NOTES_E_NOTE_NOT_FOUND when it does not exist. */
export async function readNote(root: string, rel: string, opts: { maxBytes?: number } = {}): Promise<NoteContent> {
  const check = await resolveNotePath(root, rel);
  if (!check.ok) throwPathError(check, rel);
  const limit = opts.maxBytes ?? MAX_READ_BYTES;
  const real = await realNotePath(root, check.abs);
  if (real === null) throw new NotesError('NOTES_E_NOTE_NOT_FOUND', [check.rel]);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // The real path was checked just now; O_NOFOLLOW refuses a symlink swapped in since.
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP')
      throw new NotesError('NOTES_E_NOTE_NOT_FOUND', [check.rel]);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (st.size > limit) throw new NotesError('NOTES_E_NOTE_TOO_LARGE', [check.rel, st.size, limit]);
    const buf = await fh.readFile();
    return {
      path: check.rel,
      absPath: check.abs,
      content: buf.toString('utf8'),
      hash: contentHash(buf),
      mtimeMs: st.mtimeMs,
      size: buf.length,
    };
  } finally {
    await fh.close();
  }
}
