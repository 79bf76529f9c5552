import { z } from 'zod';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  extractFileLinks,
  extractLinks,
  linkKey,
  nameKeyOfPath,
  type NoteLink,
  relativeHref,
  resolveRelativeTarget,
} from '../../chunk/index.ts';
import { NotesError } from '../../errors.ts';
import type { NotesIndex } from '../../index/index.ts';
import { applyTextEdits } from '../../history/index.ts';
import { mapLimit, moveNote, noteUri, readNote, withMoveLock, writeNote } from '../../notes/index.ts';
import { okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { HashInput, historyOf, indexFields, indexNow, recorderFor, whoOf } from './changes.ts';
import type { ToolTextResult } from '../context.ts';
import { defineTool, type ToolCall } from './define.ts';

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
      .describe(
        'Rewrite [[wikilinks]] and relative Markdown links that point at the note (default true), and spell out as paths the [[links]] to another note of the new name.',
      ),
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
      .describe(
        'Notes whose links could not be rewritten (changed meanwhile, not UTF-8, or update_links false): edit them by hand.',
      ),
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
  /** How many of the edits spell out links to another note of the new name. */
  spelled: number;
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

/**
 * The other notes that [[new name]] means now: after the move their links by that name would
 * also match the moved note (its file name outranks a title or alias, and a shared file name
 * is ambiguous), so those links are spelled out as paths.
 */
function shadowedBy(index: NotesIndex, from: string, to: string): Set<string> {
  const r = index.resolveName(stripMd(to.slice(to.lastIndexOf('/') + 1)));
  const paths = r.status === 'resolved' ? [r.path] : r.status === 'ambiguous' ? r.candidates : [];
  return new Set(paths.filter((p) => p !== from));
}

/**
 * Whether [[name]] and [[folder/name]], written as move_note would write them, are read back
 * as links to `path`: a name with a backtick starts a code span, a trailing space is trimmed.
 */
function wikiCanName(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return [stripMd(base), stripMd(path)].every((target) => {
    // With code after it on the line, as in real notes: a backtick in the name opens a span.
    const links = extractLinks(`[[${target}]] and \`code\``);
    const key = target === stripMd(path) ? linkKey(path) : nameKeyOfPath(path);
    return links.length === 1 && links[0]!.kind === 'wiki' && linkKey(links[0]!.target) === key;
  });
}

/**
 * The moved note's relative links to files that are not notes (images, PDFs): rewritten when
 * the file is there, so that they still find it from the new folder.
 */
async function fileLinkEdits(root: string, from: string, to: string, text: string): Promise<Plan['edits']> {
  const edits: Plan['edits'] = [];
  for (const l of extractFileLinks(text)) {
    const written = text.slice(l.targetStart, l.targetEnd);
    if (written.startsWith('/')) continue;
    const file = resolveRelativeTarget(from, l.target);
    if (file === null) continue;
    const there = await lstat(join(root, ...file.split('/'))).then(
      (st) => st.isFile(),
      () => false,
    );
    const next = hrefFor(to, file, text[l.targetStart - 1] === '<');
    if (there && next !== written) edits.push({ start: l.targetStart, end: l.targetEnd, text: next });
  }
  return edits;
}

/** [[Plan]] meaning `path`, spelled as one: [[Folder/Plan|Plan]] keeps its target and its text. */
function spelledOut(l: NoteLink, written: string, path: string): Plan['edits'][number] {
  const target = /\.(md|markdown)$/i.test(written) ? path : stripMd(path);
  const bare = l.alias === undefined && l.heading === undefined;
  return { start: l.targetStart, end: l.targetEnd, text: bare ? `${target}|${written}` : target };
}

/** The link rewrites a note needs when `from` becomes `to` (`moved`: this is that note). */
function planLinks(
  index: NotesIndex,
  source: string,
  text: string,
  move: { from: string; to: string; shadowed: ReadonlySet<string> },
  moved: boolean,
): Plan {
  const { from, to, shadowed } = move;
  const edits: Plan['edits'] = [];
  let spelled = 0;
  const newSource = moved ? to : source;
  const newKey = nameKeyOfPath(to);
  for (const l of extractLinks(text) as NoteLink[]) {
    const r = index.resolveLink(source, l);
    if (r.status !== 'resolved') continue;
    const written = text.slice(l.targetStart, l.targetEnd);
    const bracketed = text[l.targetStart - 1] === '<';
    let next: string | undefined;
    if (l.kind === 'wiki' && shadowed.has(r.path) && !written.includes('/') && linkKey(written) === newKey) {
      spelled++;
      edits.push(spelledOut(l, written, r.path));
      continue;
    }
    if (moved && l.kind === 'wiki' && r.path !== from) {
      // The moved note's [[Name]] to another note, where the folder decided between notes of
      // that name: from the new folder the same words would mean another note (or several).
      const after = index.resolveName(l.target, to);
      if (after.status !== 'resolved' || after.path !== r.path) {
        edits.push(spelledOut(l, written, r.path));
        continue;
      }
    }
    // A wikilink by title or alias still finds the note after the move: left as written.
    if (r.path === from && l.kind === 'wiki' && nameKeyOfPath(l.target) !== nameKeyOfPath(from)) continue;
    if (r.path === from)
      next = l.kind === 'wiki' ? wikiTarget(index, from, to, written) : hrefFor(newSource, to, bracketed);
    else if (moved && l.kind === 'markdown') next = hrefFor(newSource, r.path, bracketed);
    if (next !== undefined && next !== written) edits.push({ start: l.targetStart, end: l.targetEnd, text: next });
  }
  return { path: source, hash: '', text, edits, spelled };
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
  run(args, call) {
    // Planned, moved, rewritten and indexed before the next move plans on the notes.
    return withMoveLock(call.deps.config.notesDir, () => runMove(args, call));
  },
});

