import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { NotesError } from '../errors.ts';
import { fileKind, readOpenFile } from '../fs-atomic.ts';
import { isInside } from './paths.ts';

// Every read of a note's bytes (indexer, read_note, write_note's read of the current text)
// goes through readNoteFile: open first, then check what was opened. Checking a path and then
// opening it leaves a gap in which the file can become a FIFO, whose open() blocks forever
// (a libuv thread, or the whole event loop for a sync read, lost for good). Here open() never
// blocks (O_NONBLOCK: a FIFO opens at once), never follows a final symlink swapped in
// (O_NOFOLLOW), and fstat on the open descriptor decides: only a regular file is read.

/** The one size limit for a note: read, indexed and written alike. */
export const MAX_NOTE_BYTES = 8 * 1024 * 1024;

export type NoteBytes =
  | {
      ok: true;
      bytes: Buffer;
      size: number;
      mtimeMs: number;
      mode: number;
      real: string;
      /** Identity of the file read (moves tell a second name of the same file by these). */
      dev: number;
      ino: number;
      nlink: number;
    }
  | {
      ok: false;
      kind: 'missing' | 'not-a-file' | 'too-large' | 'outside' | 'unreadable';
      reason: string;
      /** Bytes on disk, for too-large. */
      size?: number;
    };

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

async function openOnce(path: string): Promise<Awaited<ReturnType<typeof open>> | NodeJS.ErrnoException> {
  try {
    return await open(path, OPEN_FLAGS);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/**
 * Read a note's bytes safely. `realRoot` is the real notes root: a symlinked note is read at
 * its target only when that is inside the root. Never throws for what the file is (missing,
 * a FIFO, too large, a link out); only for unexpected I/O errors.
 */
export async function readNoteFile(
  abs: string,
  realRoot: string,
  maxBytes = MAX_NOTE_BYTES,
  opts: { followLink?: boolean } = {},
): Promise<NoteBytes> {
  let real = abs;
  let fh = await openOnce(abs);
  if (fh instanceof Error && fh.code === 'ELOOP' && opts.followLink === false) {
    return { ok: false, kind: 'not-a-file', reason: 'a symbolic link' };
  }
  if (fh instanceof Error && fh.code === 'ELOOP') {
    // A symlinked note (allowed when it points inside the root): open its target, again
    // without following anything swapped in since.
    try {
      real = await realpath(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') return { ok: false, kind: 'unreadable', reason: 'a symbolic link loop' };
      return { ok: false, kind: 'missing', reason: 'a broken symbolic link' };
    }
    if (!isInside(realRoot, real)) return { ok: false, kind: 'outside', reason: 'links outside the notes folder' };
    fh = await openOnce(real);
  }
  if (fh instanceof Error) {
    const code = fh.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, kind: 'missing', reason: 'does not exist' };
    if (code === 'ELOOP') return { ok: false, kind: 'unreadable', reason: 'a symbolic link loop' };
    if (code === 'EACCES' || code === 'EPERM') return { ok: false, kind: 'unreadable', reason: 'permission denied' };
    if (code === 'ENXIO' || code === 'EISDIR') return { ok: false, kind: 'not-a-file', reason: 'not a regular file' };
    throw fh;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, kind: 'not-a-file', reason: `${fileKind(st.mode)}, not a note file` };
    if (st.size > maxBytes) {
      return { ok: false, kind: 'too-large', reason: `more than the ${maxBytes}-byte limit`, size: st.size };
    }
    // A file that grew past the limit meanwhile is refused rather than read without bound.
    const bytes = await readOpenFile(fh, st.size, maxBytes);
    if (!bytes)
      return { ok: false, kind: 'too-large', reason: `more than the ${maxBytes}-byte limit`, size: maxBytes + 1 };
    return {
      ok: true,
      bytes,
      size: bytes.length,
      mtimeMs: st.mtimeMs,
      mode: st.mode & 0o7777,
      real,
      dev: st.dev,
      ino: st.ino,
      nlink: st.nlink,
    };
  } finally {
    await fh.close();
  }
}

export type TextCheck = { ok: true } | { ok: false; reason: string };

const SAMPLE = 64 * 1024;

/**
 * Whether bytes are a text note. Binaries renamed .md (an ELF, an image) have NUL bytes;
 * other non-text has mostly control characters or mostly invalid UTF-8. A stray Latin-1 byte
 * in an old note is still text: only a large share of invalid sequences refuses it.
 */
export function checkText(bytes: Buffer): TextCheck {
  if (bytes.indexOf(0) >= 0) return { ok: false, reason: 'contains NUL bytes (a binary file)' };
  const sample = bytes.subarray(0, SAMPLE);
  let control = 0;
  for (const b of sample) {
    // C0 controls other than tab, newline, vertical tab, form feed and carriage return; DEL.
    if ((b < 0x20 && (b < 0x09 || b > 0x0d)) || b === 0x7f) control++;
  }
  if (sample.length > 0 && control / sample.length > 0.1) {
    return { ok: false, reason: 'mostly control characters (not text)' };
  }
  if (!isUtf8(bytes)) {
    const text = sample.toString('utf8');
    let bad = 0;
    for (const ch of text) if (ch === '\uFFFD') bad++;
    if (bad / Math.max(1, text.length) > 0.1) return { ok: false, reason: 'mostly invalid UTF-8 (not text)' };
  }
  return { ok: true };
}

/** The 1-based line of the first byte that is not UTF-8, or null when every byte is. */
export function firstInvalidUtf8Line(bytes: Buffer): number | null {
  if (isUtf8(bytes)) return null;
  // A newline byte is never inside a multi-byte sequence: each line can be checked alone.
  let line = 1;
  let at = 0;
  while (at < bytes.length) {
    const nl = bytes.indexOf(0x0a, at);
    const end = nl < 0 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(at, end))) return line;
    line++;
    at = end + 1;
  }
  return line;
}

/** The NotesError a failed read stands for, naming the note as the caller gave it. */
export function noteFileError(r: Extract<NoteBytes, { ok: false }>, rel: string): NotesError {
  const shown = JSON.stringify(rel);
  switch (r.kind) {
    case 'missing':
      return new NotesError('NOTES_E_NOTE_NOT_FOUND', [rel]);
    case 'too-large':
      return new NotesError('NOTES_E_NOTE_TOO_LARGE', [rel, r.size ?? 'more than the limit', MAX_NOTE_BYTES]);
    case 'outside':
      return new NotesError('NOTES_E_PATH_OUTSIDE', [shown]);
    default:
      return new NotesError('NOTES_E_PATH_INVALID', [shown, r.reason]);
  }
}
