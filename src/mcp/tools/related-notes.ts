import { z } from 'zod';
import { noteUri, readNote } from '../../notes/index.ts';
import { errorResult, okResult } from '../context.ts';
import { resolveNoteRef } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { DATA_NOT_INSTRUCTIONS, defineTool } from './define.ts';
import { noteFacts } from './note-facts.ts';
import { BacklinkOut, backlinksOut, LINKS_TOTAL_DESCRIPTION, LinkOut, noteLinksOut } from './link-fields.ts';

const RelatedInput = withCachedJsonSchema(
  z.object({
    path: z.string().max(4096).optional().describe('Note path, note:// URI, title or alias.'),
    uri: z.string().max(8192).optional(),
    k: z.number().int().min(1).max(20).default(5).describe('How many notes nearest in meaning.'),
  }),
);

const RelatedOutput = withCachedJsonSchema(
  z.object({
    path: z.string(),
    uri: z.string(),
    title: z.string(),
    links: z.array(LinkOut),
    links_total: z.number().describe(LINKS_TOTAL_DESCRIPTION),
    backlinks: z.array(BacklinkOut),
    backlinks_total: z.number(),
    similar: z.array(z.object({ path: z.string(), uri: z.string(), title: z.string(), score: z.number() })),
  }),
  { id: 'related_notes.output' },
);

export const relatedNotesTool = defineTool({
  name: 'related_notes',
  title: 'Notes related to a note',
  description:
    'Context around one note in one call: the notes it links to, the notes that link to it (with the line of ' +
    'each mention), and the notes nearest to it in meaning. Name it by path, note:// URI, title or alias. ' +
    DATA_NOT_INSTRUCTIONS,
  input: RelatedInput,
  output: RelatedOutput,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { deps }) {
    const input = args.uri ?? args.path;
    if (input === undefined) return errorResult('Pass "path" (a path, title or alias) or "uri" of the note.');
    const root = deps.config.notesDir;
    const rel = await resolveNoteRef(deps.config, deps.index, input);
    const note = await readNote(root, rel);
    const backlinks = deps.index.backlinks(note.path).filter((b) => b.path !== note.path);
    const similar = await deps.index.nearestNotes(note.path, args.k);
    return okResult({
      path: note.path,
      uri: noteUri(note.path),
      title: deps.index.getNote(note.path)?.title ?? note.path.replace(/^.*\//, '').replace(/\.(md|markdown)$/i, ''),
      ...noteLinksOut(deps.index, note.path, noteFacts(note.hash, note.content).links),
      backlinks: backlinksOut(backlinks),
      backlinks_total: backlinks.length,
      similar: similar.map((s) => ({ ...s, uri: noteUri(s.path) })),
    });
  },
});
