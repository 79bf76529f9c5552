import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';
import { connectV2 } from '../helpers/daemon.ts';
import { freePort, spawnDaemon, untilHealthy } from '../helpers/spawn.ts';
import { tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';

// Found from outside: a daemon killed while move_note rewrote the linking notes left most of
// them pointing at the old path for good, and nothing said so.

const LINKING = 300;

async function untilIndexed(port: number): Promise<void> {
  for (let i = 0; i < 1_200; i++) {
    const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    const body = r?.ok ? ((await r.json()) as { notes?: number; index?: { syncing?: boolean } }) : undefined;
    if (body?.index?.syncing === false && (body.notes ?? 0) > LINKING) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the daemon did not index its notes in 120 s');
}

const rewritten = (text: string) => text.includes('](../moved/Topic.md)');

test('a daemon killed while move_note rewrites links finishes the rewrites at its next start', {
  timeout: 240_000,
}, async (t) => {
  const notes = tempDir(t, 'notes-mcp-move-crash-');
  const state = tempDir(t, 'notes-mcp-move-crash-state-');
  const files: Record<string, string> = { 'Topic.md': '# Topic\n\nThe one everything links to.\n' };
  for (let i = 0; i < LINKING; i++) files[`links/n${i}.md`] = `# Note ${i}\n\nSee [the topic](../Topic.md).\n`;
  writeNotes(notes, files);
  const linking = Object.keys(files).filter((p) => p.startsWith('links/'));

  const port = await freePort();
  const first = spawnDaemon(notes, state, port);
  t.after(() => first.child.kill('SIGKILL'));
  await untilHealthy(port, first.child);
  await untilIndexed(port);
  const c = await connectV2(t, `http://127.0.0.1:${port}/mcp`);
  const call = c
    .callTool({ name: 'move_note', arguments: { from: 'Topic.md', to: 'moved/Topic.md' } })
    .catch(() => undefined);
  // Killed as soon as the note is at its new name: the rewrites have only begun.
  const dest = join(notes, 'moved', 'Topic.md');
  for (let i = 0; !existsSync(dest); i++) {
    assert.ok(i < 2_000_000, 'the move happened');
    await tick();
  }
  first.child.kill('SIGKILL');
  await call;
  const done = linking.filter((p) => rewritten(readFileSync(join(notes, p), 'utf8')));
  assert.ok(done.length < LINKING, `the kill landed before the rewrites finished (${done.length} of ${LINKING})`);
  // One linking note edited while the daemon is down: not rewritten over the new text.
  const edited = linking.find((p) => !done.includes(p))!;
  writeFileSync(join(notes, edited), '# Edited by hand\n\nSee [the topic](../Topic.md) and more.\n');

  const port2 = await freePort();
  const second = spawnDaemon(notes, state, port2);
  t.after(() => second.child.kill('SIGKILL'));
  await untilHealthy(port2, second.child);
  const left = linking.filter((p) => p !== edited && !rewritten(readFileSync(join(notes, p), 'utf8')));
  assert.deepEqual(left, [], 'every linking note unchanged since the plan has its link rewritten');
  assert.equal(
    readFileSync(join(notes, edited), 'utf8'),
    '# Edited by hand\n\nSee [the topic](../Topic.md) and more.\n',
  );
  const history = readdirSync(join(state, 'history')).map((v) => join(state, 'history', v));
  assert.deepEqual(
    history.flatMap((h) => readdirSync(join(h, 'moves'))),
    [],
    'the plan is gone once carried out',
  );

  // The rewrites finished at start belong to the move: undoing it puts every link back.
  await untilIndexed(port2);
  const c2 = await connectV2(t, `http://127.0.0.1:${port2}/mcp`);
  const u = await c2.callTool({ name: 'restore_note', arguments: { path: 'moved/Topic.md' } });
  assert.notEqual(u.isError, true, JSON.stringify(u.content));
  assert.equal(existsSync(join(notes, 'Topic.md')), true);
  const back = linking.filter((p) => p !== edited && readFileSync(join(notes, p), 'utf8') !== files[p]);
  assert.deepEqual(back, [], 'restore_note put every rewritten link back');
  second.child.kill('SIGTERM');
});
