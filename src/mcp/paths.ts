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
