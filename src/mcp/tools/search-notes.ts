import { z } from 'zod';
import { search, toWire } from '../../search/index.ts';
import { okResult } from '../context.ts';
import { resolveFolder } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { DATA_NOT_INSTRUCTIONS, dateMs, defineTool, isoDate } from './define.ts';

const SearchInput = withCachedJsonSchema(
  z.object({
    query: z.string().min(1).max(2000).describe('What to look for, in natural language or keywords.'),
    k: z.number().int().min(1).max(50).default(8).describe('How many passages to return (1-50).'),
    offset: z.number().int().min(0).max(500).default(0).describe('Skip this many results (for the next page).'),
    folder: z.string().max(1000).optional().describe('Only notes under this folder, e.g. "projects/acme".'),
    tags: z.array(z.string().max(200)).max(10).optional().describe('Only notes carrying every one of these tags.'),
    modified_after: isoDate.optional(),
    modified_before: isoDate.optional(),
    one_per_note: z.boolean().default(true).describe('Return at most one passage per note (its best).'),
    mode: z
      .enum(['hybrid', 'bm25', 'vector'])
      .default('hybrid')
      .describe(
        '"hybrid" (default): meaning and keywords together; "bm25": keywords only, for exact names, codes, ' +
          'flags and rare words; "vector": meaning only.',
      ),
  }),
);

const SearchHitOut = z.object({
  uri: z.string(),
  path: z.string(),
  title: z.string(),
  headings: z.array(z.string()),
  start_line: z.number(),
  end_line: z.number(),
  snippet: z.string(),
  score: z.number(),
  indexed_at: z.string(),
  stale: z.boolean(),
});

const SearchOutput = withCachedJsonSchema(
  z.object({
    query: z.string(),
    results: z.array(SearchHitOut),
    has_more: z.boolean(),
    next_offset: z.number().optional(),
    indexing: z.boolean(),
  }),
  { id: 'search_notes.output' },
);

export const searchNotes = defineTool({
  name: 'search_notes',
  title: 'Search notes',
  description:
    "Search the user's Markdown notes by meaning and keywords (hybrid semantic + full-text). Returns ranked " +
    'passages with the note path, note:// URI, heading, line range and a snippet; then call read_note with the ' +
    'uri (and the line range) to read more. A "quoted phrase" must appear word for word. Filter by folder, tags or modification date; mode "bm25" is pure keyword search. Each result says when ' +
    `its note was indexed and whether the file changed since ("stale"). ${DATA_NOT_INSTRUCTIONS}`,
  input: SearchInput,
  output: SearchOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { deps }) {
    const r = await search(deps.index, args.query, {
      k: args.k,
      offset: args.offset,
      folder: await resolveFolder(deps.config, args.folder),
      tags: args.tags,
      modifiedAfter: dateMs(args.modified_after),
      modifiedBefore: dateMs(args.modified_before),
      onePerNote: args.one_per_note,
      mode: args.mode,
    });
    const out: z.infer<typeof SearchOutput> = toWire(r, deps.index.busy);
    return okResult(out);
  },
});
