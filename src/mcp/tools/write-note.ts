import { z } from 'zod';
import { noteUri, writeNote } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { defineTool, withDeadline } from './define.ts';

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
  async run(args, { deps }) {
    const root = deps.config.notesDir;
    const rel = await resolveInput(root, args.path, true);
    const opts =
      args.expected_hash === undefined ? { mode: args.mode } : { mode: args.mode, expectedHash: args.expected_hash };
    const w = await writeNote(root, rel, args.content, opts);
    // The watcher will also see the file; indexing it now makes it searchable at once.
    // Bounded so a long initial index cannot hold the call past its timeout.
    const indexed = (await withDeadline(deps.index.refresh([w.path]), 3_000)) !== undefined;
    return okResult({
      uri: noteUri(w.path),
      path: w.path,
      hash: w.hash,
      bytes: w.bytes,
      created: w.created,
      indexed,
    });
  },
});
