import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { REPO_ROOT } from '../helpers/tmp.ts';
import { FIXTURES, freePort, SCRIPTS, waitFor } from './helpers.ts';
import { stopStandInJobs } from './launchd-spawn.ts';

// provision.sh and uninstall.sh against a stand-in macOS: fake brew, launchctl, dscl, pmset,
// sudo, ... (tests/ops/fixtures/macos/bin) that record every call and keep their state, with
// every system path moved under a temp folder (--sysroot). Files are really written, and the
// stand-in launchd really runs the jobs it loads (the daemon from the installed release, the
// verify job), so health checks, verification and rollback are the real ones.

export const STUBS = join(FIXTURES, 'macos');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Stub calls made during this run only. */
  calls: string[];
}

export interface Mac {
  dir: string;
  root: string;
  home: string;
  state: string;
  /** A fixed snapshot of the app to install (the live checkout changes under parallel work). */
  source: string;
  run: (script: string, args: string[], extraEnv?: Record<string, string>) => Run;
  /** Start provision.sh with STUB_HANG_ON=hang, wait until it hangs there, SIGKILL the run. */
  interrupt: (args: string[], hang: string, extraEnv?: Record<string, string>) => Promise<Run>;
  /** A new source state (so a new release): one more file in the snapshot. */
  change: (what: string) => void;
}

export function output(r: Run): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export function standInMac(t: TestContext): Mac {
  const dir = mkdtempSync(join(tmpdir(), 'notes-mcp-mac-'));
  const root = join(dir, 'root');
  const home = join(dir, 'home', 'admin');
  const state = join(dir, 'stub-state');
  const log = join(dir, 'calls.log');
  for (const d of [join(root, 'opt', 'homebrew', 'bin'), home, state, join(dir, 'tmp')])
    mkdirSync(d, { recursive: true });
  cpSync(join(STUBS, 'bin', 'brew'), join(root, 'opt', 'homebrew', 'bin', 'brew'));
  const source = join(dir, 'source');
  for (const f of ['package.json', 'package-lock.json', 'README.md', 'bin', 'scripts', 'models'])
    cpSync(join(REPO_ROOT, f), join(source, f), { recursive: true });
  // Jobs outlive a run, as under launchd: stop them when the test ends, then remove the Mac
  // (retrying while the killed jobs' last writes land).
  t.after(() => {
    stopStandInJobs(state);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });
  const env = (extra: Record<string, string>) => ({
    PATH: `${join(STUBS, 'bin')}:/usr/bin:/bin`,
    HOME: home,
    LANG: 'C',
    TMPDIR: join(dir, 'tmp'),
    STUB_DIR: STUBS,
    STUB_STATE: state,
    STUB_LOG: log,
    STUB_NODE: process.execPath,
    STUB_REPO: REPO_ROOT,
    // A bound for jobs a crashed test leaves behind; longer than the longest test.
    STUB_JOB_MAX_S: '1800',
    ...extra,
  });
  const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(0, -1) : []);
  const run = (script: string, args: string[], extraEnv: Record<string, string> = {}): Run => {
    const before = lines().length;
    const r = spawnSync('bash', [join(SCRIPTS, script), ...args], {
      encoding: 'utf8',
      timeout: 180_000,
      // provision-remote.sh keeps its log in the current folder: the test's, not the checkout.
      cwd: dir,
      env: env(extraEnv),
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: lines().slice(before) };
  };
  const interrupt = async (args: string[], hang: string, extraEnv: Record<string, string> = {}): Promise<Run> => {
    const before = lines().length;
    const hung = join(state, 'hung');
    rmSync(hung, { force: true });
    const child: ChildProcess = spawn('bash', [join(SCRIPTS, 'provision.sh'), ...args], {
      cwd: dir,
      env: env({ ...extraEnv, STUB_HANG_ON: hang }),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let reached = false;
    try {
      reached = await waitFor(
        () => (existsSync(hung) ? true : child.exitCode !== null ? 'exited' : undefined),
        120_000,
        `provision.sh to reach ${hang}`,
      ).then((v) => v === true);
    } finally {
      // The whole run (its stubs included), as an operator's Ctrl-C or a lost SSH session would.
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // it ended by itself
      }
    }
    const status = await exited;
    if (!reached)
      throw new Error(`provision.sh ended (${status}) before ${hang}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
    rmSync(hung, { force: true });
    return { status, stdout, stderr, calls: lines().slice(before) };
  };
  let changes = 0;
  const change = (what: string) => {
    changes++;
    writeFileSync(join(source, `CHANGE-${changes}.md`), `${what}\n`);
  };
  return { dir, root, home, state, source, run, interrupt, change };
}

export function assertInOrder(calls: readonly string[], expected: readonly RegExp[]): void {
  let i = 0;
  for (const re of expected) {
    const at = calls.findIndex((c, j) => j >= i && re.test(c));
    assert.ok(at >= 0, `no call matching ${re} after call #${i}:\n${calls.slice(i).join('\n')}`);
    i = at + 1;
  }
}

/** Calls that change the Mac; the verify job's own run (kickstart without -k) is not a change. */
export function changingCalls(calls: readonly string[]): string[] {
  const changing =
    /^(brew (install|upgrade)|npm ci|softwareupdate -i|dscl \. -create|launchctl (enable|bootstrap|bootout|kickstart|kill)|pmset -a|certbot certonly|acme\.sh --issue)/;
  return calls.filter((c) => changing.test(c) && !/^launchctl kickstart system\/[\w.-]+\.verify$/.test(c));
}

/** KEY=value lines of a record file. */
export function readRecord(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

/** The release an instance is pinned to (basename of instances/<name>/current). */
export function pinned(root: string, instance: string): string {
  return (
    readlinkSync(join(root, 'opt', 'notes-mcp', 'instances', instance, 'current'))
      .split('/')
      .pop() ?? ''
  );
}

/** The pid the stand-in launchd runs for a job ('' when none). */
export function jobPid(mac: Mac, label: string, domain = 'system'): string {
  const f = join(mac.state, 'launchctl', domain, `${label}.pid`);
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : '';
}

/** GET /health on a connection of its own (a pooled one may belong to a daemon since restarted). */
export function healthy(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`/health -> ${res.statusCode} ${body}`));
        else resolve(JSON.parse(body) as Record<string, unknown>);
      });
    }).on('error', reject);
  });
}

export { freePort };

/**
 * provision.sh's options for a quick, offline install of instance `default` on this Mac. The
 * latency tolerance is wide (10x and at least 250 ms): on a shared test machine a p95 of 2 ms
 * can read 45 ms under load, and the rollback on a slower release has a test of its own
 * (converge.test.ts), which narrows it again.
 */
export function provisionArgs(mac: Mac, port: number): string[] {
  const install = ['--source', mac.source, '--sysroot', mac.root, '--model', 'bundled', '--min-free-gb', '0'];
  return [...install, '--port', String(port), '--tolerance', '1000', '--tolerance-ms', '250'];
}
