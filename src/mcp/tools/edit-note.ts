import { z } from 'zod';
import { NotesError } from '../../errors.ts';
import { applyEdits, type EditOp, noteUri, readNote, unifiedDiff, writeNote } from '../../notes/index.ts';
import { type McpDeps, okResult } from '../context.ts';
import { resolveInput } from '../paths.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { HashInput, indexFields, indexNow, recorderFor } from './changes.ts';
import { defineTool } from './define.ts';

/** Largest diff edit_note returns; the rest is summarised in one line. */
export const MAX_DIFF_CHARS = 20_000;

const Text = z.string().max(5_000_000);
const Op = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('replace'),
    old: Text.min(1).describe('Exact text to find (spaces and line breaks included).'),
    new: Text.describe('Text to put in its place.'),
    expected_count: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1)
      .describe('How many matches there must be (default 1); any other count changes nothing.'),
  }),
  z.object({ op: z.literal('prepend'), text: Text.describe('Text to put at the top (after front matter).') }),
  z.object({ op: z.literal('append'), text: Text.describe('Text to add at the end, on a new line.') }),
  z.object({
    op: z.literal('replace_section'),
    heading: z
      .union([z.string().min(1).max(1000), z.array(z.string().min(1).max(1000)).min(1).max(6)])
      .describe('The heading\'s text ("Soil"), or its trail ("Garden > Soil" or ["Garden", "Soil"]) when it repeats.'),
    content: Text.describe('New text under the heading, up to the next heading of the same or higher level.'),
  }),
  z.object({
    op: z.literal('set_front_matter'),
    values: z.record(z.string().min(1).max(200), z.unknown()).describe('Keys to set in the YAML front matter.'),
  }),
  z.object({
    op: z.literal('remove_front_matter'),
    keys: z.array(z.string().min(1).max(200)).min(1).max(100),
  }),
  z.object({ op: z.literal('add_tags'), tags: z.array(z.string().min(1).max(200)).min(1).max(100) }),
  z.object({ op: z.literal('remove_tags'), tags: z.array(z.string().min(1).max(200)).min(1).max(100) }),
]);

const EditInput = withCachedJsonSchema(
  z.object({
    path: z.string().min(1).max(4096).describe('Note path relative to the notes folder, or its note:// URI.'),
    operations: z.array(Op).min(1).max(50).describe('Applied in order, all or none.'),
    expected_hash: HashInput.optional(),
  }),
);

const EditOutput = withCachedJsonSchema(
  z.object({
    uri: z.string(),
    path: z.string(),
    hash: z.string(),
    previous_hash: z.string(),
    bytes: z.number(),
    changed: z.boolean(),
    changes: z.array(z.object({ op: z.string(), lines: z.array(z.number()), count: z.number() })),
    diff: z.string().describe('Unified diff of the change (cut at a bounded size).'),
    indexed: z.boolean(),
    index_note: z.string().optional(),
  }),
  { id: 'edit_note.output' },
);

function toOp(o: z.output<typeof Op>): EditOp {
  switch (o.op) {
    case 'replace':
      return { op: 'replace', old: o.old, new: o.new, expectedCount: o.expected_count };
    case 'prepend':
    case 'append':
      return { op: o.op, text: o.text };
    case 'replace_section':
      return { op: 'replace_section', heading: o.heading, content: o.content };
    case 'set_front_matter':
      return { op: 'set_front_matter', values: o.values };
    case 'remove_front_matter':
      return { op: 'remove_front_matter', keys: o.keys };
    case 'add_tags':
    case 'remove_tags':
      return { op: o.op, tags: o.tags };
  }
}

export const editNoteTool = defineTool({
  name: 'edit_note',
  title: 'Edit a note',
  description:
    'Change part of a note without rewriting it: a list of operations applied in order, all or none. ' +
    '"replace" swaps exact text (expected_count matches, default 1; a different count changes nothing and says ' +
    'where the matches are); "prepend"/"append" add text; "replace_section" replaces what is under a heading; ' +
    '"set_front_matter"/"remove_front_matter" change YAML keys (the others keep their exact text); "add_tags"/"remove_tags" change front matter tags ' +
    '(inline #tags are text: use replace). Pass expected_hash from read_note. Returns the new hash and a diff; ' +
    'the previous version is kept (note_history, restore_note).',
  input: EditInput,
  output: EditOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async run(args, { deps, ctx, beginChange }) {
    const root = deps.config.notesDir;
    const rel = await resolveInput(deps.config, args.path, true);
    // The operations are applied under the note's lock to exactly the text on disk, so
    // concurrent edits of one note all land (each on the result of the one before); with
    // expected_hash, a note changed since it was read is a conflict instead.
    const note = await readNote(root, rel);
    if (args.expected_hash !== undefined && args.expected_hash !== note.hash) {
      throw new NotesError('NOTES_E_NOTE_CONFLICT', [note.path, args.expected_hash, note.hash]);
    }
    const ops = args.operations.map(toOp);
    const first = applyEdits(note.content, ops);
    if (!first.ok) throw new NotesError('NOTES_E_EDIT_MISMATCH', [note.path, first.index + 1, first.op, first.reason]);
    if (first.text === note.content) {
      return okResult({
        uri: noteUri(note.path),
        path: note.path,
        hash: note.hash,
        previous_hash: note.hash,
        bytes: note.size,
        changed: false,
        changes: first.changes.map((c) => ({ op: c.op, lines: c.lines, count: c.count })),
        diff: '',
        indexed: true,
      });
    }
    let applied = { before: note.content, hash: note.hash, result: first };
    const rec = recorderFor(deps, ctx, 'edit_note', beginChange);
    const w = await rec.run(() =>
      writeNote(root, note.path, first.text, {
        mode: 'overwrite',
        ...(args.expected_hash === undefined ? {} : { expectedHash: args.expected_hash }),
        edit: (cur) => {
          if (cur.hash === note.hash) return first.text;
          const again = applyEdits(cur.text, ops);
          if (!again.ok)
            throw new NotesError('NOTES_E_EDIT_MISMATCH', [note.path, again.index + 1, again.op, again.reason]);
          applied = { before: cur.text, hash: cur.hash, result: again };
          return again.text;
        },
        beforeWrite: async (c) => {
          await rec.before(c);
        },
      }),
    );
    const changes = applied.result.ok
      ? applied.result.changes.map((c) => ({ op: c.op, lines: c.lines, count: c.count }))
      : [];
    return finish(
      deps,
      { path: note.path, hash: applied.hash, content: applied.before },
      applied.result.ok ? applied.result.text : '',
      w,
      changes,
    );
  },
});

async function finish(
  deps: McpDeps,
  note: { path: string; hash: string; content: string },
  text: string,
  w: Awaited<ReturnType<typeof writeNote>>,
  changes: Array<{ op: string; lines: number[]; count: number }>,
) {
  const indexing = await indexNow(deps, [w.path]);
  const out: z.infer<typeof EditOutput> = {
    uri: noteUri(w.path),
    path: w.path,
    hash: w.hash,
    previous_hash: note.hash,
    bytes: w.bytes,
    changed: true,
    changes,
    diff: unifiedDiff(note.content, text, { path: w.path, maxChars: MAX_DIFF_CHARS }),
    ...indexFields(indexing),
  };
  return okResult(out);
}
