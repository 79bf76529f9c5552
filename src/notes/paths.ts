import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { NotesError } from '../errors.ts';
import type { PathCheck } from './types.ts';

// A note's identity is its path relative to the notes root: '/'-separated, Unicode NFC.
// Every path that comes from outside (tool arguments, URIs, CLI) goes through
// checkNotePathSyntax (pure) and then resolveNotePath (real paths on disk).

export type PathSyntax =
  | { ok: true; rel: string }
  | { ok: false; code: 'NOTES_E_PATH_INVALID' | 'NOTES_E_PATH_OUTSIDE'; reason: string };

export interface PathOptions {
  /**
   * Writing: the note may not exist yet, and a folder or broken link in its place is refused.
   * Reads are held to the same name rules (Markdown names, no hidden folders), so nothing
   * that is not a note (.env, .git/config) can be read through a note path either.
   */
  forWrite?: boolean;
}

const MARKDOWN_EXT = /\.(md|markdown)$/i;
// What counts as "an extension" when deciding whether to append .md: a dot then a short
// word starting with a letter. "2024.01.05" has none, "photo.png" has one.
const SOME_EXT = /\.[A-Za-z][A-Za-z0-9]{0,9}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const NON_ASCII = /[^\u0000-\u007f]/;
const MAX_PATH_CHARS = 1024;
const MAX_SEGMENT_BYTES = 255;

/** True for file names the scanner and path checks treat as notes (by extension). */
export function isMarkdownName(name: string): boolean {
  return MARKDOWN_EXT.test(name);
}

/** NFC form of one name as read from disk; ASCII names skip the work. */
export function nfc(name: string): string {
  return NON_ASCII.test(name) ? name.normalize('NFC') : name;
}

function invalid(reason: string): PathSyntax {
  return { ok: false, code: 'NOTES_E_PATH_INVALID', reason };
}

/**
 * Pure checks on a note path as given (no decoding: '%2e' is three literal characters).
 * Refuses empty, absolute (`/x`, `C:/x`), backslash (`a\b`, `\\server`), NUL and control
 * characters, `.` and `..` and empty segments, hidden folders (`.git/x.md`, `.obsidian/…`)
 * and names that are not Markdown (a hidden note name like `..md`, the tldr page for `.`, is
 * fine). A name without any extension gets `.md` appended
 * ("Inbox/idea" → "Inbox/idea.md"). Returns the NFC path.
 */
export function checkNotePathSyntax(input: string, _opts: PathOptions = {}): PathSyntax {
  if (typeof input !== 'string' || input.trim() === '') return invalid('the path is empty');
  if (input.includes('\u0000')) return invalid('the path contains a NUL byte');
  // A lone surrogate has no UTF-8 spelling: the file system would get U+FFFD instead, and the
  // note written would not be the one named. Refused before anything is written.
  if (!input.isWellFormed()) return invalid('the path contains a lone UTF-16 surrogate (not valid Unicode)');
  if (CONTROL.test(input)) return invalid('the path contains control characters');
  if (input.includes('\\')) return invalid("backslashes are not allowed: separate folders with '/'");
  if (input.startsWith('/') || /^[A-Za-z]:/.test(input)) {
    return invalid("absolute paths are not allowed: give the path relative to the notes folder, like 'folder/note.md'");
  }
  if (input.length > MAX_PATH_CHARS) return invalid(`the path is longer than ${MAX_PATH_CHARS} characters`);
  const segments = nfc(input).split('/');
  for (const [i, seg] of segments.entries()) {
    if (seg === '') {
      return invalid(i === segments.length - 1 ? 'the path names a folder, not a note' : "the path contains '//'");
    }
    if (seg === '.' || seg === '..') return invalid("'.' and '..' segments are not allowed");
    if (seg.startsWith('.') && i < segments.length - 1) {
      return invalid(`'${seg}' is a hidden folder (starts with '.'): notes never live in one`);
    }
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) {
      return invalid(`a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  let last = segments[segments.length - 1]!;
  if (!isMarkdownName(last)) {
    if (SOME_EXT.test(last)) return invalid('only Markdown notes (.md or .markdown) can be read or written');
    last = `${last}.md`;
    if (Buffer.byteLength(last, 'utf8') > MAX_SEGMENT_BYTES) {
      return invalid(`a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
    segments[segments.length - 1] = last;
  }
  return { ok: true, rel: segments.join('/') };
}

/**
 * The file at `abs` (a path under `root`) is reached without passing through a symlinked
 * folder. Scans never enter one; the watcher may report files under it (a link to `..`
 * would double the vault), and those are not notes.
 */
export async function reachedWithoutFolderLinks(root: string, realRootPath: string, abs: string): Promise<boolean> {
  const relDir = relative(root, dirname(abs));
  if (relDir === '') return true;
  if (relDir.startsWith('..') || isAbsolute(relDir)) return false;
  let real: string;
  try {
    real = await realpath(dirname(abs));
  } catch {
    return false;
  }
  const expected = join(realRootPath, relDir);
  const fold = (p: string) => {
    const n = p.normalize('NFC');
    // macOS and Windows file systems usually ignore case: realpath may spell it differently.
    return process.platform === 'darwin' || process.platform === 'win32' ? n.toLowerCase() : n;
  };
  return fold(real) === fold(expected);
}

/** `child` is strictly inside `parent` (both real, absolute paths). */
export function isInside(parent: string, child: string): boolean {
  const base = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(base) && child.length > base.length;
}

async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENAMETOOLONG: a spelling the disk cannot hold is not there. A 255-byte NFC name (the
    // limit) is up to half again as long in NFD, which findEntry tries next.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return null;
    throw err;
  }
}

