import { z } from 'zod';
import { extractLinks, nameKeyOfPath, type NoteLink, relativeHref } from '../../chunk/index.ts';
import { NotesError } from '../../errors.ts';
import type { NotesIndex } from '../../index/index.ts';
import { moveNote, noteUri, readNote, writeNote } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { HashInput, indexFields, indexNow, recorderFor } from './changes.ts';
import { defineTool } from './define.ts';

/** Linking notes rewritten at once after a move. */
const REWRITES_AT_ONCE = 8;

const MoveInput = withCachedJsonSchema(
  z.object({
    from: z.string().min(1).max(4096).describe('Path (or note:// URI) of the note to move.'),
    to: z
      .string()
      .min(1)
      .max(1024)
      .describe('New path relative to the notes folder; ".md" is added when there is no extension.'),
    expected_hash: HashInput.optional(),
    update_links: z
      .boolean()
      .default(true)
      .describe('Rewrite [[wikilinks]] and relative Markdown links that point at the note (default true).'),
  }),
);

const MoveOutput = withCachedJsonSchema(
  z.object({
    from: z.string(),
    to: z.string(),
    uri: z.string(),
    hash: z.string(),
    links_updated: z
      .array(z.object({ path: z.string(), links: z.number(), hash: z.string() }))
      .describe('Notes whose links were rewritten to the new path.'),
    links_not_updated: z
      .array(z.object({ path: z.string(), reason: z.string() }))
      .describe('Notes that link to it but could not be rewritten (changed meanwhile): edit them by hand.'),
    indexed: z.boolean(),
    index_note: z.string().optional(),
  }),
  { id: 'move_note.output' },
);

interface Plan {
  /** The note's path before the move (the moved note's plan is applied at its new path). */
  path: string;
  hash: string;
  text: string;
  edits: Array<{ start: number; end: number; text: string }>;
}

function stripMd(p: string): string {
  return p.replace(/\.(md|markdown)$/i, '');
}

/** How a wikilink to the moved note is written now: its name if that is unique, else its path. */
function wikiTarget(index: NotesIndex, from: string, to: string, written: string): string {
  const keepExt = /\.(md|markdown)$/i.test(written);
  const base = to.slice(to.lastIndexOf('/') + 1);
  const name = keepExt ? base : stripMd(base);
  if (written.includes('/')) return keepExt ? to : stripMd(to);
  const r = index.resolveName(stripMd(base));
  const unique = r.status === 'unresolved' || (r.status === 'resolved' && r.path === from);
  return unique ? name : keepExt ? to : stripMd(to);
}

function hrefFor(fromNote: string, target: string, bracketed: boolean): string {
  const href = relativeHref(fromNote, target);
  return bracketed ? decodeURIComponent(href) : href;
}

/** The link rewrites a note needs when `from` becomes `to` (`moved`: this is that note). */
function planLinks(index: NotesIndex, source: string, text: string, from: string, to: string, moved: boolean): Plan {
  const edits: Plan['edits'] = [];
  const newSource = moved ? to : source;
  for (const l of extractLinks(text) as NoteLink[]) {
    const r = index.resolveLink(source, l);
    if (r.status !== 'resolved') continue;
    const written = text.slice(l.targetStart, l.targetEnd);
    const bracketed = text[l.targetStart - 1] === '<';
    let next: string | undefined;
    // A wikilink by title or alias still finds the note after the move: left as written.
    if (r.path === from && l.kind === 'wiki' && nameKeyOfPath(l.target) !== nameKeyOfPath(from)) continue;
    if (r.path === from)
      next = l.kind === 'wiki' ? wikiTarget(index, from, to, written) : hrefFor(newSource, to, bracketed);
    else if (moved && l.kind === 'markdown') next = hrefFor(newSource, r.path, bracketed);
    if (next !== undefined && next !== written) edits.push({ start: l.targetStart, end: l.targetEnd, text: next });
  }
  return { path: source, hash: '', text, edits };
}

