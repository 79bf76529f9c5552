import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { globSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { contentHash } from '../../src/notes/index.ts';
import { connectV1, startTestDaemon } from '../helpers/daemon.ts';
import { BIN } from '../helpers/tmp.ts';
import { obsidianVault } from '../helpers/vault.ts';

// `notes-mcp history` and `notes-mcp restore`, run next to a daemon that made the changes.

function run(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, out, errOut) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, out, err: errOut });
    });
  });
}

test('history and restore from the shell: list, undo, named version, conflicts, exit codes', async (t) => {
  const notes = obsidianVault(t);
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const g = ['--notes', notes, '--state', d.index.config.stateDir];
  const env = { HOME: d.index.config.stateDir };
  const v0 = readFileSync(join(notes, 'Projects/Ideas.md'), 'utf8');
  const e = await c.callTool({
    name: 'edit_note',
    arguments: { path: 'Projects/Ideas.md', operations: [{ op: 'append', text: 'A windmill.\n' }] },
  });
  assert.notEqual(e.isError, true, JSON.stringify(e.content));
  await c.callTool({ name: 'delete_note', arguments: { path: 'Archive/Ideas.md' } });

  for (const cmd of [['history'], ['restore']]) {
    const h = await run([...cmd, '--help'], env);
    assert.equal(h.code, 0);
    assert.match(h.out, /Usage: notes-mcp/);
  }
  const all = await run(['history', ...g], env);
  assert.equal(all.code, 0, all.err);
  const lines = all.out.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /delete_note {3}Archive\/Ideas\.md {2}[0-9a-f]{12} -> \(none\) {2}token env \(NOTES_MCP_TOKEN\)/,
  );
  assert.match(lines[1]!, /edit_note {5}Projects\/Ideas\.md/);
  const json = JSON.parse((await run(['history', 'Projects/Ideas.md', '--json', ...g], env)).out) as Array<{
    before: string;
    after: string;
  }>;
  assert.deepEqual(
    json.map((x) => x.before),
    [contentHash(v0)],
  );

  // Undo the delete: back from the trash, recorded as the shell user's change.
  const r1 = await run(['restore', 'Archive/Ideas.md', ...g], env);
  assert.equal(r1.code, 0, r1.err);
  assert.match(r1.out, /Archive\/Ideas\.md: brought back from the trash/);
  const h1 = JSON.parse((await run(['history', 'Archive/Ideas.md', '--json', '-n', '1', ...g], env)).out);
  assert.equal(h1[0].tool, 'restore_note');
  assert.equal(h1[0].who.transport, 'cli');

  // An edit made in an editor is not replaced without --expected-hash.
  writeFileSync(join(notes, 'Projects/Ideas.md'), '# Ideas\n\nfrom my editor\n');
  const refused = await run(['restore', 'Projects/Ideas.md', ...g], env);
  assert.equal(refused.code, 1);
  assert.match(
    refused.err,
    /^notes-mcp: note Projects\/Ideas\.md changed since you read it .*\(NOTES_E_NOTE_CONFLICT\)\n$/,
  );
  assert.match(readFileSync(join(notes, 'Projects/Ideas.md'), 'utf8'), /from my editor/);
  const current = contentHash('# Ideas\n\nfrom my editor\n');
  const forced = await run(
    ['restore', 'Projects/Ideas.md', '--to', contentHash(v0), '--expected-hash', current, '--json', ...g],
    env,
  );
  assert.equal(forced.code, 0, forced.err);
  assert.equal(JSON.parse(forced.out).hash, contentHash(v0));
  assert.equal(readFileSync(join(notes, 'Projects/Ideas.md'), 'utf8'), v0);

  // The daemon sees the shell's restores: searchable, and in note_history over MCP.
  const nh = await c.callTool({ name: 'note_history', arguments: { path: 'Projects/Ideas.md', limit: 1 } });
  const top = (nh.structuredContent as { changes: Array<{ who: { transport: string }; before: string }> }).changes[0]!;
  assert.equal(top.who.transport, 'cli');
  assert.equal(top.before, current, "the editor's text is now a kept version");

  const bad = await run(['restore', 'Projects/Ideas.md', '--to', 'xyz', ...g], env);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /NOTES_E_USAGE/);
  const none = await run(['restore', 'Home.md', ...g], env);
  assert.equal(none.code, 1);
  assert.match(
    none.err,
    /^notes-mcp: cannot restore Home\.md: notes-mcp has recorded no change to it \(NOTES_E_VERSION_NOT_FOUND\)\n$/,
  );
  // A kept copy removed or changed behind notes-mcp's back is named as such, not as retention.
  const blobOf = (hash: string) =>
    globSync(`history/*/blobs/${hash.slice(0, 2)}/${hash}`, { cwd: d.index.config.stateDir })[0];
  const afterEdit = contentHash(readFileSync(join(notes, 'Projects/Ideas.md'), 'utf8'));
  const editorBlob = blobOf(current);
  assert.ok(editorBlob, 'the editor text is kept');
  writeFileSync(join(d.index.config.stateDir, editorBlob), 'tampered\n');
  const damaged = await run(['restore', 'Projects/Ideas.md', '--to', current, '--expected-hash', afterEdit, ...g], env);
  assert.equal(damaged.code, 1);
  assert.match(damaged.err, /no longer matches its hash \(changed outside notes-mcp\).*NOTES_E_VERSION_NOT_FOUND/);
  rmSync(join(d.index.config.stateDir, editorBlob));
  const missing = await run(['restore', 'Projects/Ideas.md', '--to', current, '--expected-hash', afterEdit, ...g], env);
  assert.match(missing.err, /is missing from the history folder \(removed outside notes-mcp\)/);
  assert.equal(readFileSync(join(notes, 'Projects/Ideas.md'), 'utf8'), v0, 'nothing was written');
  const outside = await run(['restore', '../x.md', ...g], env);
  assert.equal(outside.code, 1);
  assert.match(outside.err, /NOTES_E_PATH_INVALID/);
});
