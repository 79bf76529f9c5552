import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import {
  instanceConfig,
  instanceNewsyslog,
  instancePlist,
  type Layout,
  LayoutError,
  type LayoutInput,
  layoutAsShell,
  nginxMain,
  nginxNewsyslog,
  nginxPlist,
  nginxSite,
  renewPlist,
  resolveLayout,
  verifyPlist,
} from '../../src/ops/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { checkGolden, parsePlist, stringArray, stringRecord } from './helpers.ts';

const DAEMON: LayoutInput = { instance: 'default', mode: 'daemon', arch: 'arm64', serverName: 'notes.example.com' };
const AGENT: LayoutInput = {
  instance: 'alice',
  mode: 'agent',
  arch: 'x86_64',
  home: '/Users/alice',
  user: 'alice',
  port: 8766,
};

test('golden files: plists, newsyslog, config and nginx for a daemon and an agent', () => {
  const daemon = resolveLayout(DAEMON);
  const agent = resolveLayout(AGENT);
  checkGolden('daemon-arm64.plist', instancePlist(daemon), ['launchd/examples/com.notes-mcp.default.plist']);
  checkGolden('agent-x86_64.plist', instancePlist(agent), ['launchd/examples/com.notes-mcp.alice.agent.plist']);
  checkGolden('daemon-config.json', instanceConfig(daemon), ['launchd/examples/default.json']);
  checkGolden('daemon-newsyslog.conf', instanceNewsyslog(daemon), [
    'launchd/examples/com.notes-mcp.default.newsyslog.conf',
  ]);
  checkGolden('nginx.plist', nginxPlist(daemon), ['launchd/examples/com.notes-mcp.nginx.plist']);
  checkGolden('nginx-newsyslog.conf', nginxNewsyslog(daemon), ['launchd/examples/com.notes-mcp.nginx.newsyslog.conf']);
  checkGolden('renew-certbot.plist', renewPlist(daemon, { client: 'certbot', certName: 'notes.example.com' }), [
    'launchd/examples/com.notes-mcp.default.cert-renew.plist',
  ]);
  checkGolden(
    'renew-acme.plist',
    renewPlist(resolveLayout({ ...DAEMON, serverName: '203.0.113.7' }), { client: 'acme.sh', certName: '203.0.113.7' }),
  );
  checkGolden('nginx-main.conf', nginxMain(daemon, { workerUser: 'nobody', workerGroup: 'nobody' }), [
    'nginx/examples/nginx.conf',
  ]);
  checkGolden('nginx-site-domain.conf', nginxSite(daemon, { serverName: 'notes.example.com', http2: true }), [
    'nginx/examples/servers/default.conf',
  ]);
  checkGolden(
    'nginx-site-ip.conf',
    nginxSite(resolveLayout({ ...DAEMON, instance: 'bob', port: 8767 }), {
      serverName: '203.0.113.7',
      httpsPort: 8443,
      ipv6: false,
    }),
  );
  checkGolden('layout-default.sh', layoutAsShell(daemon));
  checkGolden(
    'verify-daemon.plist',
    verifyPlist(daemon, {
      url: 'https://notes.example.com',
      resolveIp: '127.0.0.1',
      cacert: '/opt/notes-mcp/etc/tls/ca/ca.pem',
    }),
    ['launchd/examples/com.notes-mcp.default.verify.plist'],
  );
});

function checkJobPlist(xml: string, label: string): Record<string, unknown> {
  const p = parsePlist(xml);
  assert.equal(p.Label, label);
  const args = stringArray(p.ProgramArguments);
  assert.ok(isAbsolute(args[0] ?? ''), `ProgramArguments[0] must be absolute: ${args[0]}`);
  for (const key of ['WorkingDirectory', 'StandardOutPath', 'StandardErrorPath']) {
    if (p[key] !== undefined) assert.ok(isAbsolute(String(p[key])), `${key} must be absolute`);
  }
  const env = stringRecord(p.EnvironmentVariables);
  assert.ok(env.PATH?.startsWith('/'), 'PATH must list absolute folders first');
  for (const dir of (env.PATH ?? '').split(':')) assert.ok(isAbsolute(dir), `PATH entry ${dir} is not absolute`);
  // Plists are world-readable: a token may only ever be referenced by file.
  assert.ok(!('NOTES_MCP_TOKEN' in env), 'a token must never be written into a plist');
  for (const v of Object.values(env)) assert.doesNotMatch(v, /^[A-Za-z0-9_-]{32,}$/, 'looks like a secret');
  return p;
}

