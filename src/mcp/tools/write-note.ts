import { z } from 'zod';
import { noteUri, writeNote } from '../../notes/index.ts';
import { NotesError } from '../../errors.ts';
import { type McpDeps, okResult } from '../context.ts';
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
  async run(args, { deps, beginChange }) {
    const root = deps.config.notesDir;
    const rel = await resolveInput(root, args.path, true);
    const w = await writeNote(root, rel, args.content, {
      mode: args.mode,
      ...(args.expected_hash === undefined ? {} : { expectedHash: args.expected_hash }),
      beforeWrite: beginChange,
    });
    // The note is written: from here on the call succeeds. Indexing it now makes it searchable
    // at once (the watcher would too); bounded so a long initial index cannot hold the call.
    const indexing = await indexNow(deps, w.path);
    const out: z.infer<typeof WriteOutput> = {
      uri: noteUri(w.path),
      path: w.path,
      hash: w.hash,
      bytes: w.bytes,
      created: w.created,
      indexed: indexing.ok,
    };
    if (!indexing.ok) out.index_note = indexing.note;
    return okResult(out);
  },
});

const INDEX_WAIT_MS = 3_000;
const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

/**
 * Index a note the daemon just wrote. A failure is never the write's failure: it is reported
 * as `indexed: false` with the reason, and indexing is retried in the background.
 */
async function indexNow(deps: McpDeps, path: string): Promise<{ ok: true } | { ok: false; note: string }> {
  const job = deps.index.refresh([path]);
  try {
    const done = await withDeadline(job, INDEX_WAIT_MS);
    if (done !== undefined) return { ok: true };
    job.catch(() => retryIndex(deps, path, 0));
    return { ok: false, note: 'indexing is busy; the note will be searchable within seconds' };
  } catch (err) {
    deps.log.warn({ err, note_path: path }, 'indexing a written note failed; retrying');
    retryIndex(deps, path, 0);
    const code = err instanceof NotesError ? err.code : 'NOTES_E_INTERNAL';
    return { ok: false, note: `indexing failed (${code}); it is retried in the background` };
  }
}

function retryIndex(deps: McpDeps, path: string, attempt: number): void {
  const delay = RETRY_DELAYS_MS[attempt];
  if (delay === undefined) return;
  setTimeout(() => {
    deps.index.refresh([path]).catch((err: unknown) => {
      if (err instanceof NotesError && err.code === 'NOTES_E_SHUTTING_DOWN') return;
      deps.log.warn({ err, note_path: path, attempt: attempt + 1 }, 'indexing a written note failed again');
      retryIndex(deps, path, attempt + 1);
    });
  }, delay).unref();
}
