import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { History } from '../../src/history/index.ts';
import { TEST_TOKEN } from '../helpers/daemon.ts';
import { freePort, spawnDaemon, untilHealthy } from '../helpers/spawn.ts';
import { tempDir } from '../helpers/tmp.ts';
import { testConfig, writeNotes } from '../helpers/vault.ts';

// SIGKILL while agents edit, move, delete and restore notes: no acknowledged change is lost,
// no edit is half-applied (an edit's two operations land together or not at all), no note
// is lost between its place and the trash, and the daemon restarts on what is left.

const EDITORS = 3;
const MOVED = '# Moved\n\nThis note travels between two folders.\n';
const DELETED = '# Deleted\n\nThis note goes to the trash and comes back.\n';

type Tool = { isError?: boolean; structuredContent?: Record<string, unknown> };

async function client(port: number): Promise<ClientV1> {
  const c = new ClientV1({ name: 'crash', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } },
    }),
  );
  return c;
}

/** What an editor's note says: its lines in order, and the count its other operation keeps. */
function parseEdited(text: string): { lines: string[]; count: number } {
  const count = Number(/^count: (\d+)$/m.exec(text)?.[1] ?? -1);
  return { lines: text.split('\n').filter((l) => l.startsWith('line ')), count };
}

test('SIGKILL during edits, moves, deletes and restores: nothing acknowledged lost, nothing half-applied', {
  timeout: 180_000,
}, async (t) => {
  const notes = tempDir(t, 'notes-mcp-crash-');
  const state = tempDir(t, 'notes-mcp-crash-state-');
  const files: Record<string, string> = { 'm.md': MOVED, 'd.md': DELETED };
  for (let i = 0; i < EDITORS; i++) files[`e${i}.md`] = `# Editor ${i}\n\ncount: 0\n`;
  writeNotes(notes, files);
  const acked = Array.from({ length: EDITORS }, () => 0);
  const trash = join(testConfig(notes, state).historyDir, 'trash');
  let killedMidChange = 0;

  for (const killAfter of [700, 1300, 2100]) {
    const port = await freePort();
    const { child, stderr } = spawnDaemon(notes, state, port);
    t.after(() => child.kill('SIGKILL'));
    await untilHealthy(port, child);
    const clients = await Promise.all(Array.from({ length: EDITORS + 2 }, () => client(port)));
    let stop = false;
    let inFlight = 0;
    const call = async (c: ClientV1, name: string, args: Record<string, unknown>): Promise<Tool | undefined> => {
      inFlight++;
      try {
        // Bounded: a call cut off by the kill may otherwise wait out the SDK's 60 s default.
        return (await c.callTool({ name, arguments: args }, undefined, { timeout: 5_000 })) as Tool;
      } catch {
        stop = true; // the daemon is gone: this call was not acknowledged
        return undefined;
      } finally {
        inFlight--;
      }
    };
    const editors = Array.from({ length: EDITORS }, async (_, i) => {
      const c = clients[i]!;
      const first = await call(c, 'read_note', { path: `e${i}.md` });
      let hash = first?.structuredContent?.['hash'];
      while (!stop) {
        const n = acked[i]!;
        const r = await call(c, 'edit_note', {
          path: `e${i}.md`,
          expected_hash: hash,
          operations: [
            { op: 'append', text: `line ${n}\n` },
            { op: 'replace', old: `count: ${n}\n`, new: `count: ${n + 1}\n` },
          ],
        });
        if (!r) break;
        assert.notEqual(r.isError, true, JSON.stringify(r));
        acked[i] = n + 1;
        hash = r.structuredContent?.['hash'];
      }
    });
    const mover = (async () => {
      const c = clients[EDITORS]!;
      while (!stop) {
        const here = existsSync(join(notes, 'm.md')) ? 'm.md' : 'moved/m.md';
        const r = await call(c, 'move_note', { from: here, to: here === 'm.md' ? 'moved/m.md' : 'm.md' });
        if (!r) break;
      }
    })();
    const deleter = (async () => {
      const c = clients[EDITORS + 1]!;
      while (!stop) {
        const there = existsSync(join(notes, 'd.md'));
        if (!(await call(c, there ? 'delete_note' : 'restore_note', { path: 'd.md' }))) break;
      }
    })();
    await new Promise((r) => setTimeout(r, killAfter));
    if (inFlight > 0) killedMidChange++;
    child.kill('SIGKILL');
    await once(child, 'exit');
    stop = true;
    await Promise.allSettled([...editors, mover, deleter]);
    await Promise.allSettled(clients.map((c) => c.close()));

    for (let i = 0; i < EDITORS; i++) {
      const { lines, count } = parseEdited(readFileSync(join(notes, `e${i}.md`), 'utf8'));
      // Both operations of an edit or neither: the count matches the lines appended.
      assert.equal(count, lines.length, `e${i}.md: count ${count} with ${lines.length} lines`);
      assert.deepEqual(
        lines,
        Array.from({ length: lines.length }, (_, n) => `line ${n}`),
        `e${i}.md lines in order, none torn`,
      );
      // Every acknowledged edit is there; at most the one in flight beyond it.
      assert.ok(lines.length >= acked[i]! && lines.length <= acked[i]! + 1, `e${i}.md: ${lines.length} vs ${acked[i]}`);
      acked[i] = lines.length;
    }
    const places = ['m.md', 'moved/m.md'].filter((p) => existsSync(join(notes, p)));
    assert.ok(places.length >= 1, 'the moved note is somewhere');
    for (const p of places) assert.equal(readFileSync(join(notes, p), 'utf8'), MOVED);
    // Killed between the link and the unlink of a move, both names hold the note; the next
    // move of it finishes that one.
    const trashed = existsSync(trash) ? readdirSync(trash).map((f) => readFileSync(join(trash, f), 'utf8')) : [];
    const inPlace = existsSync(join(notes, 'd.md'));
    assert.ok(inPlace || trashed.includes(DELETED), 'the deleted note is in place or in the trash');
    if (inPlace) assert.equal(readFileSync(join(notes, 'd.md'), 'utf8'), DELETED);
    const history = new History({ dir: testConfig(notes, state).historyDir, maxAgeDays: 30, maxBytes: 2 ** 40 });
    for (let i = 0; i < EDITORS; i++) {
      const edits = (await history.versions(`e${i}.md`)).filter((e) => e.tool === 'edit_note');
      assert.ok(edits.length >= acked[i]!, `e${i}.md: every applied edit is in the history`);
    }
    assert.doesNotMatch(stderr(), /FATAL|Unhandled/);
  }
  assert.ok(killedMidChange >= 2, `the kills hit changes in flight (${killedMidChange} of 3)`);
  assert.ok(
    acked.every((n) => n > 3),
    `the editors made progress (${acked.join(', ')})`,
  );

  // The daemon starts on what the kills left and serves every tool on it.
  const port = await freePort();
  const { child } = spawnDaemon(notes, state, port);
  t.after(() => child.kill('SIGKILL'));
  await untilHealthy(port, child);
  const c = await client(port);
  t.after(() => c.close());
  const e0 = (await c.callTool({ name: 'read_note', arguments: { path: 'e0.md' } })) as Tool;
  assert.notEqual(e0.isError, true);
  if (!existsSync(join(notes, 'd.md'))) {
    const r = (await c.callTool({ name: 'restore_note', arguments: { path: 'd.md' } })) as Tool;
    assert.notEqual(r.isError, true, JSON.stringify(r));
    assert.equal(readFileSync(join(notes, 'd.md'), 'utf8'), DELETED);
  }
  child.kill('SIGTERM');
  await once(child, 'exit');
});
