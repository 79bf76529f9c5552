import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveLayout } from '../../src/ops/index.ts';
import { FIXTURES } from './helpers.ts';
import {
  changingCalls,
  freePort,
  healthy,
  jobPid,
  type Mac,
  output,
  pinned,
  provisionArgs,
  readRecord,
  standInMac,
} from './stand-in-mac.ts';

// Desired state, not deltas: provision.sh interrupted (SIGKILL) at every phase converges on the
// next run; a release whose daemon fails health or verification is rolled back, and only the
// instance being provisioned moves; --upgrade-deps puts the old Homebrew kegs back on failure.

const base = provisionArgs;

/** The daemon runs what the record says, the record is what this source should run, and /health answers. */
async function assertConverged(mac: Mac, port: number, instance = 'default'): Promise<void> {
  const layout = resolveLayout({ root: mac.root, instance, port });
  const rec = readRecord(layout.runningFile);
  assert.equal(pinned(mac.root, instance), rec.release, 'the pin is the recorded release');
  assert.ok(jobPid(mac, `com.notes-mcp.${instance}`), 'the job runs');
  assert.equal((await healthy(port)).status, 'ok');
}

test('a run killed at any phase leaves a Mac the next run converges', async (t) => {
  const mac = standInMac(t);
  const port = await freePort();
  const web = ['--server-name', 'notes.example.com', '--https-port', String(await freePort())];
  const args = [...base(mac, port), ...web, '--http-port', String(await freePort())];
  const layout = resolveLayout({ root: mac.root, instance: 'default', port });
  const first = mac.run('provision.sh', args);
  assert.equal(first.status, 0, output(first));
  await assertConverged(mac, port);

  await t.test('the reported case: a new release whose model fetch fails, then a re-run', async () => {
    const before = readRecord(layout.runningFile);
    const pid = jobPid(mac, 'com.notes-mcp.default');
    mac.change('a new release');
    // A Hub model with the Hub out of reach: the fetch fails before anything is switched.
    const failed = mac.run('provision.sh', [...args, '--model', 'Xenova/all-MiniLM-L6-v2'], {
      HF_ENDPOINT: 'http://127.0.0.1:9',
    });
    assert.notEqual(failed.status, 0, output(failed));
    assert.match(failed.stderr, /model fetch .*failed/);
    assert.equal(pinned(mac.root, 'default'), before.release, 'the instance still runs the old release');
    assert.equal(jobPid(mac, 'com.notes-mcp.default'), pid, 'the daemon was not touched');
    const again = mac.run('provision.sh', args);
    assert.equal(again.status, 0, output(again));
    assert.doesNotMatch(again.stdout, /No changes/);
    assert.match(again.stdout, /restart, because of: release /);
    assert.notEqual(readRecord(layout.runningFile).release, before.release);
    assert.notEqual(jobPid(mac, 'com.notes-mcp.default'), pid, 'restarted on the new release');
    await assertConverged(mac, port);
  });

  // One kill point per phase; each run brings a new release (from the nginx one on, a new
  // rate too), so a run killed before its restart or reload was recorded leaves work to do.
  const rate = ['--rate', '20r/s'];
  const points: Array<[string, string, string[], boolean]> = [
    ['preflight', '^fdesetup status$', [], true],
    ['tools', '^xcode-select -p$', [], true],
    ['release (mid-build)', '^npm ci ', [], true],
    ['service_user', '^dscl \\. -read /Users/_notesmcp UniqueID$', [], true],
    ['tls', '^sudo openssl x509 -noout -checkend ', [], true],
    ['stage', '^plutil -lint .*verify\\.plist$', [], true],
    [
      'converge: pinned and configured, not restarted',
      '^launchctl kickstart -k system/com\\.notes-mcp\\.default$',
      [],
      true,
    ],
    ['converge: restarted, not yet healthy', '^curl .*/health$', [], true],
    ['nginx: new config installed, not reloaded', '^launchctl kill SIGHUP system/com\\.notes-mcp\\.nginx$', rate, true],
    // Past "converge" and "nginx", all that needed a restart or reload is done and recorded.
    ['jobs', '^launchctl kickstart system/com\\.notes-mcp\\.default\\.verify$', rate, false],
    ['power', '^pmset -g$', rate, false],
  ];
  for (const [phase, hang, extra, workLeft] of points) {
    await t.test(`killed in ${phase}`, async () => {
      mac.change(`killed in ${phase}`);
      const killed = await mac.interrupt([...args, ...extra], hang);
      assert.equal(killed.status, null, `the run was killed: ${output(killed)}`);
      const next = mac.run('provision.sh', [...args, ...extra]);
      assert.equal(next.status, 0, `${phase}: ${output(next)}`);
      if (workLeft) assert.doesNotMatch(next.stdout, /No changes/, 'there was still work to do');
      else assert.deepEqual(changingCalls(next.calls), [], 'nothing was left to restart');
      if (phase.startsWith('nginx')) {
        assert.ok(next.calls.includes('launchctl kill SIGHUP system/com.notes-mcp.nginx'), 'nginx reloaded at last');
        assert.match(readFileSync(layout.nginx.siteFile, 'utf8'), /rate=20r\/s/);
      }
      await assertConverged(mac, port);
    });
  }

  await t.test('and then a run has nothing left to do', () => {
    const r = mac.run('provision.sh', [...args, ...rate]);
    assert.equal(r.status, 0, output(r));
    assert.match(r.stdout, /No changes: everything was already up to date\./);
    assert.deepEqual(changingCalls(r.calls), []);
  });
});

