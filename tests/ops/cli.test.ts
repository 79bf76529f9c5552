import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { instancePlist, nginxSite, resolveLayout } from '../../src/ops/index.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';

// `notes-mcp launchd …` and `notes-mcp nginx …` as the scripts call them.

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NOTES_MCP_CONFIG: '' },
  });
}

test('launchd plist prints what the generator makes for the same flags', () => {
  const r = cli([
    'launchd',
    'plist',
    '--instance',
    'alice',
    '--arch',
    'arm64',
    '--port',
    '8766',
    '--server-name',
    'a.example.com',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    instancePlist(resolveLayout({ instance: 'alice', arch: 'arm64', port: 8766, serverName: 'a.example.com' })),
  );
});

test('nginx conf --out writes the file atomically and leaves no temp file', (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'site.conf');
  const r = cli([
    'nginx',
    'conf',
    '--instance',
    'bob',
    '--arch',
    'x86_64',
    '--server-name',
    'b.example.com',
    '--port',
    '8767',
    '--no-ipv6',
    '--out',
    out,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  const expected = nginxSite(resolveLayout({ instance: 'bob', arch: 'x86_64', port: 8767 }), {
    serverName: 'b.example.com',
    ipv6: false,
  });
  assert.equal(readFileSync(out, 'utf8'), expected);
  assert.deepEqual(readdirSync(dir), ['site.conf']);
});

test('bad input: one line on stderr with the code, exit 2, nothing written', (t) => {
  const dir = tempDir(t);
  const cases: string[][] = [
    ['launchd', 'plist', '--instance', 'Bad_Name'],
    ['nginx', 'conf', '--instance', 'x'],
    ['nginx', 'conf', '--server-name', 'evil.com;include', '--out', join(dir, 'x.conf')],
    ['launchd', 'plist', '--mode', 'agent', '--home', 'relative/home'],
  ];
  for (const args of cases) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^notes-mcp: .+ \(NOTES_E_USAGE\)\n$/, r.stderr);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('launchd layout --format shell is valid sh that the scripts can eval', () => {
  const r = cli([
    'launchd',
    'layout',
    '--format',
    'shell',
    '--instance',
    'o-brien',
    '--state',
    "/Users/Shared/it's state",
  ]);
  assert.equal(r.status, 0, r.stderr);
  const sh = spawnSync('sh', ['-c', `${r.stdout}\nprintf '%s|%s|%s' "$NM_LABEL" "$NM_STATE" "$NM_TOKEN_FILE"`], {
    encoding: 'utf8',
  });
  assert.equal(sh.status, 0, sh.stderr);
  assert.equal(sh.stdout, "com.notes-mcp.o-brien|/Users/Shared/it's state|/Users/Shared/it's state/access.token");
});

test('help lists every generator', () => {
  const launchd = cli(['launchd', '--help']).stdout;
  for (const sub of [
    'plist',
    'config',
    'newsyslog',
    'nginx-plist',
    'nginx-newsyslog',
    'renew-plist',
    'verify-plist',
    'layout',
  ]) {
    assert.match(launchd, new RegExp(`^  ${sub} `, 'm'), `launchd ${sub} missing from --help`);
  }
  const nginx = cli(['nginx', '--help']).stdout;
  for (const sub of ['conf', 'main']) assert.match(nginx, new RegExp(`^  ${sub} `, 'm'));
});
