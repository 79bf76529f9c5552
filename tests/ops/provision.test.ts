import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { instancePlist, resolveLayout } from '../../src/ops/index.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { FIXTURES, parsePlist, SCRIPTS, stringArray } from './helpers.ts';

// provision.sh and uninstall.sh against a stand-in macOS: fake brew, launchctl, dscl, pmset,
// sudo, ... (tests/ops/fixtures/macos/bin) that record every call and keep their state, with
// every system path moved under a temp folder (--sysroot). Files are really written.

const STUBS = join(FIXTURES, 'macos');

interface Mac {
  root: string;
  home: string;
  log: string;
  source: string;
  run: (script: string, args: string[], extraEnv?: Record<string, string>) => Run;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Stub calls made during this run only. */
  calls: string[];
}

function standInMac(t: TestContext): Mac {
  const dir = tempDir(t, 'notes-mcp-mac-');
  const root = join(dir, 'root');
  const home = join(dir, 'home', 'admin');
  const state = join(dir, 'stub-state');
  const log = join(dir, 'calls.log');
  for (const d of [join(root, 'opt', 'homebrew', 'bin'), home, state, join(dir, 'tmp')])
    mkdirSync(d, { recursive: true });
  cpSync(join(STUBS, 'bin', 'brew'), join(root, 'opt', 'homebrew', 'bin', 'brew'));
  // A fixed snapshot of the app to install: the live checkout changes under parallel work.
  const source = join(dir, 'source');
  for (const f of ['package.json', 'package-lock.json', 'README.md', 'bin'])
    cpSync(join(REPO_ROOT, f), join(source, f), { recursive: true });
  const run = (script: string, args: string[], extraEnv: Record<string, string> = {}): Run => {
    const before = existsSync(log) ? readFileSync(log, 'utf8').split('\n').length - 1 : 0;
    const r = spawnSync('bash', [join(SCRIPTS, script), ...args], {
      encoding: 'utf8',
      timeout: 120_000,
      // provision-remote.sh keeps its log in the current folder: the test's, not the checkout.
      cwd: dir,
      env: {
        PATH: `${join(STUBS, 'bin')}:/usr/bin:/bin`,
        HOME: home,
        LANG: 'C',
        TMPDIR: join(dir, 'tmp'),
        STUB_DIR: STUBS,
        STUB_STATE: state,
        STUB_LOG: log,
        STUB_NODE: process.execPath,
        STUB_REPO: REPO_ROOT,
        ...extraEnv,
      },
    });
    const calls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(before, -1) : [];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
  };
  return { root, home, log, source, run };
}

function assertInOrder(calls: readonly string[], expected: readonly RegExp[]): void {
  let i = 0;
  for (const re of expected) {
    const at = calls.findIndex((c, j) => j >= i && re.test(c));
    assert.ok(at >= 0, `no call matching ${re} after call #${i}:\n${calls.slice(i).join('\n')}`);
    i = at + 1;
  }
}

const CHANGING =
  /^(brew install|npm ci|softwareupdate -i|dscl \. -create|launchctl (enable|bootstrap|bootout|kickstart|kill)|pmset -a|certbot certonly|acme\.sh --issue)/;

function output(r: Run): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

