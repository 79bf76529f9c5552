import { z } from 'zod';
import { noteUri, trashNote } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { HashInput, historyOf, indexFields, indexNow, recorderFor } from './changes.ts';
import { defineTool } from './define.ts';

const DeleteInput = withCachedJsonSchema(
  z.object({
    path: z.string().min(1).max(4096).describe('Path (or note:// URI) of the note to delete.'),
    expected_hash: HashInput.optional(),
  }),
);

const DeleteOutput = withCachedJsonSchema(
  z.object({
    path: z.string(),
    uri: z.string(),
    hash: z.string().describe('Hash of the deleted text (restore_note brings it back).'),
    backlinks: z.number().describe('Mentions in other notes that now point at nothing.'),
    indexed: z.boolean(),
    index_note: z.string().optional(),
  }),
  { id: 'delete_note.output' },
);

export const deleteNoteTool = defineTool({
  name: 'delete_note',
  title: 'Delete a note',
  description:
    "Delete a note: it is moved to notes-mcp's trash (never erased) and restore_note brings it back. Only when the " +
    'user asked for it; pass expected_hash from read_note so a note edited since is not deleted.',
  input: DeleteInput,
  output: DeleteOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(args, { deps, ctx, beginChange }) {
    const root = deps.config.notesDir;
    const rel = await resolveInput(deps.config, args.path, false);
    const history = historyOf(deps);
    const rec = recorderFor(deps, ctx, 'delete_note', beginChange);
    const backlinks = deps.index.backlinks(rel).filter((b) => b.path !== rel).length;
    const t = await rec.run(() => {
      // An id per attempt: a retried attempt must not share the id its aborted one had.
      const id = history.newId();
      const trash = `${id}.md`;
      return trashNote(root, rel, history.trashFile(trash), {
        expectedHash: args.expected_hash,
        beforeTrash: async (c) => {
          await rec.before({ id, path: c.path, before: c.bytes, after: null, trash });
        },
      });
    });
    const indexing = await indexNow(deps, [t.path]);
    return okResult({ path: t.path, uri: noteUri(t.path), hash: t.hash, backlinks, ...indexFields(indexing) });
  },
});
