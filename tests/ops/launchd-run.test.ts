import assert from 'node:assert/strict';
import { type ChildProcess, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { userInfo } from 'node:os';
import { instanceConfig, instancePlist, instancePlistObject, type Layout, resolveLayout } from '../../src/ops/index.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { freePort, parsePlist, SCRIPTS, spawnLikeLaunchd, waitFor } from './helpers.ts';
import { getentUser, LAUNCHD_DEFAULT_PATH, launchdEnvironment } from './launchd-spawn.ts';

// The daemon's UserName must exist for launchd to start the job: these tests run it as
// whoever runs the tests (root in CI), so the uid switch is a no-op.
const ME = userInfo().username;

// The generated plist's ProgramArguments started the way launchd starts them: nothing but the
// plist's EnvironmentVariables, cwd = WorkingDirectory, output to StandardOut/ErrorPath.

function prepare(layout: Layout, token: string): void {
  for (const d of [layout.notes, layout.state, layout.logs, layout.etcDir]) mkdirSync(d, { recursive: true });
  writeFileSync(layout.tokenFile, `${token}\n`, { mode: 0o600 });
  writeFileSync(layout.configFile, instanceConfig(layout));
}

/**
 * This node, at a path another user can reach. The job runs as nobody, who must traverse every
 * folder above the program: a clone inside a 0700 folder (`mktemp -d`) would refuse exec.
 * A hard link when the folders share a file system, else a copy.
 */
function nodeReachableFrom(root: string): string {
  const bin = join(root, 'node-bin');
  mkdirSync(bin, { mode: 0o755 });
  const node = join(bin, 'node');
  try {
    linkSync(process.execPath, node);
  } catch {
    copyFileSync(process.execPath, node);
    chmodSync(node, 0o755);
  }
  return node;
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.once('exit', (code) => resolve(code));
  });
}

test('ProgramArguments get exactly the plist environment, its WorkingDirectory and a matching pid file', async (t) => {
  const root = tempDir(t);
  const app = join(root, 'app');
  mkdirSync(join(app, 'bin'), { recursive: true });
  // A stand-in program reporting what it was started with.
  writeFileSync(
    join(app, 'bin', 'notes-mcp.js'),
    `require('node:fs').writeFileSync(process.env.NOTES_MCP_CONFIG + '.seen', JSON.stringify({ pid: process.pid, cwd: process.cwd(), env: process.env, argv: process.argv.slice(2) }));
setTimeout(() => {}, 60000); process.on('SIGTERM', () => process.exit(0));`,
  );
  writeFileSync(join(app, 'package.json'), '{"type":"commonjs"}');
  const layout = resolveLayout({ root, instance: 'probe', app, node: process.execPath, user: ME });
  prepare(layout, 'x'.repeat(32));
  const plist = parsePlist(instancePlist(layout));
  const child = spawnLikeLaunchd(plist);
  t.after(() => child.kill('SIGKILL'));
  const seen = await waitFor(
    () =>
      existsSync(`${layout.configFile}.seen`)
        ? JSON.parse(readFileSync(`${layout.configFile}.seen`, 'utf8'))
        : undefined,
    10_000,
    'the program to start',
  );
  assert.equal(seen.pid, child.pid, 'sh execs node: launchd, the pid file and node agree on one pid');
  assert.equal(readFileSync(layout.pidFile, 'utf8').trim(), String(child.pid));
  assert.equal(seen.cwd, layout.state);
  assert.deepEqual(seen.argv, ['serve']);
  const expected = launchdEnvironment(plist, getentUser(ME));
  const { PWD: _pwd, SHLVL: _shlvl, _: _underscore, ...env } = seen.env as Record<string, string>;
  assert.deepEqual(env, expected, "UserName's and the plist's environment only (sh adds PWD/SHLVL/_)");
  child.kill('SIGTERM');
  assert.equal(await exited(child), 0);
});

