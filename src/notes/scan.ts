import type { Dirent } from 'node:fs';
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { lstat, readdir, realpath, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createNoteFilter, type NoteFilter, type ScanOptions } from './filter.ts';
import { fileKind } from '../fs-atomic.ts';
import { checkNotePathSyntax, isInside, nfc } from './paths.ts';
import { isTempFileName } from './temp.ts';
import type { NoteFile } from './types.ts';

// Enough parallel readdir/stat calls to keep libuv's thread pool busy without flooding it.
const CONCURRENCY = 32;

interface Found {
  rel: string;
  abs: string;
  /** A symlink: counted only when its real path is a file inside the root. */
  link: boolean;
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Vanished or unreadable folders are skipped, as an editor deleting one mid-scan would; so
    // is a folder whose path is past the system's limit (PATH_MAX): thrown, it failed the scan
    // of the whole vault (a fresh index served no note at all). Not a full file table (EMFILE):
    // skipping a folder for that would drop its notes from the index.
    if (
      code === 'ENOENT' ||
      code === 'ENOTDIR' ||
      code === 'EACCES' ||
      code === 'EPERM' ||
      code === 'ENAMETOOLONG' ||
      code === 'ELOOP'
    )
      return [];
    throw err;
  }
}

/** Run `fn` over `items` with at most `limit` calls in flight. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * A writeNote temp file lives for the milliseconds of one write; one this old was left by a
 * process killed mid-write and only takes space.
 */
const STRAY_TEMP_AGE_MS = 10 * 60_000;

/** A file named like a note that is not one, and why: status and doctor list these. */
export interface Refused {
  path: string;
  reason: string;
}

async function walk(
  start: { abs: string; rel: string },
  filter: NoteFilter,
  temps?: string[],
  refused?: Refused[],
): Promise<Found[]> {
  const found: Found[] = [];
  let level = [start];
  // Breadth-first, one level at a time, each level's folders read in parallel.
  while (level.length > 0) {
    const nextLevel: { abs: string; rel: string }[] = [];
    await eachLimit(level, CONCURRENCY, async (dir) => {
      for (const e of await listDir(dir.abs)) {
        const name = e.name;
        const rel = dir.rel === '' ? nfc(name) : `${dir.rel}/${nfc(name)}`;
        const abs = join(dir.abs, name);
        if (e.isDirectory()) {
          if (!filter.isSkippedDir(rel)) nextLevel.push({ abs, rel });
        } else if (e.isFile() || e.isSymbolicLink() || filter.isNote(rel)) {
          // Symlinked folders are never entered (cycles, escapes); symlinked notes may count.
          if (filter.isNote(rel)) {
            // A name no note path can spell (a newline, a backslash, past 1024 characters) would
            // be searchable but never readable through read_note: not a note, and said so.
            const syntax = checkNotePathSyntax(rel);
            if (syntax.ok) found.push({ rel, abs, link: e.isSymbolicLink() });
            else refused?.push({ path: rel, reason: `its name cannot be a note path: ${syntax.reason}` });
          } else if (temps && e.isFile() && isTempFileName(name)) temps.push(abs);
        }
      }
    });
    level = nextLevel;
  }
  return found;
}

// Stat calls run synchronously in slices: through the thread pool each costs a promise and
// two thread hops, three times the work for 38k files. A slice of 512 blocks the event
// loop for a few milliseconds at most, then yields.
const STAT_SLICE = 512;