test('the daemon plist carries the launchd keys the ops kit relies on, with absolute paths', () => {
  const layout = resolveLayout(DAEMON);
  const p = checkJobPlist(instancePlist(layout), 'com.notes-mcp.default');
  const args = stringArray(p.ProgramArguments);
  assert.deepEqual(args.slice(-4), [
    '/opt/homebrew/opt/node@24/bin/node',
    // A capped young generation: the steady RSS budget (bench/README.md, Memory).
    '--max-semi-space-size=16',
    // The instance's own pin: another instance's upgrade never changes what this one runs.
    '/opt/notes-mcp/instances/default/current/bin/notes-mcp.js',
    'serve',
  ]);
  for (const a of args.slice(4))
    assert.ok(isAbsolute(a) || a === 'serve' || a.startsWith('--max-semi-space-size='), `${a} must be absolute`);
  assert.equal(p.UserName, '_notesmcp');
  assert.equal(p.RunAtLoad, true);
  assert.equal(p.KeepAlive, true);
  assert.equal(p.ThrottleInterval, 10);
  // The daemon drains in < 5 s; launchd must not SIGKILL it before that.
  assert.ok(typeof p.ExitTimeOut === 'number' && p.ExitTimeOut >= 15);
  assert.equal(p.WorkingDirectory, layout.state);
  const env = stringRecord(p.EnvironmentVariables);
  assert.equal(env.NOTES_MCP_CONFIG, '/opt/notes-mcp/etc/default.json');
  assert.equal(env.NODE_ENV, 'production');
  assert.ok(env.PATH?.startsWith('/opt/homebrew/bin:'));
  assert.match(String(p.StandardErrorPath), /^\/Library\/Logs\/notes-mcp\/default\//);
});

test('the agent plist has no UserName and keeps everything under the home folder', () => {
  const layout = resolveLayout(AGENT);
  const p = checkJobPlist(instancePlist(layout), 'com.notes-mcp.alice');
  assert.equal(p.UserName, undefined);
  assert.equal(layout.domain, 'gui');
  assert.equal(layout.plistPath, '/Users/alice/Library/LaunchAgents/com.notes-mcp.alice.plist');
  assert.ok(stringArray(p.ProgramArguments).includes('/usr/local/opt/node@24/bin/node'));
  assert.ok(String(p.StandardOutPath).startsWith('/Users/alice/Library/Logs/notes-mcp/alice/'));
  assert.equal(stringRecord(p.EnvironmentVariables).HOME, undefined);
});

test('nginx and renewal plists parse and point at Homebrew binaries', () => {
  const layout = resolveLayout(DAEMON);
  const n = checkJobPlist(nginxPlist(layout), 'com.notes-mcp.nginx');
  assert.deepEqual(stringArray(n.ProgramArguments), [
    '/opt/homebrew/opt/nginx/bin/nginx',
    '-c',
    '/opt/notes-mcp/etc/nginx/nginx.conf',
    '-g',
    'daemon off;',
  ]);
  assert.equal(n.KeepAlive, true);
  const r = checkJobPlist(
    renewPlist(layout, { client: 'certbot', certName: 'notes.example.com' }),
    'com.notes-mcp.default.cert-renew',
  );
  const rargs = stringArray(r.ProgramArguments);
  assert.equal(rargs[0], '/opt/homebrew/bin/certbot');
  assert.ok(rargs.includes('--deploy-hook'));
  assert.equal(r.RunAtLoad, false);
  assert.ok(Array.isArray(r.StartCalendarInterval) && r.StartCalendarInterval.length === 2);
});

test("the verify job runs the pinned release's verify.sh as the service user, at load and daily", () => {
  const layout = resolveLayout(DAEMON);
  const p = checkJobPlist(verifyPlist(layout, { url: 'http://127.0.0.1:8765' }), 'com.notes-mcp.default.verify');
  assert.deepEqual(stringArray(p.ProgramArguments).slice(0, 5), [
    '/bin/bash',
    '/opt/notes-mcp/instances/default/current/scripts/verify.sh',
    'http://127.0.0.1:8765',
    '--config',
    '/opt/notes-mcp/etc/default.json',
  ]);
  assert.equal(p.UserName, '_notesmcp', 'it reads the token file and writes into the state folder');
  assert.equal(p.RunAtLoad, true, 'bootstrap at boot (and after provisioning) runs it');
  assert.ok(!('KeepAlive' in p), 'it runs once and exits');
  assert.deepEqual(p.StartCalendarInterval, [{ Hour: 4, Minute: 41 }]);
  assert.equal(p.StandardOutPath, '/Library/Logs/notes-mcp/default/verify.log');
  assert.equal(stringRecord(p.EnvironmentVariables).NODE, layout.node, 'node@24 is keg-only: not on PATH');
  assert.throws(() => verifyPlist(layout, { url: 'ftp://x' }), LayoutError);
  const agent = checkJobPlist(
    verifyPlist(resolveLayout(AGENT), { url: 'http://127.0.0.1:8766' }),
    'com.notes-mcp.alice.verify',
  );
  assert.equal(agent.UserName, undefined);
  assert.equal(
    resolveLayout(AGENT).verify.plistPath,
    '/Users/alice/Library/LaunchAgents/com.notes-mcp.alice.verify.plist',
  );
});

test('the instance config file is accepted by loadConfig as the daemon reads it', (t) => {
  const dir = tempDir(t);
  const layout = resolveLayout({ ...DAEMON, root: dir, allowedOrigins: ['https://inspector.example.com'], port: 9123 });
  mkdirSync(layout.state, { recursive: true });
  writeFileSync(layout.tokenFile, 'x'.repeat(40));
  mkdirSync(layout.etcDir, { recursive: true });
  writeFileSync(layout.configFile, instanceConfig(layout));
  const config = loadConfig({ env: { NOTES_MCP_CONFIG: layout.configFile }, cwd: '/' });
  assert.equal(config.port, 9123);
  assert.equal(config.notesDir, layout.notes);
  assert.equal(config.stateDir, layout.state);
  assert.equal(config.logFile, join(layout.logs, 'notes-mcp.log'));
  assert.equal(config.token, 'x'.repeat(40));
  assert.deepEqual(config.allowedHosts, ['notes.example.com']);
  assert.deepEqual(config.allowedOrigins, ['https://inspector.example.com']);
});

test('two instances on one Mac share no label, port, file, folder or nginx name', () => {
  const a = resolveLayout({ ...DAEMON, instance: 'default', port: 8765 });
  const b = resolveLayout({ ...DAEMON, instance: 'alice', port: 8766 });
  const own = (l: Layout): string[] => [
    l.label,
    String(l.port),
    l.notes,
    l.state,
    l.logs,
    l.logFile,
    l.stdoutLog,
    l.stderrLog,
    l.pidFile,
    l.configFile,
    l.tokenFile,
    l.plistPath,
    l.newsyslogPath,
    l.nginx.siteFile,
    l.tls.dir,
    l.tls.renewLabel,
    l.tls.renewPlistPath,
    l.tls.renewLog,
    l.pinDir,
    l.app,
    l.runningFile,
    l.lastGoodDir,
    l.verify.label,
    l.verify.plistPath,
    l.verify.log,
  ];
  const shared = new Set(own(a));
  for (const v of own(b)) assert.ok(!shared.has(v), `${v} is used by both instances`);
  // nginx: every name declared in a site file is prefixed with the instance id.
  const sa = nginxSite(a, { serverName: 'a.example.com' });
  const sb = nginxSite(b, { serverName: 'b.example.com' });
  const names = (s: string) =>
    [...s.matchAll(/(?:zone=|upstream |shared:|map "[^"]*" \$)([A-Za-z0-9_]+)/g)].map((m) => m[1]);
  for (const n of names(sb)) assert.ok(!names(sa).includes(n), `nginx name ${n} declared by both`);
  assert.ok(names(sa).length >= 3);
});

test('bad input is refused with a message naming the field', () => {
  const bad: Array<[LayoutInput, RegExp]> = [
    [{ instance: 'Alice' }, /instance/],
    [{ instance: 'nginx' }, /reserved/],
    [{ instance: 'a.b' }, /instance/],
    [{ instance: '' }, /instance/],
    [{ notes: 'relative/notes' }, /absolute/],
    [{ logs: '/Library/My Logs' }, /spaces/],
    [{ port: 70000 }, /port/],
    [{ mode: 'agent', user: 'alice' }, /--home/],
    [{ user: 'bad user' }, /user/],
  ];
  for (const [input, re] of bad)
    assert.throws(
      () => resolveLayout(input),
      (e: unknown) => e instanceof LayoutError && re.test(e.message),
    );
  const layout = resolveLayout(DAEMON);
  for (const serverName of ['evil.com; include /etc/passwd', 'a b', '', '2001:db8::1', 'x'.repeat(300)]) {
    assert.throws(() => nginxSite(layout, { serverName }), LayoutError, serverName);
  }
  assert.throws(() => nginxSite(layout, { serverName: 'ok.example.com', cert: '/etc/my cert.pem' }), LayoutError);
  assert.throws(() => nginxSite(layout, { serverName: 'ok.example.com', rate: '10/s' }), LayoutError);
});

test('--root moves every default system path into a test folder', () => {
  const l = resolveLayout({ ...DAEMON, root: '/tmp/sysroot' });
  const paths = [
    l.brewPrefix,
    l.prefix,
    l.state,
    l.logs,
    l.notes,
    l.plistPath,
    l.newsyslogPath,
    l.nginx.plistPath,
    l.tls.renewPlistPath,
    l.verify.plistPath,
    l.pinDir,
  ];
  for (const p of paths) assert.ok(p.startsWith('/tmp/sysroot/'), `${p} escapes the root`);
});
