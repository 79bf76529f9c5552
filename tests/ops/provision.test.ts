import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { instancePlist, resolveLayout } from '../../src/ops/index.ts';
import { parsePlist, stringArray } from './helpers.ts';
import {
  assertInOrder,
  changingCalls,
  freePort,
  healthy,
  jobPid,
  output,
  pinned,
  provisionArgs,
  readRecord,
  standInMac,
} from './stand-in-mac.ts';

// provision.sh, uninstall.sh and provision-remote.sh on the stand-in macOS (stand-in-mac.ts):
// the first install in order, a second run that changes nothing, changes that restart only
// what they must, several instances, the TCC guard, drift, sudo's timestamp, failing stubs.

test('provision.sh on a stand-in macOS: installs once, then changes nothing', async (t) => {
  const mac = standInMac(t);
  const { root } = mac;
  const port = await freePort();
  const ports = ['--https-port', String(await freePort()), '--http-port', String(await freePort())];
  // A wide latency tolerance: a shared test machine is noisy (converge.test.ts tests the rollback).
  const base = [
    '--sysroot',
    root,
    '--model',
    'bundled',
    '--min-free-gb',
    '0',
    '--tolerance',
    '1000',
    '--tolerance-ms',
    '250',
  ];
  base.push('--email', 'ops@example.com');
  const provision = (args: string[], env?: Record<string, string>) =>
    mac.run('provision.sh', ['--source', mac.source, ...base, ...ports, ...args], env);
  const layout = resolveLayout({
    root,
    instance: 'default',
    arch: 'arm64',
    serverName: 'notes.example.com',
    model: 'bundled',
    port,
  });

  await t.test('refuses notes folders macOS privacy controls (TCC) would block, however they are spelled', () => {
    // A symlink into Documents, another letter case, cloud storage, an iCloud folder.
    const link = join(mac.dir, 'innocent');
    symlinkSync('/Users/bob/Documents/notes', link);
    for (const notes of [
      '/Users/bob/Documents/notes',
      '/USERS/bob/documents/notes',
      '/Users/bob/Library/CloudStorage/Dropbox/notes',
      '/Users/bob/Library/Mobile Documents/com~apple~CloudDocs/notes',
      `${link}/vault`,
    ]) {
      const r = provision(['--notes', notes, '--port', String(port)]);
      assert.notEqual(r.status, 0, notes);
      assert.match(r.stderr, /TCC/, notes);
      assert.ok(!r.calls.some((c) => c.startsWith('brew install')), 'fails before installing anything');
    }
  });

  await t.test('first run: installs and starts everything, in order, and records what runs', async () => {
    const r = provision(['--server-name', 'notes.example.com', '--port', String(port)]);
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
      /^nginx -t -q -c .*nginx-test\.conf$/,
      /^launchctl enable system\/com\.notes-mcp\.default$/,
      /^launchctl bootstrap system .*\/Library\/LaunchDaemons\/com\.notes-mcp\.default\.plist$/,
      new RegExp(`^curl .* http://127\\.0\\.0\\.1:${port}/health$`),
      /^launchctl bootstrap system .*\/Library\/LaunchDaemons\/com\.notes-mcp\.nginx\.plist$/,
      /^certbot certonly --webroot -w .*\/opt\/notes-mcp\/var\/acme -d notes\.example\.com .*-m ops@example\.com/,
      /^launchctl kill SIGHUP system\/com\.notes-mcp\.nginx$/,
      /^launchctl bootstrap system .*com\.notes-mcp\.default\.cert-renew\.plist$/,
      /^launchctl bootstrap system .*com\.notes-mcp\.default\.verify\.plist$/,
      /^pmset -a sleep 0 disksleep 0 autorestart 1 womp 1$/,
    ]);
    // Homebrew and npm run as the admin user; everything under /Library, /etc and /opt through sudo.
    assert.ok(!r.calls.some((c) => /^sudo .*(brew|npm) /.test(c)), 'brew/npm must not run as root');
    assert.ok(r.calls.some((c) => /^sudo launchctl bootstrap system /.test(c)));
    assert.match(r.stdout, /==> \[1\/11\] preflight\n/);
    assert.match(r.stdout, /==> \[11\/11\] summary\n/);
    assert.match(r.stdout, /change\(s\) applied/);

    // The installed plist is exactly what the generator makes for this layout, and parses.
    const plistText = readFileSync(layout.plistPath, 'utf8');
    assert.equal(plistText, instancePlist(layout));
    const plist = parsePlist(plistText);
    assert.equal(plist.UserName, '_notesmcp');
    assert.ok(stringArray(plist.ProgramArguments).includes(`${root}/opt/homebrew/opt/node@24/bin/node`));
    const release = pinned(root, 'default');
    assert.match(release, /^0\.1\.0-[0-9a-f]{12}$/);
    assert.ok(existsSync(join(layout.releasesDir, release, '.complete')));
    assert.equal(readlinkSync(layout.currentLink), join(layout.releasesDir, release), 'the CLI wrapper runs it too');
    assert.ok(statSync(layout.wrapper).mode & 0o100, 'wrapper is executable');

    // What runs is recorded after the healthy restart, and the daemon really answers.
    const rec = readRecord(layout.runningFile);
    assert.equal(rec.release, release);
    assert.match(rec.model ?? '', /^notes-mcp\/wink-sg-100d-avg@/);
    assert.match(rec.token ?? '', /^[0-9a-f]{64}$/);
    assert.equal(rec.node, '1.0', 'the node keg it runs on');
    assert.ok(existsSync(join(layout.lastGoodDir, `config-${rec.config}.json`)), 'kept for a rollback');
    assert.equal((await healthy(port)).status, 'ok');
    assert.match(r.stdout, /ok: verify: PASS http:\/\/127\.0\.0\.1:\d+ .* over 200 on 1 connection/);

    // Config, token, logs rotation, nginx, TLS, renewal and verify jobs.
    const config = loadConfig({ env: { NOTES_MCP_CONFIG: layout.configFile }, cwd: '/' });
    assert.equal(config.port, port);
    assert.match(config.token ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(config.allowedHosts, ['notes.example.com']);
    assert.match(readFileSync(layout.newsyslogPath, 'utf8'), /notes-mcp\.pid 1$/m);
    assert.match(readFileSync(layout.newsyslogPath, 'utf8'), /verify\.log /);
    assert.match(readFileSync(layout.nginx.siteFile, 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${port};`));
    const main = readFileSync(layout.nginx.confFile, 'utf8');
    assert.match(main, /^user nobody nobody;$/m);
    assert.match(main, new RegExp(`listen ${ports[1]} ssl default_server;\\n.*\\n\\s+ssl_reject_handshake on;`));
    assert.equal(readlinkSync(layout.tls.cert), `${layout.tls.letsencryptDir}/live/notes.example.com/fullchain.pem`);
    assert.ok(existsSync(join(layout.tls.caDir, 'ca.pem')), 'the private CA exists for the bootstrap certificate');
    assert.ok(
      stringArray(parsePlist(readFileSync(layout.tls.renewPlistPath, 'utf8')).ProgramArguments).includes('renew'),
    );
    const verifyJob = stringArray(parsePlist(readFileSync(layout.verify.plistPath, 'utf8')).ProgramArguments);
    assert.deepEqual(verifyJob.slice(2, 3), [`https://notes.example.com:${ports[1]}`]);
    assert.ok(verifyJob.includes('--resolve-ip'), 'through this Mac’s nginx');
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
    const pid = jobPid(mac, 'com.notes-mcp.default');
    const r = provision(['--server-name', 'notes.example.com', '--port', String(port)], { STUB_FILEVAULT: 'On' });
    assert.equal(r.status, 0, output(r));
    assert.match(r.stdout, /No changes: everything was already up to date\./);
    assert.doesNotMatch(r.stdout, /changed:/);
    assert.deepEqual(changingCalls(r.calls), []);
    assert.equal(jobPid(mac, 'com.notes-mcp.default'), pid, 'the daemon was not restarted');
    assert.ok(r.calls.includes('launchctl kickstart system/com.notes-mcp.default.verify'), 'the verify job runs again');
    assert.match(r.stderr, /FileVault is on/, 'warns about unattended reboots');
  });

  const newPort = await freePort();
  await t.test('a new port restarts the daemon and reloads nginx, nothing more', async () => {
    const r = provision(['--server-name', 'notes.example.com', '--port', String(newPort)]);
    assert.equal(r.status, 0, output(r));
    assert.deepEqual(changingCalls(r.calls), [
      'launchctl kickstart -k system/com.notes-mcp.default',
      'launchctl kill SIGHUP system/com.notes-mcp.nginx',
    ]);
    assertInOrder(r.calls, [/^nginx -t /, /^launchctl kickstart -k/, /^nginx -t /, /^launchctl kill SIGHUP/]);
    assert.match(r.stdout, /restart, because of: config /);
    assert.equal((await healthy(newPort)).status, 'ok');
  });

  const alicePort = await freePort();
  await t.test('more instances get their own job, files and nginx block; a port clash is refused', async () => {
    const a = provision(['--instance', 'alice', '--port', String(alicePort), '--server-name', 'alice.example.com']);
    assert.equal(a.status, 0, output(a));
    assert.ok(a.calls.includes(`launchctl bootstrap system ${root}/Library/LaunchDaemons/com.notes-mcp.alice.plist`));
    assert.ok(
      !a.calls.some((c) => /com\.notes-mcp\.default( |$)/.test(c) && changingCalls([c]).length > 0),
      'default is left alone',
    );
    assert.ok(!a.calls.some((c) => c.startsWith('npm ci')), 'the release is shared');
    assert.ok(existsSync(join(root, 'opt', 'notes-mcp', 'etc', 'nginx', 'servers', 'alice.conf')));
    assert.equal(pinned(root, 'alice'), pinned(root, 'default'));
    assert.equal((await healthy(alicePort)).status, 'ok');

    // carol, on a bare IP, shares the others' HTTPS port: clients send it no SNI.
    const ip = provision(['--instance', 'carol', '--port', String(await freePort()), '--server-name', '203.0.113.9']);
    assert.equal(ip.status, 0, output(ip));
    assertInOrder(ip.calls, [
      /^brew install acme\.sh$/,
      /^acme\.sh .*--issue --server letsencrypt -d 203\.0\.113\.9 .*--cert-profile shortlived --days 3/,
      /^acme\.sh .*--install-cert -d 203\.0\.113\.9 /,
      /^launchctl bootstrap system .*com\.notes-mcp\.carol\.cert-renew\.plist$/,
    ]);
    // So carol's site is that port's default_server, and nginx.conf's TLS catch-all (refusing
    // unknown names) must make way: on no port at all, not on 443 either.
    const carol = readFileSync(join(root, 'opt', 'notes-mcp', 'etc', 'nginx', 'servers', 'carol.conf'), 'utf8');
    assert.match(carol, new RegExp(`listen ${ports[1]} ssl default_server;`));
    assert.doesNotMatch(readFileSync(layout.nginx.confFile, 'utf8'), /ssl_reject_handshake/);

    const clash = provision(['--instance', 'bob', '--port', String(alicePort), '--server-name', 'bob.example.com']);
    assert.notEqual(clash.status, 0);
    assert.match(clash.stderr, new RegExp(`port ${alicePort} is already used by instance alice`));
    assert.ok(!existsSync(join(root, 'Library', 'LaunchDaemons', 'com.notes-mcp.bob.plist')));
  });

  await t.test('mode and owner drift is put back and reported', () => {
    chmodSync(layout.state, 0o777);
    chmodSync(layout.tokenFile, 0o644);
    // Someone chowned the logs folder to root (the stand-in chown keeps owners by inode).
    const chown = mac.run('../tests/ops/fixtures/macos/bin/chown', ['root:wheel', layout.logs]);
    assert.equal(chown.status, 0, output(chown));
    const r = provision(['--server-name', 'notes.example.com', '--port', String(newPort)]);
    assert.equal(r.status, 0, output(r));
    assert.match(r.stdout, new RegExp(`changed: mode of ${layout.state} was 777, now 750`));
    assert.match(r.stdout, /changed: mode of .*access\.token was 644, now 600/);
    assert.match(r.stdout, new RegExp(`changed: owner of ${layout.logs} was root:wheel, now _notesmcp:_notesmcp`));
    assert.equal(statSync(layout.state).mode & 0o7777, 0o750);
    assert.equal(statSync(layout.tokenFile).mode & 0o777, 0o600);
    assert.deepEqual(changingCalls(r.calls), [], 'nothing restarted for it');
  });

  await t.test('uninstall.sh removes one instance, keeps its notes and state', () => {
    const alice = resolveLayout({ root, instance: 'alice', port: alicePort });
    const r = mac.run('uninstall.sh', ['--sysroot', root, '--instance', 'alice', '--yes']);
    assert.equal(r.status, 0, output(r));
    assertInOrder(r.calls, [
      /^launchctl bootout system\/com\.notes-mcp\.alice$/,
      /^launchctl bootout system\/com\.notes-mcp\.alice\.verify$/,
      /^launchctl bootout system\/com\.notes-mcp\.alice\.cert-renew$/,
      /^nginx -t -q -c .*\/etc\/nginx\/nginx\.conf$/,
      /^launchctl kill SIGHUP system\/com\.notes-mcp\.nginx$/,
    ]);
    for (const f of [
      alice.plistPath,
      alice.verify.plistPath,
      alice.tls.renewPlistPath,
      alice.newsyslogPath,
      alice.configFile,
      alice.nginx.siteFile,
      alice.pinDir,
    ]) {
      assert.ok(!existsSync(f), `${f} should be gone`);
    }
    assert.ok(existsSync(alice.notes), 'notes are kept');
    assert.ok(existsSync(alice.state), 'state is kept unless --delete-state');
    assert.ok(existsSync(layout.plistPath), 'other instances stay');
    assert.equal(jobPid(mac, 'com.notes-mcp.alice'), '', 'its daemon is stopped');
    const again = mac.run('uninstall.sh', ['--sysroot', root, '--instance', 'alice', '--yes', '--delete-state']);
    assert.equal(again.status, 0, output(again));
    assert.ok(!existsSync(alice.state));
    assert.ok(existsSync(alice.notes));
  });
});

test('a fresh Mac: sudo stays fresh while the Command Line Tools install outlasts its timestamp', async (t) => {
  const mac = standInMac(t);
  // sudo forgets after 2 s; the CLT install takes 4 s; the keeper refreshes every second.
  const env = { STUB_SUDO_TTL: '2', STUB_CLT_SECONDS: '4', NM_SUDO_REFRESH_S: '1' };
  const r = mac.run('provision.sh', [...provisionArgs(mac, await freePort()), '--no-nginx'], env);
  assert.equal(r.status, 0, output(r));
  assert.equal(r.calls.filter((c) => c === 'sudo -v').length, 1, 'the password is asked once');
  assert.ok(r.calls.filter((c) => c === 'sudo -n true').length >= 3, 'refreshed during the install');
  // The keeper ends with the run: no refresh after it.
  const refreshes = () => readFileSync(join(mac.dir, 'calls.log'), 'utf8').split('\nsudo -n true\n').length;
  const after = refreshes();
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(refreshes(), after, 'sudo -n true still runs after provision.sh ended');

  // Without the keeper (a refresh period longer than the install) the same Mac fails.
  const fresh = standInMac(t);
  const slow = fresh.run('provision.sh', [...provisionArgs(fresh, await freePort()), '--no-nginx'], {
    ...env,
    NM_SUDO_REFRESH_S: '60',
  });
  assert.notEqual(slow.status, 0, 'a 2 s sudo timestamp cannot survive a 4 s install without refreshes');
  assert.match(slow.stderr, /sudo: a password is required/);
});

test('stubs told to fail: nginx -t rejecting, launchctl refusing a job; a torn model file', async (t) => {
  const mac = standInMac(t);
  const port = await freePort();
  const args = [
    ...provisionArgs(mac, port),
    '--server-name',
    'notes.example.com',
    '--https-port',
    String(await freePort()),
    '--http-port',
    String(await freePort()),
  ];
  const layout = resolveLayout({ root: mac.root, instance: 'default', port });
  const bad = mac.run('provision.sh', args, { STUB_NGINX_T_FAIL: '1' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /nginx -t rejects the new configuration; nothing was installed/);
  assert.ok(!existsSync(layout.nginx.siteFile) && !existsSync(layout.plistPath), 'nothing installed');
  assert.ok(!bad.calls.some((c) => /^launchctl (bootstrap|kickstart)/.test(c)), 'nothing started');

  const refused = mac.run('provision.sh', args, { STUB_BOOTSTRAP_FAIL: 'com.notes-mcp.default' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /launchctl bootstrap system .*com\.notes-mcp\.default\.plist failed/);
  assert.ok(!existsSync(layout.runningFile), 'nothing recorded as running');

  const ok = mac.run('provision.sh', args);
  assert.equal(ok.status, 0, output(ok));
  assert.equal((await healthy(port)).status, 'ok');

  // A model file that is not what notes-mcp pinned (a half-finished copy): refused before any restart.
  const tokenizer = join(mac.source, 'models', 'bundled', 'tokenizer.json');
  const whole = readFileSync(tokenizer);
  writeFileSync(tokenizer, whole.subarray(0, 1000));
  const pid = jobPid(mac, 'com.notes-mcp.default');
  const torn = mac.run('provision.sh', args);
  assert.notEqual(torn.status, 0, output(torn));
  assert.match(torn.stderr, /do not match their pinned checksums/);
  assert.equal(jobPid(mac, 'com.notes-mcp.default'), pid, 'the running daemon was not touched');
  writeFileSync(tokenizer, whole);
});

test('provision-remote.sh ships the checkout over ssh and runs provision.sh there', async (t) => {
  const mac = standInMac(t);
  const r = mac.run('provision-remote.sh', [
    'admin@mac.example.com',
    '--ssh-option',
    'StrictHostKeyChecking=accept-new',
    '--',
    ...provisionArgs(mac, await freePort()).slice(2),
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