/** The note at `f`, or why it is not one (a string), or null when it vanished meanwhile. */
function statNote(realRoot: string, f: Found): NoteFile | string | null {
  try {
    if (f.link) {
      let real: string;
      try {
        real = realpathSync(f.abs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') return 'a symbolic link loop';
        if (code === 'ENOENT' || code === 'ENOTDIR')
          return lstatSync(f.abs, { throwIfNoEntry: false }) ? 'a broken symbolic link' : null;
        throw err;
      }
      if (!isInside(realRoot, real)) return 'links outside the notes folder';
    }
    const st = statSync(f.abs, { throwIfNoEntry: false });
    if (!st) return null;
    if (!st.isFile()) return `${fileKind(st.mode)}, not a note file`;
    return { path: f.rel, absPath: f.abs, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  } catch (err) {
    return `unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * Of two files whose names differ only in Unicode form (possible on Linux, not on APFS), the
 * one spelled in NFC is the note, as read_note and the writers resolve a path (they try the NFC
 * spelling first): otherwise search could show one file's text and read_note the other's. Past
 * that, the disk spelling decides, so the choice never depends on readdir order.
 */
function twinOrder(a: NoteFile, b: NoteFile): number {
  const an = a.absPath.endsWith(a.path);
  const bn = b.absPath.endsWith(b.path);
  if (an !== bn) return an ? -1 : 1;
  return a.absPath < b.absPath ? -1 : a.absPath > b.absPath ? 1 : 0;
}

async function toNotes(
  realRoot: string,
  found: readonly Found[],
  twins?: NoteFile[],
  refused?: Refused[],
): Promise<NoteFile[]> {
  const notes: NoteFile[] = [];
  for (let i = 0; i < found.length; i++) {
    const f = found[i]!;
    const n = statNote(realRoot, f);
    if (typeof n === 'string') refused?.push({ path: f.rel, reason: n });
    else if (n) notes.push(n);
    if (i % STAT_SLICE === STAT_SLICE - 1) await yieldToLoop();
  }
  notes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : twinOrder(a, b)));
  const unique: NoteFile[] = [];
  for (const n of notes) {
    if (unique[unique.length - 1]?.path !== n.path) unique.push(n);
    else twins?.push(n);
  }
  return unique;
}

/**
 * Every note under `root`: Markdown files matching the include globs and not the excludes,
 * outside hidden folders, node_modules and skipDirs. Symlinked folders are not entered;
 * a symlinked note counts when its real path is a file inside the real root. Sorted by path;
 * when NFC and NFD spellings of one name both exist, the NFC one is kept (twinOrder) and the
 * others go in `cleanup.twins`, when given. Files named like notes that are not (a FIFO, a socket,
 * a link out of the root, a name no note path can spell) go in `cleanup.refused`, with why.
 */
export async function scanNotes(
  root: string,
  opts: ScanOptions,
  cleanup: { removeStrayTemps?: boolean; twins?: NoteFile[]; refused?: Refused[] } = {},
): Promise<NoteFile[]> {
  const realRoot = await realpath(root);
  const filter = await createNoteFilter(root, opts);
  const temps: string[] | undefined = cleanup.removeStrayTemps ? [] : undefined;
  const found = await walk({ abs: root, rel: '' }, filter, temps, cleanup.refused);
  const notes = await toNotes(realRoot, found, cleanup.twins, cleanup.refused);
  if (temps) await removeStrayTemps(temps);
  return notes;
}

/** Delete writeNote temp files old enough to be left over from a killed writer (best effort). */
async function removeStrayTemps(paths: readonly string[]): Promise<void> {
  const cutoff = Date.now() - STRAY_TEMP_AGE_MS;
  await eachLimit(paths, CONCURRENCY, async (p) => {
    try {
      if (writerIsGone(p) || (await stat(p)).mtimeMs < cutoff) await unlink(p);
    } catch {
      // Gone already, or not ours to delete: leave it.
    }
  });
}

/**
 * A temp file names its writer's pid (TEMP_PREFIX<pid>-<random>): when that process no longer
 * exists, the write it belonged to can never finish, so the file goes at once instead of
 * after STRAY_TEMP_AGE_MS. This process's own temps may be writes in progress: kept.
 */
function writerIsGone(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const m = /^\.notes-mcp-tmp-(\d+)-/.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** The notes under one folder of the root (`abs` as the disk spells it, `rel` its note path). */
export async function scanFolder(
  root: string,
  folder: { abs: string; rel: string },
  filter: NoteFilter,
): Promise<NoteFile[]> {
  if (folder.rel !== '' && filter.isSkippedDir(folder.rel)) return [];
  try {
    // A symlinked folder is never entered, whichever way it was found.
    if (!(await lstat(folder.abs)).isDirectory()) return [];
  } catch {
    return [];
  }
  const realRoot = await realpath(root);
  return toNotes(realRoot, await walk(folder, filter));
}
