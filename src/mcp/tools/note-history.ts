import { z } from 'zod';
import { type HistoryEntry, pageEntries } from '../../history/index.ts';
import { NotesError } from '../../errors.ts';
import { noteUri, readNote } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { historyOf } from './changes.ts';
import { defineTool } from './define.ts';

const HistoryInput = withCachedJsonSchema(
  z.object({
    path: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('Path (or note:// URI) of a note, deleted ones included; omit for recent changes to every note.'),
    limit: z.number().int().min(1).max(100).default(20),
    before: z.string().max(64).optional().describe('next_cursor from the previous page (an entry id).'),
  }),
);

const Entry = z.object({
  id: z.string(),
  at: z.string(),
  tool: z.string(),
  path: z.string(),
  to: z.string().optional(),
  before: z.string().nullable().describe('Hash of the text before the change (null: the note was created).'),
  after: z.string().nullable().describe('Hash after (null: deleted).'),
  who: z.object({
    transport: z.string(),
    token_id: z.string().optional(),
    token_name: z.string().optional(),
    user: z.string().optional(),
  }),
});

const HistoryOutput = withCachedJsonSchema(
  z.object({
    path: z.string().optional(),
    uri: z.string().optional(),
    current_hash: z.string().nullable().optional().describe('The note now (null: it does not exist).'),
    changed_outside: z
      .boolean()
      .optional()
      .describe('True when the note differs from what notes-mcp last left: edited in an editor, git, …'),
    changes: z.array(Entry),
    next_cursor: z.string().optional(),
  }),
  { id: 'note_history.output' },
);

export function entryOut(e: HistoryEntry): z.infer<typeof Entry> {
  const who: z.infer<typeof Entry>['who'] = { transport: e.who.transport };
  if (e.who.tokenId !== undefined) who.token_id = e.who.tokenId;
  if (e.who.tokenName !== undefined) who.token_name = e.who.tokenName;
  if (e.who.user !== undefined) who.user = e.who.user;
  const out: z.infer<typeof Entry> = {
    id: e.id,
    at: e.at,
    tool: e.tool,
    path: e.path,
    before: e.before,
    after: e.after,
    who,
  };
  if (e.to !== undefined) out.to = e.to;
  return out;
}

export const noteHistoryTool = defineTool({
  name: 'note_history',
  title: 'History of a note',
  description:
    'The changes notes-mcp made to a note (or to every note), newest first: when, which tool, who (token), and ' +
    'the hash before and after. Pass a hash to restore_note as "version" to go back to it. Edits made outside ' +
    'notes-mcp are not listed; changed_outside says whether there are some.',
  input: HistoryInput,
  output: HistoryOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { deps }) {
    const history = historyOf(deps);
    const page = (all: HistoryEntry[]) => {
      const p = pageEntries(all, args.before, args.limit);
      return { changes: p.page.map(entryOut), ...(p.next === undefined ? {} : { next_cursor: p.next }) };
    };
    if (args.path === undefined) return okResult(page(await history.recent(Number.MAX_SAFE_INTEGER)));
    const root = deps.config.notesDir;
    const rel = await resolveInput(deps.config, args.path, true);
    const versions = await history.versions(rel);
    let current: string | null = null;
    try {
      current = (await readNote(root, rel)).hash;
    } catch (err) {
      if (!(err instanceof NotesError && err.code === 'NOTES_E_NOTE_NOT_FOUND')) throw err;
    }
    const newest = versions[0];
    const left = newest === undefined ? undefined : newest.to !== undefined && newest.to !== rel ? null : newest.after;
    return okResult({
      path: rel,
      uri: noteUri(rel),
      current_hash: current,
      ...(left === undefined ? {} : { changed_outside: left !== current }),
      ...page(versions),
    });
  },
});