test('the spawn helper applies UserName (uid, USER/LOGNAME/SHELL, plist HOME wins), Umask and NumberOfFiles', async (t) => {
  const root = tempDir(t);
  // The job runs as nobody (when the tests run as root): it must reach its program and folders.
  chmodSync(root, 0o755);
  const app = join(root, 'app');
  mkdirSync(join(app, 'bin'), { recursive: true });
  writeFileSync(
    join(app, 'bin', 'notes-mcp.js'),
    `const fs = require('node:fs');
fs.writeFileSync('umask-probe', 'x');
const limits = fs.readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max open files'));
console.log(JSON.stringify({ uid: process.getuid(), env: process.env, mode: fs.statSync('umask-probe').mode & 0o777, limits }));`,
  );
  writeFileSync(join(app, 'package.json'), '{"type":"commonjs"}');
  const nobody = getentUser('nobody');
  assert.ok(nobody, 'the test machine has a nobody user');
  const layout = resolveLayout({
    root,
    instance: 'as-nobody',
    app,
    node: nodeReachableFrom(root),
    user: 'nobody',
    maxFiles: 4321,
  });
  prepare(layout, 'y'.repeat(32));
  chmodSync(layout.state, 0o777);
  chmodSync(layout.logs, 0o777);
  const plist = instancePlistObject(layout);
  assert.equal(plist.Umask, 0o027);
  const child = spawnLikeLaunchd(plist);
  t.after(() => child.kill('SIGKILL'));
  assert.equal(await exited(child), 0, readFileSync(layout.stderrLog, 'utf8'));
  const seen = JSON.parse(readFileSync(layout.stdoutLog, 'utf8')) as {
    uid: number;
    env: Record<string, string>;
    mode: number;
    limits: string;
  };
  if (process.getuid?.() === 0) assert.equal(seen.uid, nobody.uid, 'root starts the job as UserName');
  assert.equal(seen.env.USER, 'nobody');
  assert.equal(seen.env.LOGNAME, 'nobody');
  assert.equal(seen.env.SHELL, nobody.shell);
  assert.equal(seen.env.HOME, layout.state, "the plist's HOME replaces the user's home (/var/empty on a Mac)");
  assert.equal(seen.env.PATH, layout.path, "the plist's PATH, not launchd's default");
  assert.notEqual(layout.path, LAUNCHD_DEFAULT_PATH);
  assert.equal(seen.mode, 0o640, 'Umask 027: files the daemon creates are not world-readable');
  assert.match(seen.limits, /^Max open files\s+4321\s+4321\s+files/, seen.limits);
});

test('the real daemon under launchd-like start: /health, SIGHUP log reopen, verify.sh, SIGTERM drain', async (t) => {
  const root = tempDir(t);
  const port = await freePort();
  const token = 'launchd-test-token-0123456789abcdef';
  const layout = resolveLayout({
    root,
    instance: 'launchd-test',
    app: REPO_ROOT,
    node: process.execPath,
    port,
    model: 'bundled',
    serverName: 'notes.test',
    user: ME,
  });
  prepare(layout, token);
  writeFileSync(join(layout.notes, 'hello.md'), '# Hello\n\nlaunchd starts notes-mcp at boot.\n');
  const plist = instancePlistObject(layout);
  const child = spawnLikeLaunchd(plist);
  t.after(() => child.kill('SIGKILL'));
  const stderr = () => (existsSync(layout.stderrLog) ? readFileSync(layout.stderrLog, 'utf8') : '');
  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    return r?.ok ? ((await r.json()) as Record<string, unknown>) : undefined;
  };
  const first = await waitFor(
    async () => (child.exitCode === null ? health() : Promise.reject(new Error(stderr()))),
    90_000,
    '/health',
  );
  assert.ok(first.status, JSON.stringify(first));
  assert.equal(readFileSync(layout.pidFile, 'utf8').trim(), String(child.pid));
  // Signal handlers are in place once the initial index is done (SIGHUP before that kills the daemon).
  await waitFor(
    () => existsSync(layout.logFile) && readFileSync(layout.logFile, 'utf8').includes('initial index done'),
    30_000,
    `"initial index done" in ${layout.logFile}`,
  );
  assert.match(readFileSync(layout.logFile, 'utf8'), /^\{.*"level"/m, 'pino JSON lines in NOTES_MCP_LOG_FILE');

  // newsyslog: rename the log, SIGHUP the pid from the pid file; the daemon carries on in a new file.
  renameSync(layout.logFile, `${layout.logFile}.0`);
  process.kill(Number(readFileSync(layout.pidFile, 'utf8')), 'SIGHUP');
  await waitFor(() => existsSync(layout.logFile), 10_000, 'the daemon to reopen its log file after SIGHUP');
  assert.equal(child.exitCode, null, `SIGHUP must not stop the daemon: ${stderr()}`);
  assert.ok(await health());

  const v = spawnSync(
    'bash',
    [
      join(SCRIPTS, 'verify.sh'),
      `http://127.0.0.1:${port}`,
      '--no-service',
      '--token-file',
      layout.tokenFile,
      '--samples',
      '100',
      '--no-baseline',
      '--query',
      'launchd',
    ],
    { encoding: 'utf8', env: { ...process.env, HOME: root }, timeout: 60_000 },
  );
  assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
  assert.match(v.stdout, /^verify: PASS /m);

  const stopAt = Date.now();
  child.kill('SIGTERM');
  const code = await exited(child);
  assert.equal(code, 0, `SIGTERM drains and exits 0: ${stderr()}`);
  assert.ok(Date.now() - stopAt < Number(plist.ExitTimeOut) * 1000, 'stops before launchd would SIGKILL it');
});