/** A source whose `serve` is broken one way or another; every other command is the real CLI. */
function breakServe(mac: Mac, how: 'exits' | 'no-mcp' | 'slow'): void {
  const serves = {
    exits: `console.error('boom: this release cannot start'); process.exit(1);`,
    'no-mcp': `const c = JSON.parse(require('node:fs').readFileSync(process.env.NOTES_MCP_CONFIG, 'utf8'));
require('node:http').createServer((req, res) => {
  if (req.url === '/health') res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  else res.writeHead(500).end();
}).listen(c.port, c.host);`,
    // Everything right, every tools/list 15 ms slow: only the latency baseline can tell.
    slow: `const fs = require('node:fs');
const c = JSON.parse(fs.readFileSync(process.env.NOTES_MCP_CONFIG, 'utf8'));
Object.assign(process.env, { FAKE_PORT: String(c.port), FAKE_TOKEN: fs.readFileSync(c.tokenFile, 'utf8').trim(), FAKE_TOOLS_LIST_MS: '15' });
await import('./fake-daemon.mjs');`,
  };
  const serve = serves[how];
  cpSync(join(FIXTURES, 'fake-daemon.mjs'), join(mac.source, 'bin', 'fake-daemon.mjs'));
  writeFileSync(
    join(mac.source, 'bin', 'notes-mcp.js'),
    `#!/usr/bin/env node
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
if (process.argv[2] === 'serve') {
  ${serve}
} else {
  const { run } = await import('../dist/src/cli/main.js');
  run();
}
`,
  );
}

