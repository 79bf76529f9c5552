import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectBoth, startTestDaemon } from '../helpers/daemon.ts';
import { tldrVault, writeNotes } from '../helpers/vault.ts';

// search_notes as an agent calls it: a mode to fall back to keywords, quoted phrases honoured.

test('search_notes: mode bm25, vector and hybrid; a rare word finds its note first; phrases match in order', async (t) => {
  const notes = tldrVault(t, { common: 120 });
  writeNotes(notes, {
    'projects/zebra.md': '# Project Zebra\n\nThe codename quokkafish belongs to the billing rewrite.\n',
    'projects/order.md': '# Order\n\nbilling rewrite plan, then the rewrite of billing\n',
  });
  const d = await startTestDaemon(t, notes);
  for (const c of await connectBoth(t, d.url)) {
    for (const mode of ['hybrid', 'bm25'] as const) {
      const r = await c.callTool('search_notes', { query: 'quokkafish', mode, k: 3 });
      assert.notEqual(r.isError, true, JSON.stringify(r.content));
      const results = (r.structuredContent as { results: Array<{ path: string }> }).results;
      assert.equal(results[0]?.path, 'projects/zebra.md', `${c.era} ${mode}`);
    }
    const v = await c.callTool('search_notes', { query: 'rewrite of the billing system', mode: 'vector', k: 5 });
    assert.notEqual(v.isError, true);
    const bad = await c.callTool('search_notes', { query: 'x', mode: 'fuzzy' });
    assert.equal(bad.isError, true, 'an unknown mode is refused');
    const phrase = await c.callTool('search_notes', { query: '"rewrite of billing"', k: 5 });
    const paths = (phrase.structuredContent as { results: Array<{ path: string }> }).results.map((x) => x.path);
    assert.deepEqual(paths, ['projects/order.md'], `${c.era}: only the note with the words in that order`);
  }
});

test("a note's own name finds it first, ahead of notes that repeat the word more", async (t) => {
  const notes = tldrVault(t, { common: 10 });
  writeNotes(notes, {
    'tools/git.md': '# git\n\n> Distributed version control.\n\n- Show status: `git status`\n',
    'tools/git-log.md': '# git log\n\n> git log shows git commits, git history of the git repository.\n\n- `git log`\n',
    'tools/git-tag.md': '# git tag\n\n> git tags in git: git tag, git tag -d, git tag -l.\n\n- `git tag`\n',
  });
  const d = await startTestDaemon(t, notes);
  for (const c of await connectBoth(t, d.url)) {
    for (const mode of ['hybrid', 'bm25'] as const) {
      const r = await c.callTool('search_notes', { query: 'git', mode, k: 3 });
      const paths = (r.structuredContent as { results: Array<{ path: string }> }).results.map((x) => x.path);
      assert.equal(paths[0], 'tools/git.md', `${c.era} ${mode}: ${paths.join(', ')}`);
    }
    // A filter still applies: the named note outside it is not forced in.
    const f = await c.callTool('search_notes', { query: 'git', folder: 'common', k: 3 });
    const fp = (f.structuredContent as { results: Array<{ path: string }> }).results.map((x) => x.path);
    assert.ok(!fp.includes('tools/git.md'));
  }
});

test('a quoted phrase with symbols must appear as written, not just its words', async (t) => {
  const notes = tldrVault(t, { common: 5 });
  writeNotes(notes, {
    'a.md': '# A\n\nShow logs with `journal --since 1h`.\n',
    'b.md': '# B\n\nEverything since yesterday.\n',
    'c.md': '# C\n\n`last {{[-s|--since]}} {{-7days}}`\n',
  });
  const d = await startTestDaemon(t, notes);
  const [c] = await connectBoth(t, d.url);
  for (const mode of ['hybrid', 'bm25'] as const) {
    const r = await c!.callTool('search_notes', { query: '"--since"', mode, k: 10 });
    const paths = (r.structuredContent as { results: Array<{ path: string }> }).results.map((x) => x.path).sort();
    assert.deepEqual(paths, ['a.md', 'c.md'], mode);
  }
});