async function runMove(args: z.infer<typeof MoveInput>, { deps, ctx, beginChange }: ToolCall): Promise<ToolTextResult> {
  const root = deps.config.notesDir;
  const index = deps.index;
  const from = await resolveInput(deps.config, args.from, false);
  const to = await resolveInput(deps.config, args.to, true);
  // Links are found before the move: afterwards [[Old name]] resolves to nothing.
  const plans: Plan[] = [];
  const newName = to.slice(to.lastIndexOf('/') + 1);
  if (args.update_links && !wikiCanName(to) && index.backlinks(from).some((b) => b.kind === 'wiki')) {
    // The notes that link to this one could not be rewritten to find it (Obsidian forbids
    // [ ] | # ^ in note names for this reason).
    throw new NotesError('NOTES_E_PATH_INVALID', [
      JSON.stringify(args.to),
      '[[wikilinks]] point at this note, and a wikilink cannot name it (a name with [ ] | # ^ or a backtick, or one that ends with a space): choose another name, or pass update_links: false',
    ]);
  }
  const near = index.resolveName(stripMd(to));
  const twin = (near.status === 'resolved' ? [near.path] : near.status === 'ambiguous' ? near.candidates : []).find(
    (p) => p !== from && p !== to && linkKey(p) === linkKey(to),
  );
  if (args.update_links && twin !== undefined && index.backlinks(from).some((b) => b.kind === 'wiki')) {
    // Wikilinks match names without case: no [[link]] could tell the two notes apart.
    throw new NotesError('NOTES_E_PATH_INVALID', [
      JSON.stringify(args.to),
      `[[wikilinks]] point at this note, and ${twin} differs from that name only in case: no wikilink could tell them apart. Choose another name, or pass update_links: false`,
    ]);
  }
  const shadowed = shadowedBy(index, from, to);
  const nameLinks = [...shadowed].flatMap((p) => index.backlinks(p).map((b) => b.path));
  // Without update_links, the notes whose links by name would change meaning are only listed.
  const sources = args.update_links
    ? new Set([from, ...index.backlinks(from).map((b) => b.path), ...nameLinks])
    : new Set(nameLinks.filter((p) => p !== from));
  for (const source of sources) {
    try {
      const n = await readNote(root, source);
      const p = planLinks(index, n.path, n.content, { from, to, shadowed }, n.path === from);
      if (n.path === from) {
        p.edits.push(...(await fileLinkEdits(root, from, to, n.content)));
        p.edits.sort((a, b) => a.start - b.start);
      }
      if (p.edits.length > 0) plans.push({ ...p, hash: n.hash });
    } catch (err) {
      if (!(err instanceof NotesError) || source === from) throw err;
      // A linking note that is gone or unreadable now has nothing to rewrite.
    }
  }
  const rec = recorderFor(deps, ctx, 'move_note', beginChange);
  const movePlans = historyOf(deps).movePlans;
  const saved: string[] = [];
  let moveId: string | undefined;
  const dropPlans = async (keep?: string) => {
    for (const id of saved.splice(0)) if (id !== keep) await movePlans.drop(id).catch(() => undefined);
  };
  let m: Awaited<ReturnType<typeof moveNote>>;
  try {
    m = await rec.run(() =>
      moveNote(root, from, to, {
        expectedHash: args.expected_hash,
        beforeMove: async (c) => {
          moveId = (await rec.before({ path: c.from, to: c.to, before: c.bytes, after: c.bytes })).id;
          // On disk before the rename: a daemon killed while rewriting finishes them at start.
          if (args.update_links && plans.length > 0) {
            const rewrites = plans.map((p) => ({ path: p.path, hash: p.hash, edits: p.edits }));
            await movePlans.save({ id: moveId, from: c.from, to: c.to, who: whoOf(ctx), rewrites });
            saved.push(moveId);
          }
        },
      }),
    );
  } catch (err) {
    await dropPlans();
    throw err;
  }
  // A retried move (an editor's save overtook it) planned again under a new id.
  await dropPlans(moveId);
  // The move is done: from here on the call succeeds, whatever happens to the links.
  const updated: z.infer<typeof MoveOutput>['links_updated'] = [];
  const failed: z.infer<typeof MoveOutput>['links_not_updated'] = [];
  const listedOnly = args.update_links ? [] : plans.splice(0).filter((p) => p.spelled > 0);
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
          edit: () => applyTextEdits(p.text, p.edits),
          // Named after the move, so that restore_note undoes the move and its rewrites as one.
          beforeWrite: async (c) => {
            await own.before({ ...c, call: moveId });
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
  await mapLimit(plans, REWRITES_AT_ONCE, rewrite);
  if (moveId !== undefined)
    await movePlans
      .drop(moveId)
      .catch((err: unknown) => deps.log.warn({ err }, 'could not remove a finished move plan'));
  const order = new Map(plans.map((p, i) => [p.path === m.from ? m.to : p.path, i]));
  updated.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
  failed.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
  for (const p of listedOnly)
    failed.push({
      path: p.path,
      reason: `its [[${stripMd(newName)}]] links meant another note and now also match ${m.to}; not rewritten (update_links is false)`,
    });
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
}
