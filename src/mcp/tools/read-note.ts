import { z } from 'zod';
import { noteUri, pageLines, readNote } from '../../notes/index.ts';
import { errorResult, okResult } from '../context.ts';
import { resolveNoteRef } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { DATA_NOT_INSTRUCTIONS, defineTool } from './define.ts';
import { noteFacts } from './note-facts.ts';
import { BacklinkOut, backlinksOut, LINKS_TOTAL_DESCRIPTION, LinkOut, noteLinksOut } from './link-fields.ts';

/** Largest slice of a note read_note returns in one call; longer notes are paged by line. */
export const READ_LIMIT_CHARS = 100_000;

const ReadInput = withCachedJsonSchema(
  z.object({
    path: z
      .string()
      .max(4096)
      .optional()
      .describe(
        'Note path relative to the notes folder, e.g. "ideas/garden.md", or a note title or alias (a name ending in .md is a file name only).',
      ),
    uri: z.string().max(8192).optional().describe('A note:// URI as returned by search_notes or list_notes.'),
    start_line: z.number().int().min(1).optional().describe('First line to return (1-based).'),
    end_line: z.number().int().min(1).optional().describe('Last line to return (inclusive).'),
    start_char: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        'Where to start inside start_line (1-based): the next_start_char of a page that ended inside a long line.',
      ),
  }),
);

const ReadOutput = withCachedJsonSchema(
  z.object({
    uri: z.string(),
    path: z.string(),
    title: z.string(),
    front_matter: z.record(z.string(), z.unknown()),
    tags: z.array(z.string()),
    content: z.string(),
    start_line: z.number(),
    end_line: z.number(),
    total_lines: z.number(),
    truncated: z.boolean(),
    next_start_line: z.number().optional(),
    next_start_char: z
      .number()
      .optional()
      .describe('The page ended inside line next_start_line (longer than a page): pass it as start_char.'),
    hash: z.string(),
    size: z.number(),
    modified_at: z.string(),
    links: z.array(LinkOut).optional().describe("The note's links, resolved to notes (or unresolved, ambiguous)."),
    links_total: z.number().optional().describe(LINKS_TOTAL_DESCRIPTION),
    backlinks: z.array(BacklinkOut).optional().describe('Notes that link here, with the line of each mention.'),
    backlinks_total: z.number().optional(),
  }),
  { id: 'read_note.output' },
);

export const readNoteTool = defineTool({
  name: 'read_note',
  title: 'Read a note',
  description:
    'Read one Markdown note (or a line range of it) by path, note:// URI, title or alias, with its front matter, ' +
    'tags, links, backlinks and content hash (pass the hash to write_note as expected_hash to avoid overwriting newer edits). Long notes ' +
    `come back in pages: when "truncated" is true, call again with start_line = next_start_line (and start_char = next_start_char when given). ${DATA_NOT_INSTRUCTIONS}`,
  input: ReadInput,
  output: ReadOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { deps }) {
    const root = deps.config.notesDir;
    const input = args.uri ?? args.path;
    if (input === undefined) return errorResult('Pass either "path" or "uri" of the note to read.');
    const rel = await resolveNoteRef(deps.config, deps.index, input);
    const note = await readNote(root, rel);
    const paged = pageLines(note.content, {
      startLine: args.start_line,
      endLine: args.end_line,
      startChar: args.start_char,
      maxChars: READ_LIMIT_CHARS,
    });
    if (!paged.ok) return errorResult(paged.reason);
    const { page } = paged;
    const facts = noteFacts(note.hash, note.content);
    const fm = facts.meta;
    const indexed = deps.index.getNote(note.path);
    const out: z.infer<typeof ReadOutput> = {
      uri: noteUri(note.path),
      path: note.path,
      title: fm.title ?? indexed?.title ?? note.path.replace(/^.*\//, '').replace(/\.(md|markdown)$/i, ''),
      front_matter: fm.data,
      tags: indexed?.tags ?? fm.tags,
      content: page.content,
      start_line: page.startLine,
      end_line: page.endLine,
      total_lines: page.totalLines,
      truncated: page.truncated,
      hash: note.hash,
      size: note.size,
      modified_at: new Date(note.mtimeMs).toISOString(),
    };
    if (page.nextStartLine !== undefined) out.next_start_line = page.nextStartLine;
    if (page.nextStartChar !== undefined) out.next_start_char = page.nextStartChar;
    // Links of the whole note as it is on disk now; backlinks as indexed.
    const links = noteLinksOut(deps.index, note.path, facts.links);
    out.links = links.links;
    out.links_total = links.links_total;
    const backlinks = deps.index.backlinks(note.path).filter((b) => b.path !== note.path);
    out.backlinks = backlinksOut(backlinks);
    out.backlinks_total = backlinks.length;
    return okResult(out);
  },
});