test('a release that fails health or verification is rolled back; other instances keep theirs', async (t) => {
  const mac = standInMac(t);
  const port = await freePort();
  const alicePort = await freePort();
  const good = mac.run('provision.sh', [...base(mac, port), '--no-nginx']);
  assert.equal(good.status, 0, output(good));
  const alice = mac.run('provision.sh', [...base(mac, alicePort), '--no-nginx', '--instance', 'alice']);
  assert.equal(alice.status, 0, output(alice));
  const layout = resolveLayout({ root: mac.root, instance: 'default', port });
  const healthyRelease = readRecord(layout.runningFile).release;
  const alicePid = jobPid(mac, 'com.notes-mcp.alice');
  const original = readFileSync(join(mac.source, 'bin', 'notes-mcp.js'), 'utf8');

  await t.test('a daemon that never answers /health', async () => {
    breakServe(mac, 'exits');
    const r = mac.run('provision.sh', [...base(mac, port), '--no-nginx']);
    assert.equal(r.status, 1, output(r));
    assert.match(
      r.stderr,
      /health never answered: the job keeps exiting \(last exit code 1\) .*rolling instance default back to release /,
    );
    assert.match(r.stderr, new RegExp(`Rolled back: instance default runs release ${healthyRelease} again`));
    assert.equal(pinned(mac.root, 'default'), healthyRelease);
    assert.match(
      readlinkSync(join(layout.pinDir, 'previous')),
      /releases\/0\.1\.0-/,
      'the failed one is kept for a look',
    );
    assert.equal(readRecord(layout.runningFile).release, healthyRelease);
    assert.equal(readlinkSync(layout.currentLink).split('/').pop(), healthyRelease, 'the CLI wrapper did not move');
    await assertConverged(mac, port);
  });

  await t.test('a daemon that answers /health but fails verification', async () => {
    breakServe(mac, 'no-mcp');
    const r = mac.run('provision.sh', [...base(mac, port), '--no-nginx']);
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /verification failed: verify: FAIL .* initialize/);
    assert.match(r.stderr, /Rolled back/);
    assert.equal(pinned(mac.root, 'default'), healthyRelease);
    await assertConverged(mac, port);
  });

  await t.test('the other instance was never touched', async () => {
    assert.equal(pinned(mac.root, 'alice'), healthyRelease);
    assert.equal(jobPid(mac, 'com.notes-mcp.alice'), alicePid, 'alice was not restarted');
    await assertConverged(mac, alicePort, 'alice');
  });

  await t.test('a first install that fails is stopped, not left crash-looping', async () => {
    breakServe(mac, 'exits');
    const bobPort = await freePort();
    const r = mac.run('provision.sh', [...base(mac, bobPort), '--no-nginx', '--instance', 'bob']);
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /Nothing ran healthily here before, so system\/com\.notes-mcp\.bob is stopped/);
    assert.ok(!existsSync(join(mac.state, 'launchctl', 'system', 'com.notes-mcp.bob')), 'booted out');
  });

  await t.test('the fixed release goes in', async () => {
    writeFileSync(join(mac.source, 'bin', 'notes-mcp.js'), original);
    mac.change('fixed');
    const r = mac.run('provision.sh', [...base(mac, port), '--no-nginx']);
    assert.equal(r.status, 0, output(r));
    assert.notEqual(readRecord(layout.runningFile).release, healthyRelease);
    assert.equal(pinned(mac.root, 'alice'), healthyRelease, 'still: each instance moves only when provisioned');
    assert.match(r.stdout, /instance alice stays on release /);
    await assertConverged(mac, port);
  });

  await t.test('a release slower than the baseline, measured twice, is rolled back', async () => {
    const fixed = readRecord(layout.runningFile).release;
    breakServe(mac, 'slow');
    const r = mac.run('provision.sh', [...base(mac, port), '--no-nginx', '--tolerance', '50', '--tolerance-ms', '5']);
    assert.equal(r.status, 1, output(r));
    assert.match(r.stdout, /only the latency baseline failed: measuring once more before deciding/);
    assert.match(
      r.stderr,
      /verification failed: verify: FAIL .* 1 of \d+ checks failed: baseline \| tools\/list p50=1\d/,
    );
    assert.match(r.stderr, /Rolled back/);
    assert.equal(pinned(mac.root, 'default'), fixed);
    await assertConverged(mac, port);
  });
});

