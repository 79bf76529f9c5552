import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Config } from '../../src/config/index.ts';
import { indexFiles, NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { tempDir } from '../helpers/tmp.ts';
import { obsidianVault, openTestIndex, sharedEmbedder, testConfig } from '../helpers/vault.ts';

const brief = (idx: NotesIndex, path: string) =>
  idx
    .outgoingLinks(path)
    .map((l) => [
      l.target,
      l.line,
      l.resolution.status === 'resolved'
        ? l.resolution.path
        : l.resolution.status === 'ambiguous'
          ? l.resolution.candidates
          : null,
    ]);

test('outgoing links resolve the Obsidian way: path suffix, file name, alias, same folder first, else ambiguous', async (t) => {
  const idx = await openTestIndex(t, obsidianVault(t));
  await idx.sync();
  assert.deepEqual(brief(idx, 'Home.md'), [
    ['Projects/Garden', 7, 'Projects/Garden.md'],
    ['Garden', 7, 'Projects/Garden.md'],
    ['Recipes/Bread', 8, 'Recipes/Bread.md'],
    ['Missing Note', 9, null],
    ['Ideas', 10, ['Archive/Ideas.md', 'Projects/Ideas.md']],
    ['Projects/Garden.md', 11, 'Projects/Garden.md'],
  ]);
  assert.deepEqual(brief(idx, 'Projects/Roadmap.md'), [
    ['Ideas', 3, 'Projects/Ideas.md'],
    ['Garden', 3, 'Projects/Garden.md'],
  ]);
  assert.deepEqual(brief(idx, 'Projects/Compost.md'), [
    ['Garden', 3, 'Projects/Garden.md'],
    ['../Home.md', 3, 'Home.md'],
    ['Allotment', 3, 'Projects/Garden.md'],
  ]);
  assert.deepEqual(brief(idx, 'Recipes/Bread.md'), [['Sourdough', 5, 'Recipes/Sourdough Starter.md']]);
  assert.deepEqual(brief(idx, 'Projects/Deep/Nested/Plan.md')[1], ['../../../Home.md', 4, 'Home.md']);
});

test('backlinks list every mention with its line, through names, aliases and relative paths', async (t) => {
  const idx = await openTestIndex(t, obsidianVault(t));
  await idx.sync();
  const of = (p: string) => idx.backlinks(p).map((b) => `${b.path}:${b.line}`);
  assert.deepEqual(of('Projects/Garden.md'), [
    'Daily/2026-01-05.md:3',
    'Home.md:7',
    'Home.md:7',
    'Home.md:11',
    'Projects/Compost.md:3',
    'Projects/Compost.md:3',
    'Projects/Roadmap.md:3',
  ]);
  assert.deepEqual(of('Home.md'), [
    'Daily/2026-01-05.md:3',
    'Projects/Compost.md:3',
    'Projects/Deep/Nested/Plan.md:4',
    'Projects/Garden.md:9',
    'Projects/Garden.md:13',
  ]);
  // The ambiguous [[Ideas]] in Home and Plan counts for neither note; Roadmap's is resolved.
  assert.deepEqual(of('Projects/Ideas.md'), ['Projects/Roadmap.md:3']);
  assert.deepEqual(of('Archive/Ideas.md'), []);
});

test('names: a title or alias finds its note; a name two notes share lists both', async (t) => {
  const idx = await openTestIndex(t, obsidianVault(t));
  await idx.sync();
  assert.deepEqual(idx.resolveName('sourdough'), { status: 'resolved', path: 'Recipes/Sourdough Starter.md' });
  assert.deepEqual(idx.resolveName('Levain'), { status: 'resolved', path: 'Recipes/Sourdough Starter.md' });
  assert.deepEqual(idx.resolveName('archive/ideas'), { status: 'resolved', path: 'Archive/Ideas.md' });
  assert.deepEqual(idx.resolveName('Ideas'), {
    status: 'ambiguous',
    candidates: ['Archive/Ideas.md', 'Projects/Ideas.md'],
  });
  assert.deepEqual(idx.resolveName('Nothing Like It'), { status: 'unresolved' });
});

test('links follow edits and deletions: a changed note replaces its links, a removed one leaves none', async (t) => {
  const notes = obsidianVault(t);
  const idx = await openTestIndex(t, notes);
  await idx.sync();
  writeFileSync(join(notes, 'Projects/Roadmap.md'), '# Roadmap\n\nNow only [[Bread]].\n');
  await idx.refresh(['Projects/Roadmap.md']);
  assert.deepEqual(brief(idx, 'Projects/Roadmap.md'), [['Bread', 3, 'Recipes/Bread.md']]);
  assert.deepEqual(
    idx.backlinks('Projects/Ideas.md').map((b) => b.path),
    [],
  );
  await idx.apply({ upserted: [], removed: ['Projects/Compost.md'], removedDirs: [] });
  assert.ok(!idx.backlinks('Home.md').some((b) => b.path === 'Projects/Compost.md'));
  assert.deepEqual(brief(idx, 'Projects/Garden.md')[0], ['Compost', 9, null]);
});

/** The Obsidian vault indexed, then its database turned into what a v1 one looks like. */
async function indexFromBeforeLinks(t: TestContext): Promise<{ notes: string; config: Config }> {
  const notes = obsidianVault(t);
  const state = tempDir(t, 'notes-mcp-state-');
  const config = testConfig(notes, state);
  const first = await NotesIndex.open({ config, embedder: await sharedEmbedder(), log: silentLogger() });
  await first.sync();
  await first.close();
  // What a v1 database looks like: no link tables, user_version 1.
  const db = new Database(indexFiles(config.indexDir).database);
  db.exec("DROP TABLE links; DROP TABLE note_names; DELETE FROM meta WHERE key = 'links_backfill'");
  db.pragma('user_version = 1');
  db.close();
  return { notes, config };
}

test('an index from before links (schema v1) gets them stored when opened for writing', async (t) => {
  const { config } = await indexFromBeforeLinks(t);
  const again = await NotesIndex.open({ config, embedder: await sharedEmbedder(), log: silentLogger() });
  t.after(() => again.close());
  await again.idle();
  assert.equal(again.backlinks('Projects/Garden.md').length, 7);
  assert.deepEqual(again.resolveName('Allotment'), { status: 'resolved', path: 'Projects/Garden.md' });
});

test('storing links for an old index never blocks on a note swapped for a FIFO', async (t) => {
  const { notes, config } = await indexFromBeforeLinks(t);
  // While the daemon was stopped, an indexed note became a FIFO. A blocking open of it waits
  // for a writer; this one comes after 3 s, so a blocked start shows as a 3 s stall instead of
  // hanging the test for good.
  const fifo = join(notes, 'Home.md');
  rmSync(fifo);
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'sleep 3; echo "# Home" > "$0"', fifo], { stdio: 'ignore' });
  t.after(() => writer.kill('SIGKILL'));
  let worst = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 20);
  const again = await NotesIndex.open({ config, embedder: await sharedEmbedder(), log: silentLogger() });
  t.after(() => again.close());
  await again.idle();
  clearInterval(tick);
  assert.ok(worst < 1_500, `the event loop stood still for ${Math.round(worst)} ms`);
  assert.equal(again.backlinks('Projects/Garden.md').length >= 1, true);
});

test('nearest notes by meaning leave the note itself out and give one entry per note', async (t) => {
  const idx = await openTestIndex(t, obsidianVault(t));
  await idx.sync();
  const near = await idx.nearestNotes('Archive/Ideas.md', 3);
  assert.equal(near.length, 3);
  assert.ok(!near.some((n) => n.path === 'Archive/Ideas.md'));
  assert.equal(new Set(near.map((n) => n.path)).size, 3);
  assert.deepEqual(await idx.nearestNotes('No/Such.md', 3), []);
});
