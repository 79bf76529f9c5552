import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { silentLogger } from '../../src/log.ts';
import { type McpDeps, runTool } from '../../src/mcp/context.ts';
import { connectV1, startTestDaemon } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';

// "Acknowledged means done, and errors mean not done."

function depsWithTimeout(ms: number): McpDeps {
  const config = loadConfig({ env: {}, flags: { notes: '/nonexistent', state: '/nonexistent', toolTimeoutMs: ms } });
  return { config, log: silentLogger() } as unknown as McpDeps;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a call that times out before changing anything reports the timeout, and its body can no longer start a change', async () => {
  let refused: unknown;
  const r = await runTool(depsWithTimeout(100), { era: 'legacy' }, 'write_note', async (c) => {
    await sleep(300);
    try {
      c.beginChange();
    } catch (err) {
      refused = err;
      throw err;
    }
    return { content: [{ type: 'text', text: 'written' }] };
  });
  assert.equal(r.isError, true);
  assert.match(r.content[0]!.text, /nothing was changed/);
  await sleep(300);
  assert.ok(refused, 'the late body was told to stop before changing anything');
});

test('a change under way when the timeout passes completes and is reported as done, never as a failure', async () => {
  const r = await runTool(depsWithTimeout(100), { era: 'legacy' }, 'write_note', async (c) => {
    c.beginChange();
    await sleep(400);
    return { content: [{ type: 'text', text: 'written' }] };
  });
  assert.notEqual(r.isError, true);
  assert.equal(r.content[0]!.text, 'written');
});

test('write_note succeeds when the index refresh after it fails: indexed false with a reason, retried until searchable', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const d = await startTestDaemon(t, notes);
  const real = d.index.refresh.bind(d.index);
  let failures = 1;
  d.index.refresh = async (paths) => {
    if (failures-- > 0) throw new Error('disk I/O error');
    return real(paths);
  };
  const c = await connectV1(t, d.url);
  const w = await c.callTool({
    name: 'write_note',
    arguments: { path: 'b.md', content: '# B\n\nzanzibarite crystals\n' },
  });
  assert.notEqual(w.isError, true, JSON.stringify(w.content));
  const out = w.structuredContent as { indexed: boolean; index_note?: string; hash: string };
  assert.equal(out.indexed, false);
  assert.match(out.index_note ?? '', /retried/);
  assert.doesNotMatch(out.index_note ?? '', /\//, 'no paths in what the model reads');
  assert.match(readFileSync(join(notes, 'b.md'), 'utf8'), /zanzibarite/);
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await sleep(250);
    const s = await c.callTool({ name: 'search_notes', arguments: { query: 'zanzibarite' } });
    found = JSON.stringify(s.structuredContent).includes('b.md');
  }
  assert.ok(found, 'the retry made the note searchable');
});

test('a path that cannot be encoded (lone surrogate) is refused before anything is written', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const before = readdirSync(notes).sort();
  for (const path of ['bad\uD800name.md', 'dir\uDC00/x.md']) {
    const w = await c.callTool({ name: 'write_note', arguments: { path, content: 'x' } });
    assert.equal(w.isError, true, path);
    assert.match(JSON.stringify(w.content), /surrogate/);
  }
  assert.deepEqual(readdirSync(notes).sort(), before);
  assert.equal(existsSync(join(notes, 'bad\uFFFDname.md')), false);
});