test('--upgrade-deps: upgrades, restarts on the new kegs and verifies; a broken upgrade is undone', async (t) => {
  const mac = standInMac(t);
  const port = await freePort();
  const args = [
    ...base(mac, port),
    '--server-name',
    'notes.example.com',
    '--https-port',
    String(await freePort()),
    '--http-port',
    String(await freePort()),
  ];
  const first = mac.run('provision.sh', args);
  assert.equal(first.status, 0, output(first));
  const layout = resolveLayout({ root: mac.root, instance: 'default', port });
  const opt = (f: string) =>
    readlinkSync(join(mac.root, 'opt', 'homebrew', 'opt', f))
      .split('/')
      .pop();

  await t.test('nothing outdated: nothing restarts', () => {
    const r = mac.run('provision.sh', [...args, '--upgrade-deps']);
    assert.equal(r.status, 0, output(r));
    assert.ok(r.calls.includes('brew update'));
    assert.match(r.stdout, /up to date/);
    assert.deepEqual(
      changingCalls(r.calls).filter((c) => !c.startsWith('brew upgrade')),
      [],
    );
  });

  await t.test('node@24, nginx and openssl@3 upgraded: the daemon and nginx restart, then verify', async () => {
    const pid = jobPid(mac, 'com.notes-mcp.default');
    const r = mac.run('provision.sh', [...args, '--upgrade-deps'], { STUB_BREW_OUTDATED: 'node@24,nginx,openssl@3' });
    assert.equal(r.status, 0, output(r));
    assert.match(r.stdout, /changed: brew upgrade node@24: 1\.0 -> 2\.0/);
    assert.match(r.stdout, /restart, because of: node /);
    assert.ok(
      r.calls.includes('launchctl kickstart -k system/com.notes-mcp.nginx'),
      'a new nginx binary needs a restart, not SIGHUP',
    );
    assert.notEqual(jobPid(mac, 'com.notes-mcp.default'), pid);
    assert.equal(readRecord(layout.runningFile).node, '2.0');
    assert.equal(readRecord(layout.nginx.runningFile).kegs, '2.0 2.0');
    assert.ok(!existsSync(join(mac.root, 'opt', 'notes-mcp', 'var', 'deps-rollback.env')), 'verified: nothing to undo');
    await assertConverged(mac, port);
  });

  await t.test('an nginx that fails nginx -t: the previous nginx is back, nothing else moved', async () => {
    const pid = jobPid(mac, 'com.notes-mcp.default');
    const r = mac.run('provision.sh', [...args, '--upgrade-deps'], {
      STUB_BREW_OUTDATED: 'nginx',
      STUB_BREW_BROKEN: 'nginx',
    });
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /nginx -t rejects the new configuration/);
    assert.match(r.stderr, /rolled back: nginx -> 2\.0/);
    assert.equal(opt('nginx'), '2.0');
    assert.equal(jobPid(mac, 'com.notes-mcp.default'), pid);
  });

  await t.test('a node that does not start: the previous node is back before anything restarts', async () => {
    const pid = jobPid(mac, 'com.notes-mcp.default');
    const r = mac.run('provision.sh', [...args, '--upgrade-deps'], {
      STUB_BREW_OUTDATED: 'node@24',
      STUB_BREW_BROKEN: 'node@24',
    });
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /the upgraded node@24 does not run/);
    assert.equal(opt('node@24'), '2.0');
    assert.equal(jobPid(mac, 'com.notes-mcp.default'), pid);
    const after = mac.run('provision.sh', args);
    assert.equal(after.status, 0, output(after));
    assert.match(after.stdout, /No changes/);
    await assertConverged(mac, port);
  });

  await t.test('an upgrade interrupted before its restart is verified (or undone) by the next run', async () => {
    const rollbackFile = join(mac.root, 'opt', 'notes-mcp', 'var', 'deps-rollback.env');
    const killed = await mac.interrupt([...args, '--upgrade-deps'], '^plutil -lint .*job\\.plist$', {
      STUB_BREW_OUTDATED: 'node@24',
    });
    assert.equal(killed.status, null);
    assert.equal(opt('node@24'), '3.0', 'upgraded, not yet restarted on');
    assert.match(readFileSync(rollbackFile, 'utf8'), /^node@24=.*\/2\.0$/m);
    const next = mac.run('provision.sh', args);
    assert.equal(next.status, 0, output(next));
    assert.match(next.stdout, /an earlier --upgrade-deps is not verified yet/);
    assert.match(next.stdout, /restart, because of: node /);
    assert.equal(readRecord(layout.runningFile).node, '3.0');
    assert.ok(!existsSync(rollbackFile), 'verified: nothing left to undo');
    await assertConverged(mac, port);
  });
});
