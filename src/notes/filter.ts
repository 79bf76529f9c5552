import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import { isMarkdownName, nfc } from './paths.ts';
import { isTempFileName } from './temp.ts';

export interface ScanOptions {
  /** Globs over note paths (relative, '/'-separated); default `**\/*.md`, `**\/*.markdown`. */
  include: readonly string[];
  exclude: readonly string[];
  /** Folders never entered: absolute (e.g. the state folder) or relative to the root. */
  skipDirs?: readonly string[];
}

/** Folder names never entered, at any depth (besides every hidden '.name' folder). */
export const SKIPPED_DIR_NAMES: ReadonlySet<string> = new Set(['node_modules']);

export const DEFAULT_INCLUDE: readonly string[] = ['**/*.md', '**/*.markdown'];

/** What the scanner and the watcher agree is a note, and which folders they never enter. */
export interface NoteFilter {
  /** `rel` is a note path (NFC, '/'-separated) that matches the globs. */
  isNote(rel: string): boolean;
  /** The folder at `rel` (or any folder above it) is not descended. */
  isSkippedDir(rel: string): boolean;
  /** The watcher never looks at `rel` (file or folder): under a skipped folder, a hidden
   * folder or a temp file. Hidden names that are notes ("..md") are watched. */
  isIgnored(rel: string): boolean;
}

function toRel(root: string, p: string): string | null {
  const r = relative(root, p);
  if (r === '' || r.startsWith('..') || isAbsolute(r)) return null;
  return nfc(r.split(sep).join('/'));
}

/** Relative forms of skipDirs, through the root as given and through its real path. */
async function skippedRels(root: string, skipDirs: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  let realRoot = root;
  try {
    realRoot = await realpath(root);
  } catch {
    // A missing root has nothing to skip; the scan reports it.
  }
  for (const d of skipDirs) {
    if (!isAbsolute(d)) {
      const r = nfc(
        d
          .split(sep)
          .join('/')
          .replace(/^\.\/+|\/+$/g, ''),
      );
      if (r !== '') out.add(r);
      continue;
    }
    for (const base of [root, realRoot]) {
      const r = toRel(base, d);
      if (r) out.add(r);
    }
    try {
      const r = toRel(realRoot, await realpath(d));
      if (r) out.add(r);
    } catch {
      // Not created yet: the lexical forms above cover it.
    }
  }
  return out;
}

export async function createNoteFilter(root: string, opts: ScanOptions): Promise<NoteFilter> {
  const include = opts.include.length > 0 ? opts.include : DEFAULT_INCLUDE;
  // nocase: macOS volumes are case-insensitive, and "Note.MD" is a note there.
  // dot: a note may be named like a hidden file (tldr's page for `.` is "..md"); hidden
  // folders are pruned by isSkippedDir before any name is matched.
  const inc = picomatch([...include], { nocase: true, dot: true });
  const exc = opts.exclude.length > 0 ? picomatch([...opts.exclude], { nocase: true, dot: true }) : () => false;
  const skipped = await skippedRels(root, opts.skipDirs ?? []);
  const isSkippedDir = (rel: string): boolean => {
    let from = 0;
    for (;;) {
      const slash = rel.indexOf('/', from);
      const name = rel.slice(from, slash < 0 ? undefined : slash);
      if (name.startsWith('.') || SKIPPED_DIR_NAMES.has(name)) return true;
      if (skipped.has(slash < 0 ? rel : rel.slice(0, slash))) return true;
      if (slash < 0) return false;
      from = slash + 1;
    }
  };
  return {
    isNote(rel) {
      const name = rel.slice(rel.lastIndexOf('/') + 1);
      return isMarkdownName(name) && !isTempFileName(name) && inc(rel) && !exc(rel);
    },
    isSkippedDir,
    isIgnored(rel) {
      const slash = rel.lastIndexOf('/');
      if (slash >= 0 && isSkippedDir(rel.slice(0, slash))) return true;
      const name = rel.slice(slash + 1);
      if (name.startsWith('.')) return !isMarkdownName(name) || isTempFileName(name);
      return SKIPPED_DIR_NAMES.has(name) || skipped.has(rel);
    },
  };
}
