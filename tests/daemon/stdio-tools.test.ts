import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { contentHash } from '../../src/notes/index.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { obsidianVault } from '../helpers/vault.ts';

// The editing, link and history tools over stdio (a spawned `serve --stdio`), both client
// generations: what a local host like Claude Desktop or Cursor runs.

type Call = (
  name: string,
  args: Record<string, unknown>,
) => Promise<{ isError?: boolean; structuredContent?: unknown; content?: unknown }>;

async function connect(
  era: '2025' | '2026',
  notes: string,
  state: string,
): Promise<{ call: Call; close: () => Promise<void> }> {
  const args = [BIN, 'serve', '--stdio', '--notes', notes, '--state', state, '--model', 'bundled'];
  const env = { ...process.env, HOME: state, NOTES_MCP_LOG_LEVEL: 'warn' } as Record<string, string>;
  if (era === '2025') {
    const c = new ClientV1({ name: 'stdio-v1', version: '1' });
    await c.connect(new StdioClientTransport({ command: process.execPath, args, env, stderr: 'ignore' }));
    return { call: (name, a) => c.callTool({ name, arguments: a }) as never, close: () => c.close() };
  }
  const c = new ClientV2({ name: 'stdio-v2', version: '2' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await c.connect(new StdioV2({ command: process.execPath, args, env, stderr: 'ignore' }));
  return { call: (name, a) => c.callTool({ name, arguments: a }) as never, close: () => c.close() };
}

for (const era of ['2025', '2026'] as const) {
  test(`[${era}] over stdio: edit, conflict, move with links, delete, restore, history and related notes`, {
    timeout: 60_000,
  }, async (t) => {
    const notes = obsidianVault(t);
    const state = tempDir(t, 'notes-mcp-stdio-state-');
    const { call, close } = await connect(era, notes, state);
    t.after(close);
    const ok = async (name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const r = await call(name, args);
      assert.notEqual(r.isError, true, `${name}: ${JSON.stringify(r.content)}`);
      return r.structuredContent as Record<string, unknown>;
    };
    const fails = async (name: string, args: Record<string, unknown>, re: RegExp): Promise<void> => {
      const r = await call(name, args);
      assert.equal(r.isError, true, name);
      assert.match(JSON.stringify(r.content), re);
    };
    // The initial index runs in the background: until it has the alias, "Start" is not found;
    // wait until it resolves and backlinks are known.
    let home: Record<string, unknown> = {};
    for (let i = 0; i < 200; i++) {
      const r = await call('read_note', { path: 'Start' });
      if (r.isError !== true) home = r.structuredContent as Record<string, unknown>;
      if (Number(home.backlinks_total) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(home.path, 'Home.md');
    assert.equal(home.backlinks_total, 5);

    const e = await ok('edit_note', {
      path: 'Home.md',
      expected_hash: home.hash,
      operations: [{ op: 'replace', old: 'Someday: [[Missing Note]].', new: 'Someday: [[Bread]].' }],
    });
    assert.match(String(e.diff), /-Someday: \[\[Missing Note\]\]\.\n\+Someday: \[\[Bread\]\]\./);
    await fails(
      'edit_note',
      { path: 'Home.md', expected_hash: home.hash, operations: [{ op: 'append', text: 'x' }] },
      /changed since you read it/,
    );

    const m = await ok('move_note', { from: 'Recipes/Bread.md', to: 'Kitchen/Bread Loaf.md' });
    assert.deepEqual((m.links_updated as Array<{ path: string }>).map((u) => u.path).sort(), [
      'Home.md',
      'Recipes/Sourdough Starter.md',
    ]);
    assert.match(
      readFileSync(join(notes, 'Home.md'), 'utf8'),
      /\[\[Kitchen\/Bread Loaf#Starter\]\]\.\nSomeday: \[\[Bread Loaf\]\]\./,
    );
    await fails('move_note', { from: 'Kitchen/Bread Loaf.md', to: 'Home.md' }, /already exists/);

    const del = await ok('delete_note', { path: 'Daily/2026-01-05.md' });
    assert.equal(existsSync(join(notes, 'Daily/2026-01-05.md')), false);
    const back = await ok('restore_note', { path: 'Daily/2026-01-05.md' });
    assert.equal(back.hash, del.hash);

    const h = await ok('note_history', { path: 'Home.md' });
    const changes = h.changes as Array<{ tool: string; who: Record<string, unknown>; after: string }>;
    assert.deepEqual(
      changes.map((c) => c.tool),
      ['move_note', 'edit_note'],
    );
    assert.deepEqual(changes[0]!.who, { transport: 'stdio' });
    assert.equal(changes[0]!.after, contentHash(readFileSync(join(notes, 'Home.md'))));
    const undo = await ok('restore_note', { path: 'Home.md' });
    assert.equal(undo.how, 'version');
    assert.doesNotMatch(readFileSync(join(notes, 'Home.md'), 'utf8'), /Bread Loaf/);

    const rel = await ok('related_notes', { path: 'Allotment', k: 2 });
    assert.equal(rel.path, 'Projects/Garden.md');
    assert.equal((rel.similar as unknown[]).length, 2);
  });
}
