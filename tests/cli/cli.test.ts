import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { isServeCommand } from '../../src/cli/commands/shared.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';

function run(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('every command has --help', () => {
  for (const cmd of [
    [],
    ['serve'],
    ['index'],
    ['search'],
    ['status'],
    ['doctor'],
    ['token'],
    ['token', 'create'],
    ['model'],
    ['launchd'],
    ['nginx'],
  ]) {
    const r = run([...cmd, '--help']);
    assert.equal(r.code, 0, `${cmd.join(' ')} --help: ${r.err}`);
    assert.match(r.out, /Usage: notes-mcp/);
  }
});

test('index, search, status, doctor and tokens from the shell; errors are one line with a code', (t) => {
  const notes = tempDir(t);
  const state = tempDir(t);
  writeNotes(notes, {
    'garden.md': '# Garden\n\nPlant tomatoes in May. #outdoor\n',
    'work/plan.md': '---\ntags: [work]\n---\n# Plan\n\nShip the quarterly report.\n',
  });
  const g = ['--notes', notes, '--state', state, '--model', 'bundled'];
  const env = { HOME: state };

  const idx = run(['index', ...g, '--json'], env);
  assert.equal(idx.code, 0, idx.err);
  assert.equal(JSON.parse(idx.out).notes, 2);

  const s = run(['search', 'tomatoes', ...g, '--json', '-k', '3'], env);
  assert.equal(s.code, 0, s.err);
  // --json uses the search_notes tool's field names (changed on purpose: it said hits/startLine).
  assert.equal(JSON.parse(s.out).results[0].path, 'garden.md');
  assert.equal(typeof JSON.parse(s.out).results[0].start_line, 'number');
  const plain = run(['search', 'quarterly', 'report', ...g], env);
  assert.match(plain.out, /^1\. work\/plan\.md:\d+-\d+/m);

  const st = run(['status', ...g, '--json'], env);
  assert.equal(JSON.parse(st.out).notes, 2);

  const doc = run(['doctor', ...g, '--json'], env);
  assert.equal(doc.code, 0, doc.out);
  const names = (JSON.parse(doc.out) as { checks: Array<{ name: string }> }).checks.map((c) => c.name);
  for (const n of ['version', 'node', 'notes folder', 'model', 'model loads offline', 'index', 'tokens', 'serving'])
    assert.ok(names.includes(n), n);

  const created = run(['token', 'create', '--scope', 'read', '--name', 'phone', ...g, '--json'], env);
  const tok = JSON.parse(created.out) as { token: string; id: string; scope: string };
  assert.equal(tok.scope, 'read');
  const listed = run(['token', 'list', ...g, '--json'], env);
  assert.ok(!listed.out.includes(tok.token), 'list never shows token values');
  assert.equal(run(['token', 'revoke', tok.id, ...g], env).code, 0);
  const again = run(['token', 'revoke', tok.id, ...g], env);
  assert.notEqual(again.code, 0);
  assert.equal(again.err.trim().split('\n').length, 1);
  assert.match(again.err, /^notes-mcp: no token with id \w+ \(NOTES_E_TOKEN_NOT_FOUND\)$/m);

  const bad = run(['search', 'x', ...g, '-k', 'many'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /\(NOTES_E_USAGE\)/);
  const badEnv = run(['status', ...g], { ...env, NOTES_MCP_PORT: 'eighty' });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.err, /^notes-mcp: invalid configuration: environment: port: .*\(NOTES_E_CONFIG\)$/m);
});

test('a lock holder is a daemon when its command is serve, not when a folder is called serve', () => {
  const node = '/usr/local/bin/node';
  assert.ok(isServeCommand([node, '/app/bin/notes-mcp.js', 'serve', '--notes', '/n']));
  assert.ok(isServeCommand(['/usr/local/bin/notes-mcp', 'serve']));
  assert.ok(isServeCommand([node, '--max-semi-space-size=16', '/app/bin/notes-mcp.js', '--notes', '/n', 'serve']));
  assert.ok(isServeCommand([node, '/app/bin/notes-mcp.js', '--json', 'serve']));
  assert.ok(!isServeCommand([node, '/app/bin/notes-mcp.js', 'index', '--notes', 'serve']));
  assert.ok(!isServeCommand([node, '/app/bin/notes-mcp.js', '--notes', 'serve', 'index']));
  assert.ok(!isServeCommand([node, '/app/bin/notes-mcp.js', '--notes=serve', 'index']));
  assert.ok(!isServeCommand([node, 'serve.js', 'serve']));
  assert.ok(!isServeCommand([]));
});
