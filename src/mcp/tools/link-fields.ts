import { z } from 'zod';
import { MAX_LINKS_PER_NOTE, type NoteLink } from '../../chunk/index.ts';
import type { Backlink, NotesIndex, ResolvedLink } from '../../index/index.ts';
import { noteUri } from '../../notes/index.ts';

// How links appear in read_note and related_notes: outgoing links resolved to notes (or marked
// unresolved or ambiguous), and backlinks with the line of each mention. Both are bounded.

export const MAX_LINKS_SHOWN = 200;

export const LinkOut = z.object({
  target: z.string().describe('As written in the note.'),
  kind: z.enum(['wiki', 'markdown']),
  line: z.number(),
  status: z.enum(['resolved', 'unresolved', 'ambiguous']),
  path: z.string().optional(),
  uri: z.string().optional(),
  heading: z.string().optional(),
  alias: z.string().optional(),
  embed: z.boolean().optional(),
  candidates: z.array(z.string()).optional().describe('Notes an ambiguous link may mean.'),
});

export const BacklinkOut = z.object({
  path: z.string(),
  uri: z.string(),
  line: z.number(),
  kind: z.enum(['wiki', 'markdown']),
});

export function linksOut(links: readonly ResolvedLink[]): Array<z.infer<typeof LinkOut>> {
  return links.slice(0, MAX_LINKS_SHOWN).map((l) => {
    const o: z.infer<typeof LinkOut> = { target: l.target, kind: l.kind, line: l.line, status: l.resolution.status };
    if (l.resolution.status === 'resolved') {
      o.path = l.resolution.path;
      o.uri = noteUri(l.resolution.path);
    }
    if (l.resolution.status === 'ambiguous') o.candidates = l.resolution.candidates;
    if (l.heading) o.heading = l.heading;
    if (l.alias) o.alias = l.alias;
    if (l.embed) o.embed = true;
    return o;
  });
}

/**
 * A note's links (from its text as it is now), the first MAX_LINKS_SHOWN resolved. Only those
 * are resolved: each is a lookup, and a note may hold thousands.
 */
export function noteLinksOut(
  index: NotesIndex,
  path: string,
  all: readonly NoteLink[],
): { links: Array<z.infer<typeof LinkOut>>; links_total: number } {
  return { links: linksOut(index.outgoingLinks(path, all.slice(0, MAX_LINKS_SHOWN))), links_total: all.length };
}

export const LINKS_TOTAL_DESCRIPTION = `How many links the note holds (counting stops at ${MAX_LINKS_PER_NOTE}).`;

export function backlinksOut(links: readonly Backlink[]): Array<z.infer<typeof BacklinkOut>> {
  return links
    .slice(0, MAX_LINKS_SHOWN)
    .map((b) => ({ path: b.path, uri: noteUri(b.path), line: b.line, kind: b.kind }));
}