test('provision.sh on a stand-in macOS: installs once, then changes nothing', async (t) => {
  const mac = standInMac(t);
  const base = ['--sysroot', mac.root, '--model', 'bundled', '--min-free-gb', '0', '--email', 'ops@example.com'];
  const provision = (args: string[], env?: Record<string, string>) =>
    mac.run('provision.sh', ['--source', mac.source, ...base, ...args], env);
  const { root } = mac;
  const layout = resolveLayout({
    root,
    instance: 'default',
    arch: 'arm64',
    serverName: 'notes.example.com',
    model: 'bundled',
  });

  await t.test('refuses a notes folder macOS privacy controls (TCC) would block', () => {
    const r = provision(['--notes', '/Users/bob/Documents/notes']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /TCC/);
    assert.ok(!r.calls.some((c) => c.startsWith('brew install')), 'fails before installing anything');
  });

  await t.test('first run: installs and starts everything, in order', () => {
    const r = provision(['--server-name', 'notes.example.com']);
    assert.equal(r.status, 0, output(r));
    assertInOrder(r.calls, [
      /^sw_vers -productVersion$/,
      /^fdesetup status$/,
      /^softwareupdate -i Command Line Tools for Xcode-16\.4 --verbose$/,
      /^brew install node@24$/,
      /^brew install nginx$/,
      /^brew install certbot$/,
      /^npm ci --no-audit --no-fund$/,
      /^npm prune --omit=dev/,
      /^dscl \. -create \/Users\/_notesmcp$/,
      /^dscl \. -create \/Users\/_notesmcp IsHidden 1$/,
      /^plutil -lint .*job\.plist$/,
      /^launchctl enable system\/com\.notes-mcp\.default$/,
      /^launchctl bootstrap system .*\/Library\/LaunchDaemons\/com\.notes-mcp\.default\.plist$/,
      /^nginx -t -q -c .*nginx-test\.conf$/,
      /^launchctl bootstrap system .*\/Library\/LaunchDaemons\/com\.notes-mcp\.nginx\.plist$/,
      /^certbot certonly --webroot -w .*\/opt\/notes-mcp\/var\/acme -d notes\.example\.com .*-m ops@example\.com/,
      /^launchctl kill SIGHUP system\/com\.notes-mcp\.nginx$/,
      /^launchctl bootstrap system .*com\.notes-mcp\.default\.cert-renew\.plist$/,
      /^pmset -a sleep 0 disksleep 0 autorestart 1 womp 1$/,
      /^curl .* http:\/\/127\.0\.0\.1:8765\/health$/,
    ]);
    // Homebrew and npm run as the admin user; everything under /Library, /etc and /opt through sudo.
    assert.ok(!r.calls.some((c) => /^sudo .*(brew|npm) /.test(c)), 'brew/npm must not run as root');
    assert.ok(r.calls.some((c) => /^sudo launchctl bootstrap system /.test(c)));
    assert.match(r.stdout, /change\(s\) applied/);

    // The installed plist is exactly what the generator makes for this layout, and parses.
    const plistText = readFileSync(layout.plistPath, 'utf8');
    assert.equal(plistText, instancePlist(layout));
    const plist = parsePlist(plistText);
    assert.equal(plist.UserName, '_notesmcp');
    assert.ok(stringArray(plist.ProgramArguments).includes(`${root}/opt/homebrew/opt/node@24/bin/node`));
    const current = readlinkSync(join(root, 'opt', 'notes-mcp', 'current'));
    assert.match(current, /\/releases\/0\.1\.0-[0-9a-f]{12}$/);
    assert.ok(existsSync(join(current, '.complete')));
    assert.ok(statSync(layout.wrapper).mode & 0o100, 'wrapper is executable');

    // Config, token, logs rotation, nginx, TLS, renewal job.
    const config = loadConfig({ env: { NOTES_MCP_CONFIG: layout.configFile }, cwd: '/' });
    assert.equal(config.port, 8765);
    assert.match(config.token ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(config.allowedHosts, ['notes.example.com']);
    assert.match(readFileSync(layout.newsyslogPath, 'utf8'), /notes-mcp\.pid 1$/m);
    assert.match(readFileSync(layout.nginx.siteFile, 'utf8'), /server 127\.0\.0\.1:8765;/);
    assert.match(readFileSync(layout.nginx.confFile, 'utf8'), /^user nobody nobody;$/m);
    assert.equal(readlinkSync(layout.tls.cert), `${layout.tls.letsencryptDir}/live/notes.example.com/fullchain.pem`);
    assert.ok(existsSync(join(layout.tls.caDir, 'ca.pem')), 'the private CA exists for the bootstrap certificate');
    assert.ok(
      stringArray(parsePlist(readFileSync(layout.tls.renewPlistPath, 'utf8')).ProgramArguments).includes('renew'),
    );
    assert.ok(existsSync(layout.notes) && existsSync(layout.state) && existsSync(layout.logs));
    assert.doesNotMatch(
      r.stdout + r.stderr,
      new RegExp(readFileSync(layout.tokenFile, 'utf8').trim()),
      'token never printed',
    );
  });

  await t.test('verify.sh reads the job state from launchctl and fails on a dead endpoint', () => {
    const r = mac.run('verify.sh', ['http://127.0.0.1:9/', '--no-baseline', '--timeout', '2'], {
      NODE: process.execPath,
    });
    assert.equal(r.status, 1, output(r));
    assert.match(r.stdout, /^PASS service +system\/com\.notes-mcp\.default is running$/m);
    assert.match(r.stdout, /^FAIL initialize /m);
    assert.match(r.stdout, /^verify: FAIL http:\/\/127\.0\.0\.1:9 /m);
    assert.ok(r.calls.includes('launchctl print system/com.notes-mcp.default'));
  });

  await t.test('second run: nothing to do, and it says so', () => {
    const r = provision(['--server-name', 'notes.example.com'], { STUB_FILEVAULT: 'On' });
    assert.equal(r.status, 0, output(r));
    assert.match(r.stdout, /No changes: everything was already up to date\./);
    assert.doesNotMatch(r.stdout, /changed:/);
    assert.deepEqual(
      r.calls.filter((c) => CHANGING.test(c)),
      [],
    );
    assert.match(r.stderr, /FileVault is on/, 'warns about unattended reboots');
  });

  await t.test('a new port restarts the daemon and reloads nginx, nothing more', () => {
    const r = provision(['--server-name', 'notes.example.com', '--port', '8799']);
    assert.equal(r.status, 0, output(r));
    assert.deepEqual(
      r.calls.filter((c) => CHANGING.test(c)),
      ['launchctl kickstart -k system/com.notes-mcp.default', 'launchctl kill SIGHUP system/com.notes-mcp.nginx'],
    );
    assertInOrder(r.calls, [/^nginx -t /, /^launchctl kill SIGHUP/]);
  });

  await t.test('more instances get their own job, files and nginx block; a port clash is refused', () => {
    const a = provision(['--instance', 'alice', '--port', '8766', '--server-name', 'alice.example.com']);
    assert.equal(a.status, 0, output(a));
    assert.ok(a.calls.includes(`launchctl bootstrap system ${root}/Library/LaunchDaemons/com.notes-mcp.alice.plist`));
    assert.ok(
      !a.calls.some((c) => /com\.notes-mcp\.default( |$)/.test(c) && CHANGING.test(c)),
      'default is left alone',
    );
    assert.ok(!a.calls.some((c) => c.startsWith('npm ci')), 'the release is shared');
    assert.ok(existsSync(join(root, 'opt', 'notes-mcp', 'etc', 'nginx', 'servers', 'alice.conf')));

    const ip = provision([
      '--instance',
      'carol',
      '--port',
      '8767',
      '--server-name',
      '203.0.113.9',
      '--https-port',
      '8443',
    ]);
    assert.equal(ip.status, 0, output(ip));
    assertInOrder(ip.calls, [
      /^brew install acme\.sh$/,
      /^acme\.sh .*--issue --server letsencrypt -d 203\.0\.113\.9 .*--cert-profile shortlived --days 3/,
      /^acme\.sh .*--install-cert -d 203\.0\.113\.9 /,
      /^launchctl bootstrap system .*com\.notes-mcp\.carol\.cert-renew\.plist$/,
    ]);

    const clash = provision(['--instance', 'bob', '--port', '8766', '--server-name', 'bob.example.com']);
    assert.notEqual(clash.status, 0);
    assert.match(clash.stderr, /port 8766 is already used by instance alice/);
    assert.ok(!existsSync(join(root, 'Library', 'LaunchDaemons', 'com.notes-mcp.bob.plist')));
  });

  await t.test('uninstall.sh removes one instance, keeps its notes and state', () => {
    const alice = resolveLayout({ root, instance: 'alice', port: 8766 });
    const r = mac.run('uninstall.sh', ['--sysroot', root, '--instance', 'alice', '--yes']);
    assert.equal(r.status, 0, output(r));
    assertInOrder(r.calls, [
      /^launchctl bootout system\/com\.notes-mcp\.alice$/,
      /^launchctl bootout system\/com\.notes-mcp\.alice\.cert-renew$/,
      /^nginx -t -q -c .*\/etc\/nginx\/nginx\.conf$/,
      /^launchctl kill SIGHUP system\/com\.notes-mcp\.nginx$/,
    ]);
    for (const f of [
      alice.plistPath,
      alice.tls.renewPlistPath,
      alice.newsyslogPath,
      alice.configFile,
      alice.nginx.siteFile,
    ]) {
      assert.ok(!existsSync(f), `${f} should be gone`);
    }
    assert.ok(existsSync(alice.notes), 'notes are kept');
    assert.ok(existsSync(alice.state), 'state is kept unless --delete-state');
    assert.ok(existsSync(layout.plistPath), 'other instances stay');
    const again = mac.run('uninstall.sh', ['--sysroot', root, '--instance', 'alice', '--yes', '--delete-state']);
    assert.equal(again.status, 0, output(again));
    assert.ok(!existsSync(alice.state));
    assert.ok(existsSync(alice.notes));
  });
});

test('provision-remote.sh ships the checkout over ssh and runs provision.sh there', (t) => {
  const mac = standInMac(t);
  const r = mac.run('provision-remote.sh', [
    'admin@mac.example.com',
    '--ssh-option',
    'StrictHostKeyChecking=accept-new',
    '--',
    '--sysroot',
    mac.root,
    '--model',
    'bundled',
    '--min-free-gb',
    '0',
    '--no-nginx',
    '--instance',
    'remote',
  ]);
  assert.equal(r.status, 0, output(r));
  assertInOrder(r.calls, [
    /^ssh .*admin@mac\.example\.com .*tar -xzf/,
    /^ssh .*admin@mac\.example\.com bash .*provision\.sh/,
    /^launchctl bootstrap system /,
  ]);
  assert.ok(existsSync(join(mac.root, 'Library', 'LaunchDaemons', 'com.notes-mcp.remote.plist')));
  assert.ok(
    existsSync(join(mac.home, 'notes-mcp-src', 'scripts', 'provision.sh')),
    'checkout unpacked in the remote home',
  );
  assert.match(r.stdout, /log: /);
});
