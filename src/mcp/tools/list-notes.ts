import { z } from 'zod';
import { noteUri } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveFolder } from '../paths.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { dateMs, defineTool, isoDate } from './define.ts';

const ListInput = withCachedJsonSchema(
  z.object({
    folder: z.string().max(1000).optional().describe('Only notes under this folder.'),
    tag: z.string().max(200).optional().describe('Only notes with this tag.'),
    modified_after: isoDate.optional(),
    limit: z.number().int().min(1).max(500).default(100),
    cursor: z.string().max(4096).optional().describe('next_cursor from the previous page.'),
  }),
);

const ListOutput = withCachedJsonSchema(
  z.object({
    notes: z.array(
      z.object({
        uri: z.string(),
        path: z.string(),
        title: z.string(),
        tags: z.array(z.string()),
        modified_at: z.string(),
        size: z.number(),
      }),
    ),
    total: z.number(),
    next_cursor: z.string().optional(),
  }),
  { id: 'list_notes.output' },
);

export const listNotes = defineTool({
  name: 'list_notes',
  title: 'List notes',
  description:
    'List notes with their titles, tags and modification times, sorted by path and paginated: pass next_cursor ' +
    'to get the next page. Filter by folder, tag or modification date.',
  input: ListInput,
  output: ListOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { deps }) {
    const filter = {
      folder: await resolveFolder(deps.config, args.folder),
      tags: args.tag ? [args.tag] : undefined,
      modifiedAfter: dateMs(args.modified_after),
    };
    const after = args.cursor ? decodeCursor(args.cursor) : undefined;
    const page = deps.index.listNotes(filter, { after, limit: args.limit + 1 });
    const more = page.length > args.limit;
    const notes = page.slice(0, args.limit);
    const out: z.infer<typeof ListOutput> = {
      notes: notes.map((n) => ({
        uri: noteUri(n.path),
        path: n.path,
        title: n.title,
        tags: n.tags,
        modified_at: new Date(n.mtimeMs).toISOString(),
        size: n.size,
      })),
      total: deps.index.countNotes(filter),
    };
    const last = notes[notes.length - 1];
    if (more && last) out.next_cursor = encodeCursor(last.path);
    return okResult(out);
  },
});