/** The directory entry spelling `seg` under `dir`, whichever Unicode form the disk uses. */
async function findEntry(dir: string, seg: string): Promise<string | null> {
  if ((await lstatOrNull(join(dir, seg))) !== null) return seg;
  if (!NON_ASCII.test(seg)) return null;
  const nfd = seg.normalize('NFD');
  if (nfd !== seg && (await lstatOrNull(join(dir, nfd))) !== null) return nfd;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  return names.find((n) => n.normalize('NFC') === seg) ?? null;
}

async function realRoot(root: string): Promise<string | null> {
  try {
    return await realpath(root);
  } catch {
    return null;
  }
}

/**
 * Check a note path against the disk: after the syntax checks, the note's real path (after
 * symlinks) when it exists, and its deepest existing folder's real path otherwise, must be
 * inside the real notes root. NFC and NFD spellings find the same file. `abs` is the path to
 * use on disk (the disk's spelling); `rel` is the note's identity (NFC).
 */
export async function resolveNotePath(root: string, input: string, opts: PathOptions = {}): Promise<PathCheck> {
  const syn = checkNotePathSyntax(input, opts);
  if (!syn.ok) return syn;
  const rootReal = await realRoot(root);
  if (rootReal === null) {
    return { ok: false, code: 'NOTES_E_PATH_INVALID', reason: `the notes folder ${root} does not exist` };
  }
  const segments = syn.rel.split('/');
  let cur = root;
  let existing = root;
  let existingDepth = 0;
  let exists = true;
  for (const [i, seg] of segments.entries()) {
    const name = exists ? await findEntry(cur, seg) : null;
    if (name === null) {
      exists = false;
      cur = join(cur, seg);
      continue;
    }
    cur = join(cur, name);
    if (i < segments.length - 1) {
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(cur);
      } catch (err) {
        const where = segments.slice(0, i + 1).join('/');
        if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
          return { ok: false, code: 'NOTES_E_PATH_INVALID', reason: `'${where}' is a symbolic link loop` };
        }
        return { ok: false, code: 'NOTES_E_PATH_OUTSIDE', reason: `'${where}' is a broken link` };
      }
      if (!st.isDirectory()) {
        return {
          ok: false,
          code: 'NOTES_E_PATH_INVALID',
          reason: `'${segments.slice(0, i + 1).join('/')}' is a file, not a folder`,
        };
      }
      existing = cur;
      existingDepth = i + 1;
    }
  }
  const abs = cur;
  let real: string;
  try {
    real = await realpath(exists ? abs : existing);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      return { ok: false, code: 'NOTES_E_PATH_INVALID', reason: 'the path goes through a symbolic link loop' };
    }
    // A symlink whose target is missing: where a write would land cannot be known.
    return { ok: false, code: 'NOTES_E_PATH_OUTSIDE', reason: 'the path goes through a broken symbolic link' };
  }
  if (exists ? !isInside(rootReal, real) : real !== rootReal && !isInside(rootReal, real)) {
    return { ok: false, code: 'NOTES_E_PATH_OUTSIDE', reason: 'the path resolves outside the notes folder' };
  }
  if (exists) {
    const st = await stat(real);
    if (st.isDirectory())
      return { ok: false, code: 'NOTES_E_PATH_INVALID', reason: 'the path names a folder, not a note' };
    if (!st.isFile()) {
      const what = st.isFIFO() ? 'a FIFO (named pipe)' : st.isSocket() ? 'a socket' : 'a device';
      return { ok: false, code: 'NOTES_E_PATH_INVALID', reason: `the path names ${what}, not a note file` };
    }
  }
  // A note reached through a symlinked folder is the note at the folder's real place: the
  // scanner never enters such folders, so the index, the history and every tool know it only
  // there. Named by the link, a write was indexed under a name search never returned, and
  // took another lock than a write naming the real place (two appends, one lost).
  const folderReal = exists ? await realpath(existing).catch(() => null) : real;
  if (folderReal === null) return { ok: false, code: 'NOTES_E_PATH_OUTSIDE', reason: 'the path changed while checked' };
  const rest = relative(existing, abs);
  const key = (exists ? real : join(folderReal, rest)).normalize('NFC').toLowerCase();
  const realFolder = relative(rootReal, folderReal);
  if (realFolder === relative(root, existing)) return { ok: true, rel: syn.rel, abs, key };
  const canonical = [...(realFolder === '' ? [] : realFolder.split(sep).map(nfc)), ...segments.slice(existingDepth)];
  const again = checkNotePathSyntax(canonical.join('/'), opts);
  if (!again.ok) return again;
  return { ok: true, rel: again.rel, abs: join(root, realFolder, rest), key };
}

/**
 * Real path of an existing note at `abs`, or null when it (no longer) resolves to a file
 * inside the real root. Read and write act on this path, just before they open it.
 */
export async function realNotePath(root: string, abs: string): Promise<string | null> {
  try {
    const [rootReal, real] = await Promise.all([realpath(root), realpath(abs)]);
    return isInside(rootReal, real) ? real : null;
  } catch {
    return null;
  }
}

/** Throw the NotesError a failed check stands for. */
export function throwPathError(check: Exclude<PathCheck, { ok: true }>, input: string): never {
  const shown = JSON.stringify(input);
  if (check.code === 'NOTES_E_PATH_OUTSIDE') throw new NotesError('NOTES_E_PATH_OUTSIDE', [shown]);
  throw new NotesError('NOTES_E_PATH_INVALID', [shown, check.reason]);
}
