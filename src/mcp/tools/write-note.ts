import { z } from 'zod';
import { noteUri, writeNote } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { indexFields, indexNow, recorderFor } from './changes.ts';
import { defineTool } from './define.ts';

const WriteInput = withCachedJsonSchema(
  z.object({
    path: z
      .string()
      .min(1)
      .max(1024)
      .describe('Note path relative to the notes folder; ".md" is added when there is no extension.'),
    content: z.string().max(5_000_000).describe('Markdown text to write (or to append).'),
    mode: z
      .enum(['create', 'append', 'overwrite'])
      .default('create')
      .describe(
        '"create" fails if the note exists; "append" adds to the end (creating the note if needed); "overwrite" replaces it.',
      ),
    expected_hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional()
      .describe('The hash read_note returned: the write fails with a conflict if the note changed since.'),
  }),
);

const WriteOutput = withCachedJsonSchema(
  z.object({
    uri: z.string(),
    path: z.string(),
    hash: z.string(),
    bytes: z.number(),
    created: z.boolean(),
    indexed: z.boolean(),
    index_note: z
      .string()
      .optional()
      .describe('Why the note is not searchable yet, when indexed is false; the write itself is done.'),
  }),
  { id: 'write_note.output' },
);

export const writeNoteTool = defineTool({
  name: 'write_note',
  title: 'Write a note',
  description:
    'Create a Markdown note, append to one, or replace one. mode "create" (default) never overwrites: it fails ' +
    'if the note exists. Use "append" to add to a note, and "overwrite" only when the user asked to replace ' +
    'it; pass expected_hash (from read_note) so a note edited since you read it is not clobbered. Writes stay ' +
    'inside the notes folder, are atomic, and are searchable right after.',
  input: WriteInput,
  output: WriteOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(args, { deps, ctx, beginChange }) {
    const root = deps.config.notesDir;
    const rel = await resolveInput(deps.config, args.path, true);
    // The version replaced is kept (history) right before the file is.
    const rec = recorderFor(deps, ctx, 'write_note', beginChange);
    const w = await rec.run(() =>
      writeNote(root, rel, args.content, {
        mode: args.mode,
        ...(args.expected_hash === undefined ? {} : { expectedHash: args.expected_hash }),
        beforeWrite: async (c) => {
          await rec.before(c);
        },
      }),
    );
    // The note is written: from here on the call succeeds. Indexing it now makes it searchable
    // at once (the watcher would too); bounded so a long initial index cannot hold the call.
    const indexing = await indexNow(deps, [w.path]);
    const out: z.infer<typeof WriteOutput> = {
      uri: noteUri(w.path),
      path: w.path,
      hash: w.hash,
      bytes: w.bytes,
      created: w.created,
      ...indexFields(indexing),
    };
    return okResult(out);
  },
});
