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
