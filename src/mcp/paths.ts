import { lstat, realpath } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Config } from '../config/index.ts';
import { NotesError } from '../errors.ts';
import { createNoteFilter, isInside, type NoteFilter, parseNoteUri, resolveNotePath } from '../notes/index.ts';

/** Where notes live, and what is never a note there (the state folder, the scan's filters). */
export type NotesPlace = Pick<Config, 'notesDir' | 'stateDir' | 'include' | 'exclude'>;

const filters = new WeakMap<NotesPlace, Promise<NoteFilter>>();

function filterOf(place: NotesPlace): Promise<NoteFilter> {
  let f = filters.get(place);
  if (!f) {
    f = createNoteFilter(place.notesDir, {
      include: place.include,
      exclude: place.exclude,
      skipDirs: [place.stateDir],
    });
    filters.set(place, f);
  }
  return f;
}

async function realOrNull(p: string): Promise<string | null> {
  try {
    return await realpath(p);
  } catch {
    return null;
  }
}

/**
 * The path resolves into the state folder (which may sit inside the notes folder): tokens,
 * history, trash and index files are never read or written as notes, whatever the path says.
 */
async function inStateFolder(place: NotesPlace, abs: string): Promise<boolean> {
  const state = await realOrNull(place.stateDir);
  if (state === null) return false;
  let p = abs;
  let real = await realOrNull(p);
  while (real === null && dirname(p) !== p) {
    p = dirname(p);
    real = await realOrNull(p);
  }
  return real !== null && (real === state || isInside(state, real));
}

/**
 * A note path from a tool argument or resource URI, checked against the notes root (after
 * symlinks). URIs are decoded exactly once; plain paths are taken literally. Never a path in
 * the state folder; for writes, only a path the scanner indexes (not node_modules, not one the
 * include/exclude globs leave out): a note written there would vanish from the index.
 */
export async function resolveInput(place: NotesPlace, input: string, forWrite: boolean): Promise<string> {
  let candidate = input;
  // Only note:// is a URI: "note: ideas.md" and "note:2026.md" are file names at the top.
  if (/^note:\/\//i.test(input)) {
    const parsed = parseNoteUri(input);
    if (parsed === null)
      throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(input), 'not a valid note:// URI']);
    candidate = parsed;
  }
  const r = await resolveNotePath(place.notesDir, candidate, { forWrite });
  if (!r.ok) {
    if (r.code === 'NOTES_E_PATH_OUTSIDE') throw new NotesError('NOTES_E_PATH_OUTSIDE', [JSON.stringify(input)]);
    throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(input), r.reason]);
  }
  if (await inStateFolder(place, r.abs)) {
    throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(input), "it is inside notes-mcp's state folder"]);
  }
  if (forWrite) {
    const filter = await filterOf(place);
    const slash = r.rel.lastIndexOf('/');
    if (!filter.isNote(r.rel) || (slash >= 0 && filter.isSkippedDir(r.rel.slice(0, slash)))) {
      throw new NotesError('NOTES_E_PATH_INVALID', [
        JSON.stringify(input),
        'notes-mcp does not index notes there (node_modules, or left out by the include/exclude settings): choose another folder',
      ]);
    }
  }
  return r.rel;
}

/**
 * A folder filter as the index spells it: a folder reached through a symlink inside the notes
 * folder is where its notes are indexed (note tools already follow such links; listing
 * `linkdir` returned nothing while read_note("linkdir/x.md") worked). A folder that does not
 * exist, or resolves into the state folder, is kept as given and matches nothing; one that
 * resolves outside the notes folder is refused. '' is the whole notes folder.
 */
export async function resolveFolder(place: NotesPlace, folder: string | undefined): Promise<string | undefined> {
  if (folder === undefined) return undefined;
  const f = folder.normalize('NFC').replace(/^\/+|\/+$/g, '');
  if (f === '') return f;
  const root = await realOrNull(place.notesDir);
  const real = root === null ? null : await realOrNull(join(place.notesDir, f));
  if (root === null || real === null) return f;
  // A folder out of the notes folder ('..', a link out) is a mistake worth naming, not an
  // empty answer.
  if (!(real === root || isInside(root, real))) throw new NotesError('NOTES_E_PATH_OUTSIDE', [JSON.stringify(folder)]);
  if (await inStateFolder(place, real)) return f;
  return relative(root, real).split(sep).join('/').normalize('NFC');
}

/** What a title lookup needs of the index. */
export interface NameResolver {
  resolveName(
    name: string,
    from?: string,
    filesOnly?: boolean,
  ): { status: 'resolved'; path: string } | { status: 'ambiguous'; candidates: string[] } | { status: 'unresolved' };
}

async function noteExists(root: string, rel: string): Promise<boolean> {
  const r = await resolveNotePath(root, rel);
  if (!r.ok) return false;
  return lstat(r.abs).then(
    () => true,
    () => false,
  );
}

/**
 * An existing note named by path or note:// URI, or else by file name, title or alias the way
 * Obsidian resolves them (shortest unique path; a name ending in .md by file name only);
 * several notes with that name are an error listing them. A path refused as outside the
 * notes folder is never looked up as a name; the name
 * found is a note path from the index, read through the same path checks as any other.
 */
export async function resolveNoteRef(place: NotesPlace, index: NameResolver, input: string): Promise<string> {
  const root = place.notesDir;
  let rel: string | undefined;
  let refused: unknown;
  try {
    rel = await resolveInput(place, input, false);
    if (await noteExists(root, rel)) return rel;
  } catch (err) {
    if (!(err instanceof NotesError) || err.code === 'NOTES_E_PATH_OUTSIDE') throw err;
    refused = err;
  }
  let name = input;
  // Only note:// is a URI: "note: ideas.md" and "note:2026.md" are file names at the top.
  if (/^note:\/\//i.test(input)) {
    try {
      name = decodeURIComponent(input.replace(/^note:\/\//i, ''));
    } catch {
      if (refused) throw refused;
    }
  }
  // A name spelled as a file (`Old.md`) means a file: when that path is gone, a note whose
  // title or alias is "Old" is some other note, not the one asked for.
  const r = index.resolveName(name, undefined, /\.(?:md|markdown)$/i.test(name.trim()));
  if (r.status === 'resolved') return r.path;
  if (r.status === 'ambiguous') {
    throw new NotesError('NOTES_E_NAME_AMBIGUOUS', [JSON.stringify(name), r.candidates.join(', ')]);
  }
  if (refused) throw refused;
  throw new NotesError('NOTES_E_NOTE_NOT_FOUND', [rel ?? input]);
}
