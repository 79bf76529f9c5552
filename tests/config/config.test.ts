import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { indexDirFor, isLoopbackHost, loadConfig } from '../../src/config/index.ts';
import { isNotesError } from '../../src/errors.ts';
import { VERSION } from '../../src/version.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';

test('defaults follow PRODUCT.md', () => {
  const c = loadConfig({ env: { HOME: '/home/u' }, cwd: '/work' });
  assert.equal(c.notesDir, '/work/notes');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8765);
  assert.equal(c.model, 'auto');
  assert.equal(c.auth, true);
  assert.ok(
    c.stateDir === '/home/u/.local/share/notes-mcp' || c.stateDir.endsWith('/Library/Application Support/notes-mcp'),
  );
  assert.ok(Object.isFrozen(c));
});

test('flags override environment, which overrides the config file', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ port: 1111, host: '127.0.0.2', model: 'bundled', logLevel: 'warn' }));
  const c = loadConfig({
    env: { HOME: dir, NOTES_MCP_CONFIG: file, NOTES_MCP_PORT: '2222', NOTES_MCP_HOST: '127.0.0.3' },
    flags: { port: 3333 },
    cwd: dir,
  });
  assert.equal(c.port, 3333);
  assert.equal(c.host, '127.0.0.3');
  assert.equal(c.model, 'bundled');
  assert.equal(c.logLevel, 'warn');
  assert.equal(c.configFile, file);
});

test('lists come from comma-separated environment values', () => {
  const c = loadConfig({ env: { HOME: '/h', NOTES_MCP_ALLOWED_HOSTS: 'notes.example.com, other.example ' } });
  assert.deepEqual(c.allowedHosts, ['notes.example.com', 'other.example']);
});

test('invalid values give a NOTES_E_CONFIG error naming the field', () => {
  assert.throws(
    () => loadConfig({ env: { HOME: '/h', NOTES_MCP_PORT: 'eighty' } }),
    (e: unknown) => isNotesError(e, 'NOTES_E_CONFIG') && /environment: port/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ env: { HOME: '/h' }, flags: { bogus: 1 } }),
    (e: unknown) => isNotesError(e, 'NOTES_E_CONFIG'),
  );
});

test('a token file is read when no token is given, and short tokens are refused', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'tok'), 'abcdefghijklmnopqrstuvwxyz\n');
  const c = loadConfig({ env: { HOME: dir, NOTES_MCP_TOKEN_FILE: join(dir, 'tok') } });
  assert.equal(c.token, 'abcdefghijklmnopqrstuvwxyz');
  assert.throws(() => loadConfig({ env: { HOME: dir, NOTES_MCP_TOKEN: 'short' } }), /16 characters/);
});

test('each notes root gets its own index folder', () => {
  assert.notEqual(indexDirFor('/s', '/a/notes'), indexDirFor('/s', '/b/notes'));
  assert.equal(indexDirFor('/s', '/a/notes'), indexDirFor('/s', '/a/notes'));
});

test('loopback detection', () => {
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '10.0.0.1', 'example.com', '::']) assert.ok(!isLoopbackHost(h), h);
});

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});
