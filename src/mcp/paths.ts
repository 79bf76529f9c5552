import { lstat } from 'node:fs/promises';
import { NotesError } from '../errors.ts';
import { parseNoteUri, resolveNotePath } from '../notes/index.ts';

/**
 * A note path from a tool argument or resource URI, checked against the notes root (after
 * symlinks). URIs are decoded exactly once; plain paths are taken literally.
 */
export async function resolveInput(root: string, input: string, forWrite: boolean): Promise<string> {
  let candidate = input;
  if (/^note:/i.test(input)) {
    const parsed = parseNoteUri(input);
    if (parsed === null)
      throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(input), 'not a valid note:// URI']);
    candidate = parsed;
  }
  const r = await resolveNotePath(root, candidate, { forWrite });
  if (!r.ok) {
    if (r.code === 'NOTES_E_PATH_OUTSIDE') throw new NotesError('NOTES_E_PATH_OUTSIDE', [JSON.stringify(input)]);
    throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(input), r.reason]);
  }
  return r.rel;
}

/** What a title lookup needs of the index. */
export interface NameResolver {
  resolveName(
    name: string,
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
 * An existing note named by path or note:// URI, or else by title or alias the way Obsidian
 * resolves them (shortest unique path); several notes with that name are an error listing
 * them. A path refused as outside the notes folder is never looked up as a name; the name
 * found is a note path from the index, read through the same path checks as any other.
 */
export async function resolveNoteRef(root: string, index: NameResolver, input: string): Promise<string> {
  let rel: string | undefined;
  let refused: unknown;
  try {
    rel = await resolveInput(root, input, false);
    if (await noteExists(root, rel)) return rel;
  } catch (err) {
    if (!(err instanceof NotesError) || err.code === 'NOTES_E_PATH_OUTSIDE') throw err;
    refused = err;
  }
  let name = input;
  if (/^note:/i.test(input)) {
    try {
      name = decodeURIComponent(input.replace(/^note:\/\//i, ''));
    } catch {
      if (refused) throw refused;
    }
  }
  const r = index.resolveName(name);
  if (r.status === 'resolved') return r.path;
  if (r.status === 'ambiguous') {
    throw new NotesError('NOTES_E_NAME_AMBIGUOUS', [JSON.stringify(name), r.candidates.join(', ')]);
  }
  if (refused) throw refused;
  throw new NotesError('NOTES_E_NOTE_NOT_FOUND', [rel ?? input]);
}
