import { z } from 'zod';
import { restoreNote } from '../../history/index.ts';
import { noteUri } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { HashInput, historyOf, indexFields, indexNow, recorderFor } from './changes.ts';
import { defineTool } from './define.ts';

const RestoreInput = withCachedJsonSchema(
  z.object({
    path: z.string().min(1).max(4096).describe('Path (or note:// URI) of the note, as note_history shows it.'),
    version: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe('A hash from note_history ("before" or "after"); default: undo the last change notes-mcp made.'),
    expected_hash: HashInput.optional().describe(
      "The note's current hash: needed when it changed outside notes-mcp since (so such edits are never lost unasked).",
    ),
  }),
);

const RestoreOutput = withCachedJsonSchema(
  z.object({
    path: z.string(),
    uri: z.string(),
    hash: z.string(),
    how: z.enum(['version', 'trash', 'move', 'unchanged']),
    undid: z.string().optional().describe('id of the change undone (from note_history).'),
    moved_from: z.string().optional(),
    links_restored: z
      .array(z.object({ path: z.string(), hash: z.string() }))
      .optional()
      .describe('For a move undone: notes whose links the move had rewritten, put back as they were.'),
    links_not_restored: z
      .array(z.object({ path: z.string(), reason: z.string() }))
      .optional()
      .describe('For a move undone: notes whose links were left as they are (changed since): edit them by hand.'),
    indexed: z.boolean(),
    index_note: z.string().optional(),
  }),
  { id: 'restore_note.output' },
);

export const restoreNoteTool = defineTool({
  name: 'restore_note',
  title: 'Restore a note',
  description:
    'Undo a change notes-mcp made to a note: bring back a deleted note, undo a move (with the links it ' +
    'rewrote), or put back an earlier ' +
    'version (a hash from note_history). Without "version" it undoes the last change. The restore is itself ' +
    'recorded, so it can be undone too. A note changed outside notes-mcp since is only replaced with expected_hash.',
  input: RestoreInput,
  output: RestoreOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(args, { deps, ctx, beginChange }) {
    const root = deps.config.notesDir;
    const rel = await resolveInput(deps.config, args.path, true);
    const rec = recorderFor(deps, ctx, 'restore_note', beginChange);
    const r = await restoreNote(
      root,
      historyOf(deps),
      { path: rel, version: args.version, expectedHash: args.expected_hash },
      rec,
    );
    const indexing =
      r.how === 'unchanged'
        ? { ok: true as const }
        : await indexNow(deps, [
            r.path,
            ...(r.movedFrom ? [r.movedFrom] : []),
            ...(r.linksRestored ?? []).map((l) => l.path),
          ]);
    const out: z.infer<typeof RestoreOutput> = {
      path: r.path,
      uri: noteUri(r.path),
      hash: r.hash,
      how: r.how,
      ...indexFields(indexing),
    };
    if (r.undid) out.undid = r.undid;
    if (r.movedFrom) out.moved_from = r.movedFrom;
    if (r.linksRestored) out.links_restored = r.linksRestored;
    if (r.linksNotRestored) out.links_not_restored = r.linksNotRestored;
    return okResult(out);
  },
});