function applyPlan(p: Plan): string {
  let out = '';
  let at = 0;
  for (const e of p.edits) {
    out += p.text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + p.text.slice(at);
}

export const moveNoteTool = defineTool({
  name: 'move_note',
  title: 'Move or rename a note',
  description:
    'Rename a note or move it to another folder inside the notes folder. Never overwrites: fails if a note ' +
    'exists at "to". By default rewrites the [[wikilinks]] and relative Markdown links that point at it (and the ' +
    "moved note's own relative links), listing the notes it edited. Pass expected_hash from read_note. " +
    'restore_note undoes it.',
  input: MoveInput,
  output: MoveOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, { deps, ctx, beginChange }) {
    const root = deps.config.notesDir;
    const index = deps.index;
    const from = await resolveInput(deps.config, args.from, false);
    const to = await resolveInput(deps.config, args.to, true);
    // Links are found before the move: afterwards [[Old name]] resolves to nothing.
    const plans: Plan[] = [];
    const newName = to.slice(to.lastIndexOf('/') + 1);
    if (args.update_links && /[[\]|#^]/.test(newName) && index.backlinks(from).some((b) => b.kind === 'wiki')) {
      // Obsidian forbids these in note names because a [[wikilink]] cannot spell them: the
      // notes that link to this one could not be rewritten to find it.
      throw new NotesError('NOTES_E_PATH_INVALID', [
        JSON.stringify(args.to),
        '[[wikilinks]] point at this note, and a wikilink cannot name a note with [ ] | # or ^ in its name: choose another name, or pass update_links: false',
      ]);
    }
    if (args.update_links) {
      const sources = new Set([from, ...index.backlinks(from).map((b) => b.path)]);
      for (const source of sources) {
        try {
          const n = await readNote(root, source);
          const p = planLinks(index, n.path, n.content, from, to, n.path === from);
          if (p.edits.length > 0) plans.push({ ...p, hash: n.hash });
        } catch (err) {
          if (!(err instanceof NotesError) || source === from) throw err;
          // A linking note that is gone or unreadable now has nothing to rewrite.
        }
      }
    }
    const rec = recorderFor(deps, ctx, 'move_note', beginChange);
    const m = await rec.run(() =>
      moveNote(root, from, to, {
        expectedHash: args.expected_hash,
        beforeMove: async (c) => {
          await rec.before({ path: c.from, to: c.to, before: c.bytes, after: c.bytes });
        },
      }),
    );
    // The move is done: from here on the call succeeds, whatever happens to the links.
    const updated: z.infer<typeof MoveOutput>['links_updated'] = [];
    const failed: z.infer<typeof MoveOutput>['links_not_updated'] = [];
    let hash = m.hash;
    // Several at a time: each rewrite waits on fsyncs (the history's, then the note's), and one
    // after another 1,000 linking notes took 27 s. Results keep the plans' order.
    const rewrite = async (p: Plan): Promise<void> => {
      const path = p.path === m.from ? m.to : p.path;
      // A recorder per rewrite: one that fails takes back its own history entry, never one
      // of the rewrites running beside it.
      const own = recorderFor(deps, ctx, 'move_note', beginChange);
      try {
        const w = await own.run(() =>
          // As an edit: never recreates a note deleted meanwhile, nor rewrites one with stray
          // non-UTF-8 bytes (its links are listed as not updated instead).
          writeNote(root, path, '', {
            mode: 'overwrite',
            expectedHash: p.hash,
            edit: () => applyPlan(p),
            beforeWrite: async (c) => {
              await own.before(c);
            },
          }),
        );
        if (path === m.to) hash = w.hash;
        updated.push({ path, links: p.edits.length, hash: w.hash });
      } catch (err) {
        if (!(err instanceof NotesError)) deps.log.error({ err }, 'rewriting links after a move failed');
        failed.push({ path, reason: err instanceof NotesError ? err.message : 'internal error (see the server log)' });
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(REWRITES_AT_ONCE, plans.length) }, async () => {
        while (next < plans.length) await rewrite(plans[next++]!);
      }),
    );
    const order = new Map(plans.map((p, i) => [p.path === m.from ? m.to : p.path, i]));
    updated.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
    failed.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
    const indexing = await indexNow(deps, [m.from, m.to, ...updated.map((u) => u.path)]);
    return okResult({
      from: m.from,
      to: m.to,
      uri: noteUri(m.to),
      hash,
      links_updated: updated,
      links_not_updated: failed,
      ...indexFields(indexing),
    });
  },
});
