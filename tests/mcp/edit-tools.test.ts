import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { test } from 'node:test';
import { contentHash } from '../../src/notes/index.ts';
import { type AnyClient, connectBoth, startTestDaemon } from '../helpers/daemon.ts';
import { obsidianVault, writeNotes } from '../helpers/vault.ts';

// The editing, link and history tools through the real SDK clients over HTTP, both protocol
// revisions, each on its own daemon and vault.

type Out = Record<string, unknown>;

async function ok(c: AnyClient, name: string, args: Record<string, unknown>): Promise<Out> {
  const r = await c.callTool(name, args);
  assert.notEqual(r.isError, true, `[${c.era}] ${name}: ${JSON.stringify(r.content)}`);
  return r.structuredContent as Out;
}

async function fails(c: AnyClient, name: string, args: Record<string, unknown>, pattern: RegExp): Promise<string> {
  const r = await c.callTool(name, args);
  assert.equal(r.isError, true, `[${c.era}] ${name} must fail: ${JSON.stringify(r.structuredContent)}`);
  const text = JSON.stringify(r.content);
  assert.match(text, pattern, `[${c.era}] ${name}`);
  assert.doesNotMatch(text, /at .*\.js:\d+|\/tmp\//, 'no stack traces or absolute paths');
  return text;
}

async function eachEra(t: test.TestContext, body: (c: AnyClient, notes: string) => Promise<void>): Promise<void> {
  for (const era of ['2025', '2026'] as const) {
    const notes = obsidianVault(t);
    const d = await startTestDaemon(t, notes);
    const c = (await connectBoth(t, d.url)).find((x) => x.era === era)!;
    await body(c, notes);
  }
}

const read = (notes: string, p: string) => readFileSync(join(notes, p), 'utf8');

test('edit_note: exact replace, section, front matter, tags; diff and hash back; searchable at once', async (t) => {
  await eachEra(t, async (c, notes) => {
    const before = await ok(c, 'read_note', { path: 'Recipes/Bread.md' });
    const e = await ok(c, 'edit_note', {
      path: 'Recipes/Bread.md',
      expected_hash: before.hash,
      operations: [
        { op: 'replace', old: 'Flour, water, salt.', new: 'Flour, water, salt, and patience with quillwort.' },
        { op: 'replace_section', heading: 'Starter', content: 'Feed the [[Sourdough]] twice a day.' },
        { op: 'set_front_matter', values: { status: 'tested' } },
        { op: 'add_tags', tags: ['baking'] },
        { op: 'append', text: 'Bake at 250 °C.\n' },
      ],
    });
    assert.equal(e.changed, true);
    assert.equal(e.previous_hash, before.hash);
    const text = read(notes, 'Recipes/Bread.md');
    assert.equal(e.hash, contentHash(text));
    assert.equal(
      text,
      [
        '---',
        'status: tested',
        'tags:',
        '  - baking',
        '---',
        '# Bread',
        '',
        '## Starter',
        'Feed the [[Sourdough]] twice a day.',
        '',
        '## Loaf',
        '',
        'Flour, water, salt, and patience with quillwort.',
        'Bake at 250 °C.',
        '',
      ].join('\n'),
    );
    assert.match(String(e.diff), /^--- a\/Recipes\/Bread\.md\n\+\+\+ b\/Recipes\/Bread\.md\n@@ /);
    assert.match(String(e.diff), /\n-Flour, water, salt\.\n\+Flour, water, salt, and patience with quillwort\.\n/);
    assert.deepEqual(
      (e.changes as Array<{ op: string; lines: number[] }>).map((x) => [x.op, x.lines]),
      [
        ['replace', [9]],
        ['replace_section', [3]],
        ['set_front_matter', [2]],
        ['add_tags', [3]],
        ['append', [14]],
      ],
    );
    assert.equal(e.indexed, true);
    const s = await ok(c, 'search_notes', { query: 'quillwort', k: 3 });
    assert.equal((s.results as Array<{ path: string }>)[0]?.path, 'Recipes/Bread.md');
  });
});

test('edit_note refuses what does not match, all or none, and conflicts on a stale hash', async (t) => {
  await eachEra(t, async (c, notes) => {
    const original = read(notes, 'Projects/Compost.md');
    await fails(
      c,
      'edit_note',
      {
        path: 'Projects/Compost.md',
        operations: [
          { op: 'append', text: 'never written\n' },
          { op: 'replace', old: '[[', new: '((' },
        ],
      },
      /not applied, nothing changed: operation 2 \(replace\) expected 1 match of \\"old\\" and found 4 matches, at lines 3, 3, 6, 9/,
    );
    await fails(
      c,
      'edit_note',
      { path: 'Projects/Compost.md', operations: [{ op: 'replace', old: 'no such text', new: 'x' }] },
      /found no match/,
    );
    await fails(
      c,
      'edit_note',
      { path: 'Projects/Compost.md', operations: [{ op: 'replace_section', heading: 'Nope', content: 'x' }] },
      /no heading \\"Nope\\"; the note's headings are \\"Compost\\"/,
    );
    await fails(
      c,
      'edit_note',
      { path: 'Projects/Compost.md', expected_hash: '0'.repeat(64), operations: [{ op: 'append', text: 'x' }] },
      /changed since you read it/,
    );
    await fails(c, 'edit_note', { path: 'Nope.md', operations: [{ op: 'append', text: 'x' }] }, /does not exist/);
    assert.equal(read(notes, 'Projects/Compost.md'), original, 'nothing changed');
    const h = await ok(c, 'note_history', { path: 'Projects/Compost.md' });
    assert.deepEqual(h.changes, [], 'nothing recorded');
  });
});

test('a note with stray Latin-1 bytes: edits and link rewrites refuse it; append and restore keep its bytes', async (t) => {
  await eachEra(t, async (c, notes) => {
    const file = join(notes, 'Old/Letters.md');
    mkdirSync(join(notes, 'Old'));
    const original = Buffer.concat([
      Buffer.from('# Letters\n\nCaf'),
      Buffer.from([0xe9]), // é in Latin-1: not UTF-8
      Buffer.from(' au lait, see [[Garden]].\n\nlast line\n'),
    ]);
    writeFileSync(file, original);
    await ok(c, 'reindex', {});
    await fails(
      c,
      'edit_note',
      { path: 'Old/Letters.md', operations: [{ op: 'replace', old: 'last line', new: 'final line' }] },
      /Old\/Letters\.md is not all UTF-8 \(first stray byte on line 3\).*nothing was changed/,
    );
    assert.deepEqual(readFileSync(file), original, 'edit_note left every byte alone');
    await ok(c, 'write_note', { path: 'Old/Letters.md', mode: 'append', content: 'appended\n' });
    const appended = Buffer.concat([original, Buffer.from('appended\n')]);
    assert.deepEqual(readFileSync(file), appended, 'append adds bytes and changes none');
    const m = await ok(c, 'move_note', { from: 'Projects/Garden.md', to: 'Outdoors/Plot.md' });
    const failed = m.links_not_updated as Array<{ path: string; reason: string }>;
    assert.deepEqual(
      failed.map((f) => f.path),
      ['Old/Letters.md'],
    );
    assert.match(failed[0]!.reason, /not all UTF-8/);
    assert.deepEqual(readFileSync(file), appended, 'the link rewrite left every byte alone');
    assert.ok((m.links_updated as unknown[]).length > 0, 'the other linking notes were rewritten');
    // A version kept in the history comes back byte for byte.
    await ok(c, 'write_note', { path: 'Old/Letters.md', mode: 'overwrite', content: '# Letters, in UTF-8\n' });
    const r = await ok(c, 'restore_note', { path: 'Old/Letters.md' });
    assert.equal(r.how, 'version');
    assert.deepEqual(readFileSync(file), appended, 'restore_note wrote back the kept bytes');
  });
});

test('move_note renames with links rewritten in every linking note; never overwrites', async (t) => {
  await eachEra(t, async (c, notes) => {
    await fails(c, 'move_note', { from: 'Projects/Garden.md', to: 'Home.md' }, /already exists at Home\.md/);
    const m = await ok(c, 'move_note', { from: 'Projects/Garden.md', to: 'Outdoors/Vegetable Garden.md' });
    assert.equal(m.to, 'Outdoors/Vegetable Garden.md');
    assert.equal(existsSync(join(notes, 'Projects/Garden.md')), false);
    const updated = (m.links_updated as Array<{ path: string; links: number }>).map((u) => [u.path, u.links]).sort();
    assert.deepEqual(updated, [
      ['Daily/2026-01-05.md', 1],
      ['Home.md', 3],
      ['Projects/Compost.md', 1],
      ['Projects/Roadmap.md', 1],
    ]);
    assert.deepEqual(m.links_not_updated, []);
    const home = read(notes, 'Home.md');
    assert.match(home, /\[\[Outdoors\/Vegetable Garden\]\] or, shorter, \[\[Vegetable Garden\|my garden\]\]/);
    assert.match(home, /\[the plot\]\(Outdoors\/Vegetable%20Garden\.md\)/);
    const compost = read(notes, 'Projects/Compost.md');
    assert.match(compost, /Feeds the \[\[Vegetable Garden#Soil\]\]/);
    assert.match(compost, /\[\[Allotment\|the allotment\]\]/, 'a link by alias still works and is left alone');
    // The moved note's own relative links would break in a new folder: none here, its text is unchanged.
    assert.match(read(notes, 'Outdoors/Vegetable Garden.md'), /Back to \[\[Home\]\]/);
    const r = await ok(c, 'read_note', { path: 'Outdoors/Vegetable Garden.md' });
    assert.equal(r.backlinks_total, 7);
    await fails(c, 'read_note', { path: 'Projects/Garden.md' }, /does not exist/);
    // Undo: the note goes back; the linking notes are each undone on their own.
    const u = await ok(c, 'restore_note', { path: 'Outdoors/Vegetable Garden.md' });
    assert.equal(u.how, 'move');
    assert.equal(u.path, 'Projects/Garden.md');
    assert.equal(existsSync(join(notes, 'Outdoors/Vegetable Garden.md')), false);
  });
});

function snapshot(notes: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(notes, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.md')) out.set(f.split(sep).join('/'), read(notes, f));
  }
  return out;
}

test('restore_note undoes a move whole: the note, its own links and the links it rewrote elsewhere', async (t) => {
  await eachEra(t, async (c, notes) => {
    const before = snapshot(notes);
    const backlinksBefore = Number((await ok(c, 'read_note', { path: 'Projects/Garden.md' })).backlinks_total);
    const m = await ok(c, 'move_note', { from: 'Projects/Garden.md', to: 'Outdoors/Vegetable Garden.md' });
    assert.equal((m.links_updated as unknown[]).length, 4);
    const moved = snapshot(notes);
    // An editor changes one linking note after the move: its text is never replaced unasked.
    const edited = `${read(notes, 'Projects/Roadmap.md')}Edited by hand.\n`;
    writeFileSync(join(notes, 'Projects/Roadmap.md'), edited);
    const u = await ok(c, 'restore_note', { path: 'Outdoors/Vegetable Garden.md' });
    assert.equal(u.how, 'move');
    assert.equal(u.path, 'Projects/Garden.md');
    assert.deepEqual((u.links_restored as Array<{ path: string }>).map((l) => l.path).sort(), [
      'Daily/2026-01-05.md',
      'Home.md',
      'Projects/Compost.md',
    ]);
    assert.deepEqual(
      (u.links_not_restored as Array<{ path: string; reason: string }>).map((l) => l.path),
      ['Projects/Roadmap.md'],
    );
    const now = snapshot(notes);
    assert.equal(now.get('Projects/Roadmap.md'), edited);
    now.delete('Projects/Roadmap.md');
    const expected = new Map(before);
    expected.delete('Projects/Roadmap.md');
    assert.deepEqual(now, expected, 'every other note is as it was before the move');
    // Searchable and linked as before, but for the note edited by hand (its link is stale).
    const linked = await ok(c, 'read_note', { path: 'Projects/Garden.md' });
    assert.equal(linked.backlinks_total, backlinksBefore - 1);

    // Restoring again redoes the move, with its rewrites.
    const redo = await ok(c, 'restore_note', { path: 'Projects/Garden.md' });
    assert.equal(redo.how, 'move');
    assert.equal(redo.path, 'Outdoors/Vegetable Garden.md');
    const again = snapshot(notes);
    again.delete('Projects/Roadmap.md');
    const after = new Map(moved);
    after.delete('Projects/Roadmap.md');
    assert.deepEqual(again, after, 'the redo puts the moved state back');

    // A move that rewrote the note's own links is undone by one restore (it used to undo the
    // rewrite only, then flip-flop between the two texts at the new path).
    const planBefore = read(notes, 'Projects/Deep/Nested/Plan.md');
    await ok(c, 'move_note', { from: 'Projects/Deep/Nested/Plan.md', to: 'Plan.md' });
    const p = await ok(c, 'restore_note', { path: 'Plan.md' });
    assert.equal(p.how, 'move');
    assert.equal(existsSync(join(notes, 'Plan.md')), false);
    assert.equal(read(notes, 'Projects/Deep/Nested/Plan.md'), planBefore);
  });
});

test('note_history follows a note across moves; a version is restored where the note is now', async (t) => {
  await eachEra(t, async (c, notes) => {
    const e = await ok(c, 'edit_note', { path: 'Recipes/Bread.md', operations: [{ op: 'append', text: 'v2\n' }] });
    await ok(c, 'move_note', { from: 'Recipes/Bread.md', to: 'Kitchen/Bread.md' });
    await ok(c, 'move_note', { from: 'Kitchen/Bread.md', to: 'Kitchen/Loaf.md' });
    const h = await ok(c, 'note_history', { path: 'Kitchen/Loaf.md' });
    const tools = (h.changes as Array<{ tool: string }>).map((x) => x.tool);
    assert.deepEqual(tools, ['move_note', 'move_note', 'edit_note'], 'newest first, back past both moves');
    // On the old path, a version would be a second copy of the note: refused, pointing at it.
    await fails(
      c,
      'restore_note',
      { path: 'Kitchen/Bread.md', version: e.previous_hash },
      /moved it to Kitchen\/Loaf\.md: restore the version there/,
    );
    assert.equal(existsSync(join(notes, 'Kitchen/Bread.md')), false);
    const r = await ok(c, 'restore_note', { path: 'Kitchen/Loaf.md', version: e.previous_hash });
    assert.equal(r.how, 'version');
    assert.doesNotMatch(read(notes, 'Kitchen/Loaf.md'), /v2/);
  });
});

test('move_note onto a name another note has spells out the links meaning that note; reference definitions move too', async (t) => {
  await eachEra(t, async (c, notes) => {
    writeNotes(notes, {
      'Plans/Charter.md': '# Charter\n\n## Goals\n',
      'T/Garden Notes.md': '---\ntitle: Compost heap\n---\n# Garden notes\n',
      'Links.md': 'See [[Charter]], [[Charter#Goals]] and [[Charter|the plan]]; also [[Compost heap]].\n',
      'Refs.md': 'Read [[Garden Notes]].\n',
      'Other/Draft.md': '# Draft\n',
      'Defs.md': 'See [the draft][d].\n\n[d]: Other/Draft.md "the draft"\n',
      'Other/Heap.md': '# Heap\n',
      'Other/Second.md': '# Second\n',
    });
    await ok(c, 'reindex', {});
    const m = await ok(c, 'move_note', { from: 'Other/Draft.md', to: 'Other/Charter.md' });
    assert.deepEqual(
      (m.links_updated as Out[]).map((u) => [u.path, u.links]),
      [
        ['Defs.md', 1],
        ['Links.md', 3],
      ],
    );
    // A link reference definition is a link: rewritten like the others.
    assert.equal(read(notes, 'Defs.md'), 'See [the draft][d].\n\n[d]: Other/Charter.md "the draft"\n');
    assert.equal(
      read(notes, 'Links.md'),
      'See [[Plans/Charter|Charter]], [[Plans/Charter#Goals]] and [[Plans/Charter|the plan]]; also [[Compost heap]].\n',
    );
    // A file name outranks a title: [[Compost heap]] would now mean the moved note.
    await ok(c, 'move_note', { from: 'Other/Heap.md', to: 'Other/Compost heap.md' });
    assert.match(read(notes, 'Links.md'), /also \[\[T\/Garden Notes\|Compost heap\]\]\.\n$/);
    const r = await ok(c, 'read_note', { path: 'Links.md' });
    const targets = (r.links as Array<{ path?: string }>).map((l) => l.path);
    assert.deepEqual(targets, ['Plans/Charter.md', 'Plans/Charter.md', 'Plans/Charter.md', 'T/Garden Notes.md']);
    // Without update_links nothing is rewritten, and the result says which notes are at risk.
    const k = await ok(c, 'move_note', { from: 'Other/Second.md', to: 'Other/Garden Notes.md', update_links: false });
    assert.equal(read(notes, 'Refs.md'), 'Read [[Garden Notes]].\n');
    const left = k.links_not_updated as Array<{ path: string; reason: string }>;
    assert.deepEqual(
      left.map((l) => l.path),
      ['Refs.md'],
    );
    assert.match(left[0]!.reason, /meant another note and now also match Other\/Garden Notes\.md/);
  });
});

test("move_note rewrites the moved note's own relative links when its folder changes", async (t) => {
  await eachEra(t, async (c, notes) => {
    const m = await ok(c, 'move_note', { from: 'Projects/Deep/Nested/Plan.md', to: 'Plan.md' });
    assert.deepEqual(m.links_updated, [{ path: 'Plan.md', links: 1, hash: m.hash }]);
    assert.match(read(notes, 'Plan.md'), /Up three folders: \[home\]\(Home\.md\)\./);
    const r = await ok(c, 'read_note', { path: 'Plan.md' });
    const home = (r.links as Array<{ target: string; path?: string }>).find((l) => l.target === 'Home.md');
    assert.equal(home?.path, 'Home.md');
  });
});

test("move_note rewrites the moved note's links to images and other files when its folder changes", async (t) => {
  await eachEra(t, async (c, notes) => {
    mkdirSync(join(notes, 'Projects', 'img'), { recursive: true });
    writeFileSync(join(notes, 'Projects', 'img', 'plot 1.png'), 'png');
    writeFileSync(join(notes, 'Projects', 'spec.pdf'), 'pdf');
    const text =
      '# Pics\n\n![plot](img/plot%201.png) ![p2](<img/plot 1.png>) [spec](spec.pdf#page=2) [gone](nothere.png) [top](/spec.pdf)\n';
    await ok(c, 'write_note', { path: 'Projects/Pics.md', content: text });
    const m = await ok(c, 'move_note', { from: 'Projects/Pics.md', to: 'Archive/Old/Pics.md' });
    assert.deepEqual(m.links_updated, [{ path: 'Archive/Old/Pics.md', links: 3, hash: m.hash }]);
    assert.equal(
      read(notes, 'Archive/Old/Pics.md'),
      '# Pics\n\n![plot](../../Projects/img/plot%201.png) ![p2](<../../Projects/img/plot 1.png>) [spec](../../Projects/spec.pdf#page=2) [gone](nothere.png) [top](/spec.pdf)\n',
    );
  });
});

test("move_note keeps what the moved note's own [[links]] mean when its folder decides them", async (t) => {
  await eachEra(t, async (c, notes) => {
    // In Projects/, [[Ideas]] means Projects/Ideas.md (two notes have that name; the one in
    // the linking note's folder wins). Moved to Archive/, the same words would mean
    // Archive/Ideas.md, silently.
    await ok(c, 'write_note', {
      path: 'Projects/Todo.md',
      content: '# Todo\n\nSee [[Ideas]] and [[Ideas#Later|later]].\n',
    });
    const m = await ok(c, 'move_note', { from: 'Projects/Todo.md', to: 'Archive/Todo.md' });
    assert.deepEqual(m.links_updated, [{ path: 'Archive/Todo.md', links: 2, hash: m.hash }]);
    assert.equal(
      read(notes, 'Archive/Todo.md'),
      '# Todo\n\nSee [[Projects/Ideas|Ideas]] and [[Projects/Ideas#Later|later]].\n',
    );
    const r = await ok(c, 'read_note', { path: 'Archive/Todo.md' });
    for (const l of r.links as Array<{ status: string; path?: string }>) assert.equal(l.path, 'Projects/Ideas.md');
  });
});

test('move_note refuses a name no [[wikilink]] can spell while wikilinks point at the note', async (t) => {
  await eachEra(t, async (c, notes) => {
    // Each was "updated" in the linking notes, into links that found nothing.
    for (const to of ['Projects/Gar`den.md', 'Projects/Garden .md', 'Projects/Gar|den.md']) {
      await fails(c, 'move_note', { from: 'Projects/Garden.md', to }, /a wikilink cannot name it/);
      assert.equal(existsSync(join(notes, 'Projects/Garden.md')), true, to);
    }
    // A name that differs from another note's only in case: [[links]] match names without case.
    await ok(c, 'write_note', { path: 'Projects/garden-twin.md', content: '# twin\n' });
    await fails(c, 'move_note', { from: 'Projects/Garden.md', to: 'Projects/Garden-Twin.md' }, /only in case/);
    const m = await ok(c, 'move_note', { from: 'Projects/Garden.md', to: 'Projects/Garden .md', update_links: false });
    assert.equal(m.to, 'Projects/Garden .md');
  });
});

test('delete_note moves to the trash in the state folder; restore_note brings it back; history lists both', async (t) => {
  for (const era of ['2025', '2026'] as const) {
    const notes = obsidianVault(t);
    const d = await startTestDaemon(t, notes);
    const c = (await connectBoth(t, d.url)).find((x) => x.era === era)!;
    const text = read(notes, 'Archive/Ideas.md');
    await fails(c, 'delete_note', { path: 'Archive/Ideas.md', expected_hash: 'f'.repeat(64) }, /changed since/);
    const del = await ok(c, 'delete_note', { path: 'Archive/Ideas.md', expected_hash: contentHash(text) });
    assert.equal(del.hash, contentHash(text));
    assert.equal(existsSync(join(notes, 'Archive/Ideas.md')), false);
    const trash = join(d.index.config.historyDir, 'trash');
    assert.deepEqual(
      readdirSync(trash).map((f) => readFileSync(join(trash, f), 'utf8')),
      [text],
    );
    const s = await ok(c, 'search_notes', { query: 'beehive pond archived', k: 5 });
    assert.ok(!(s.results as Array<{ path: string }>).some((h) => h.path === 'Archive/Ideas.md'), 'gone from search');
    const back = await ok(c, 'restore_note', { path: 'Archive/Ideas.md' });
    assert.equal(back.how, 'trash');
    assert.equal(read(notes, 'Archive/Ideas.md'), text);
    assert.deepEqual(readdirSync(trash), []);
    const h = await ok(c, 'note_history', { path: 'Archive/Ideas.md' });
    const changes = h.changes as Array<{ tool: string; before: string | null; after: string | null; who: Out }>;
    assert.deepEqual(
      changes.map((x) => [x.tool, x.before, x.after]),
      [
        ['restore_note', null, contentHash(text)],
        ['delete_note', contentHash(text), null],
      ],
    );
    assert.deepEqual(changes[0]!.who, { transport: 'http', token_id: 'env', token_name: 'NOTES_MCP_TOKEN' });
    assert.equal(h.changed_outside, false);
    const s2 = await ok(c, 'search_notes', { query: 'beehive pond archived', k: 5 });
    assert.ok(
      (s2.results as Array<{ path: string }>).some((x) => x.path === 'Archive/Ideas.md'),
      'searchable again',
    );
  }
});

test('restore_note of a note removed outside notes-mcp writes back its last version and undoes no change', async (t) => {
  await eachEra(t, async (c, notes) => {
    await ok(c, 'edit_note', { path: 'Projects/Ideas.md', operations: [{ op: 'append', text: 'kept line\n' }] });
    const last = read(notes, 'Projects/Ideas.md');
    unlinkSync(join(notes, 'Projects/Ideas.md'));
    const r = await ok(c, 'restore_note', { path: 'Projects/Ideas.md' });
    assert.equal(r.how, 'version');
    assert.equal(r.hash, contentHash(last));
    assert.equal(
      read(notes, 'Projects/Ideas.md'),
      last,
      'the edit stays: what came back is the note as notes-mcp left it',
    );
    assert.equal(r.undid, undefined, 'the edit was not undone, so no change id is reported as undone');
  });
});

test('restore_note undoes an edit or puts back a named version, and never silently over an outside edit', async (t) => {
  await eachEra(t, async (c, notes) => {
    const v0 = read(notes, 'Projects/Ideas.md');
    await ok(c, 'edit_note', { path: 'Projects/Ideas.md', operations: [{ op: 'append', text: 'v1\n' }] });
    const v1 = read(notes, 'Projects/Ideas.md');
    await ok(c, 'write_note', { path: 'Projects/Ideas.md', mode: 'overwrite', content: '# Ideas\n\nv2\n' });
    const undo = await ok(c, 'restore_note', { path: 'Projects/Ideas.md' });
    assert.equal(undo.how, 'version');
    assert.equal(read(notes, 'Projects/Ideas.md'), v1);
    const named = await ok(c, 'restore_note', { path: 'Projects/Ideas.md', version: contentHash(v0) });
    assert.equal(named.hash, contentHash(v0));
    assert.equal(read(notes, 'Projects/Ideas.md'), v0);
    // Someone edits it in an editor: notes-mcp did not write that, so it is not replaced unasked.
    writeFileSync(join(notes, 'Projects/Ideas.md'), '# Ideas\n\nmine, from the editor\n');
    const h = await ok(c, 'note_history', { path: 'Projects/Ideas.md' });
    assert.equal(h.changed_outside, true);
    await fails(
      c,
      'restore_note',
      { path: 'Projects/Ideas.md', version: contentHash(v1) },
      /changed since you read it/,
    );
    assert.match(read(notes, 'Projects/Ideas.md'), /from the editor/);
    const forced = await ok(c, 'restore_note', {
      path: 'Projects/Ideas.md',
      version: contentHash(v1),
      expected_hash: h.current_hash,
    });
    assert.equal(forced.hash, contentHash(v1));
    // ...and the editor's text is now a kept version too.
    const after = await ok(c, 'note_history', { path: 'Projects/Ideas.md', limit: 1 });
    const last = (after.changes as Array<{ before: string }>)[0]!;
    assert.equal(last.before, contentHash('# Ideas\n\nmine, from the editor\n'));
    await fails(
      c,
      'restore_note',
      { path: 'Projects/Ideas.md', version: 'a'.repeat(64) },
      /cannot restore Projects\/Ideas\.md: a+ is not one of the versions/,
    );
    await fails(
      c,
      'restore_note',
      { path: 'Home.md' },
      /cannot restore Home\.md: notes-mcp has recorded no change to it/,
    );
    const paged = await ok(c, 'note_history', { path: 'Projects/Ideas.md', limit: 2 });
    assert.equal((paged.changes as unknown[]).length, 2);
    const rest = await ok(c, 'note_history', { path: 'Projects/Ideas.md', limit: 10, before: paged.next_cursor });
    assert.equal((rest.changes as unknown[]).length, 3);
    const all = await ok(c, 'note_history', {});
    assert.equal((all.changes as unknown[]).length, 5);
  });
});

test('read_note, related_notes and note:// by title or alias; ambiguity lists the candidates', async (t) => {
  await eachEra(t, async (c, notes) => {
    void notes;
    const byAlias = await ok(c, 'read_note', { path: 'Levain' });
    assert.equal(byAlias.path, 'Recipes/Sourdough Starter.md');
    const byTitle = await ok(c, 'read_note', { uri: 'note://Dashboard' });
    assert.equal(byTitle.path, 'Home.md');
    const links = byTitle.links as Array<Out>;
    assert.deepEqual(
      links.find((l) => l.target === 'Ideas'),
      {
        target: 'Ideas',
        kind: 'wiki',
        line: 10,
        status: 'ambiguous',
        candidates: ['Archive/Ideas.md', 'Projects/Ideas.md'],
      },
    );
    assert.deepEqual(
      links.find((l) => l.target === 'Missing Note'),
      {
        target: 'Missing Note',
        kind: 'wiki',
        line: 9,
        status: 'unresolved',
      },
    );
    assert.deepEqual((byTitle.backlinks as Array<Out>)[0], {
      path: 'Daily/2026-01-05.md',
      uri: 'note://Daily/2026-01-05.md',
      line: 3,
      kind: 'wiki',
    });
    await fails(c, 'read_note', { path: 'Ideas' }, /names more than one note: Archive\/Ideas\.md, Projects\/Ideas\.md/);
    await fails(c, 'read_note', { path: 'No Such Title' }, /does not exist/);
    // A name ending in .md is a file: a title or alias of another note never answers it (a
    // path that no longer exists came back as whichever note had that title).
    await fails(c, 'read_note', { path: 'Dashboard.md' }, /does not exist/);
    await fails(c, 'read_note', { uri: 'note://Levain.md' }, /does not exist/);
    await fails(c, 'related_notes', { path: 'Dashboard.md' }, /does not exist/);
    // ...and a [[Dashboard.md]] link in a note says the same.
    await ok(c, 'write_note', { path: 'Links.md', content: '# L\n\n[[Dashboard.md]] and [[Dashboard]]\n' });
    const ln = await ok(c, 'read_note', { path: 'Links.md' });
    assert.deepEqual(
      (ln.links as Array<{ status: string; path?: string }>).map((l) => [l.status, l.path]),
      [
        ['unresolved', undefined],
        ['resolved', 'Home.md'],
      ],
    );
    assert.equal((await ok(c, 'read_note', { path: 'Sourdough Starter.md' })).path, 'Recipes/Sourdough Starter.md');
    const res = await (
      c.raw as { readResource: (p: { uri: string }) => Promise<{ contents: Array<{ uri: string }> }> }
    ).readResource({ uri: 'note://Sourdough' });
    assert.equal(res.contents[0]?.uri, 'note://Recipes/Sourdough%20Starter.md');
    const rel = await ok(c, 'related_notes', { path: 'Garden', k: 3 });
    assert.equal(rel.path, 'Projects/Garden.md');
    assert.equal(rel.backlinks_total, 7);
    assert.equal(rel.links_total, 3);
    assert.deepEqual(
      (rel.links as Array<Out>).map((l) => [l.target, l.path]),
      [
        ['Compost', 'Projects/Compost.md'],
        ['Home', 'Home.md'],
        ['Dashboard', 'Home.md'],
      ],
    );
    assert.equal((rel.similar as unknown[]).length, 3);
    assert.ok(!(rel.similar as Array<Out>).some((s) => s.path === 'Projects/Garden.md'));
  });
});

test('read_note and related_notes show 200 links and count them all; a long note edited shows its new links', async (t) => {
  await eachEra(t, async (c) => {
    // 250 links, one name linked over and over (resolved once per call, not per link).
    const many = Array.from({ length: 250 }, (_, i) => (i % 2 ? '[[Compost]]' : `[[Gone ${i}]]`)).join('\n');
    await ok(c, 'write_note', { path: 'Many.md', content: `# Many\n${many}\n` });
    for (const tool of ['read_note', 'related_notes']) {
      const r = await ok(c, tool, { path: 'Many.md' });
      const links = r.links as Array<Out>;
      assert.equal(links.length, 200, tool);
      assert.equal(r.links_total, 250, tool);
      assert.deepEqual(links[1], {
        target: 'Compost',
        kind: 'wiki',
        line: 3,
        status: 'resolved',
        path: 'Projects/Compost.md',
        uri: 'note://Projects/Compost.md',
      });
      assert.equal(links[0]?.status, 'unresolved');
    }
    // Over 64 KB, what read_note derives is kept by content hash: an edit must show at once.
    const filler = 'words that fill the note to well past the cached size\n'.repeat(2_000);
    const w = await ok(c, 'write_note', { path: 'Long.md', content: `# Long\n[[Compost]]\n${filler}` });
    const first = await ok(c, 'read_note', { path: 'Long.md', end_line: 2 });
    assert.deepEqual(
      (first.links as Array<Out>).map((l) => l.target),
      ['Compost'],
    );
    await ok(c, 'edit_note', {
      path: 'Long.md',
      expected_hash: w.hash,
      operations: [{ op: 'replace', old: '[[Compost]]', new: '[[Home]] and [[Compost]]' }],
    });
    const second = await ok(c, 'read_note', { path: 'Long.md', end_line: 2 });
    assert.deepEqual(
      (second.links as Array<Out>).map((l) => l.target),
      ['Home', 'Compost'],
    );
    assert.equal(second.links_total, 2);
  });
});
