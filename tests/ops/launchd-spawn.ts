import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, type PlistValue } from 'plist';

// Start a job the way launchd does, on Linux: ProgramArguments verbatim (no shell of ours), an
// environment made of what launchd sets for UserName (USER, LOGNAME, HOME, SHELL, its default
// PATH) overlaid by the plist's EnvironmentVariables, cwd = WorkingDirectory, the job's Umask,
// NumberOfFiles as the soft and hard open-file limits (through prlimit, which execs the program
// so the pid stays the job's), the user's uid/gid when we are root, stdout/stderr appended to
// StandardOutPath/StandardErrorPath.
//
// Also the stand-in launchd of the stub Mac (fixtures/macos/bin/launchctl):
//   node launchd-spawn.js supervise <plist> <record-prefix>
// runs the job under a small supervisor that writes <prefix>.pid (the job), <prefix>.exit (last
// exit status) and <prefix>.runs, restarts it under KeepAlive after ThrottleInterval, forwards
// SIGTERM and SIGKILLs the job after ExitTimeOut, as launchd does at bootout.

export type Plist = { [key: string]: PlistValue };

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface SpawnOptions {
  /** How UserName is looked up (launchd asks opendirectoryd); default: getent passwd. */
  lookupUser?: (name: string) => PasswdEntry | undefined;
  /** Run as UserName's uid/gid; default: when we are root. */
  switchUser?: boolean;
  /** A new session, as launchd's children have (and out of the test's process group). */
  detached?: boolean;
}

/** launchd's PATH for a job whose plist sets none. */
export const LAUNCHD_DEFAULT_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';

export function getentUser(name: string): PasswdEntry | undefined {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const [user, , uid, gid, , home, shell] = r.stdout.trim().split(':');
  if (!user || uid === undefined || gid === undefined) return undefined;
  return { name: user, uid: Number(uid), gid: Number(gid), home: home ?? '/', shell: shell ?? '/bin/sh' };
}

function strings(v: PlistValue | undefined, what: string): string[] {
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${what} must be an array of strings`);
  return v as string[];
}

function stringDict(v: PlistValue | undefined, what: string): Record<string, string> {
  if (v === undefined) return {};
  assert.ok(v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v), what);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    assert.equal(typeof x, 'string', `${what}.${k} must be a string`);
    out[k] = x as string;
  }
  return out;
}

function openFiles(plist: Plist, key: 'SoftResourceLimits' | 'HardResourceLimits'): number | undefined {
  const limits = plist[key];
  if (!limits || typeof limits !== 'object' || Array.isArray(limits)) return undefined;
  const n = (limits as Record<string, PlistValue>).NumberOfFiles;
  return typeof n === 'number' ? n : undefined;
}

/** The environment launchd gives the job: UserName's defaults, then the plist's own variables. */
export function launchdEnvironment(plist: Plist, user: PasswdEntry | undefined): Record<string, string> {
  const base: Record<string, string> = { PATH: LAUNCHD_DEFAULT_PATH };
  if (user) Object.assign(base, { USER: user.name, LOGNAME: user.name, HOME: user.home, SHELL: user.shell });
  return { ...base, ...stringDict(plist.EnvironmentVariables, 'EnvironmentVariables') };
}

export function readPlistFile(file: string): Plist {
  const value = parse(readFileSync(file, 'utf8'));
  assert.ok(value && typeof value === 'object' && !Array.isArray(value), `${file}: the root must be a dict`);
  return value as Plist;
}

export function spawnLikeLaunchd(plist: Plist, opts: SpawnOptions = {}): ChildProcess {
  const [program, ...rest] = strings(plist.ProgramArguments, 'ProgramArguments');
  assert.ok(program, 'ProgramArguments is empty');
  let user: PasswdEntry | undefined;
  if (typeof plist.UserName === 'string') {
    user = (opts.lookupUser ?? getentUser)(plist.UserName);
    // launchd refuses to start a job whose user does not exist.
    assert.ok(user, `UserName ${plist.UserName} does not exist`);
  }
  const env = launchdEnvironment(plist, user);
  const cwd = typeof plist.WorkingDirectory === 'string' ? plist.WorkingDirectory : '/';
  const out = typeof plist.StandardOutPath === 'string' ? openSync(plist.StandardOutPath, 'a') : 'ignore';
  const err = typeof plist.StandardErrorPath === 'string' ? openSync(plist.StandardErrorPath, 'a') : 'ignore';
  const soft = openFiles(plist, 'SoftResourceLimits');
  const hard = openFiles(plist, 'HardResourceLimits') ?? soft;
  const argv =
    soft === undefined ? [program, ...rest] : ['prlimit', `--nofile=${soft}:${hard}`, '--', program, ...rest];
  const [file, ...args] = argv as [string, ...string[]];
  const switchUser = opts.switchUser ?? process.getuid?.() === 0;
  const ids = user && switchUser ? { uid: user.uid, gid: user.gid } : {};
  // The child inherits the umask at fork: set it around the (synchronous) fork only.
  const mask = typeof plist.Umask === 'number' ? plist.Umask : undefined;
  const previous = mask === undefined ? undefined : process.umask(mask);
  try {
    return spawn(file, args, { env, cwd, stdio: ['ignore', out, err], detached: opts.detached ?? false, ...ids });
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

/** The stub Mac's users: dscl records kept by fixtures/macos/bin/dscl under $STUB_STATE/dscl. */
export function stubUser(stubState: string, name: string): PasswdEntry | undefined {
  const dir = join(stubState, 'dscl', 'Users', name);
  if (!existsSync(dir)) return undefined;
  const read = (key: string, fallback: string) =>
    existsSync(join(dir, key)) ? readFileSync(join(dir, key), 'utf8').trim() : fallback;
  return {
    name,
    uid: Number(read('UniqueID', '0')),
    gid: Number(read('PrimaryGroupID', '0')),
    home: read('NFSHomeDirectory', '/var/empty'),
    shell: read('UserShell', '/usr/bin/false'),
  };
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/** The stand-in launchd for one job; returns when the job is booted out (SIGTERM) or the bound passes. */
async function supervise(plistFile: string, prefix: string): Promise<void> {
  const plist = readPlistFile(plistFile);
  const stubState = process.env.STUB_STATE ?? '';
  const opts: SpawnOptions = {
    // The stub's users exist only as dscl records: their environment applies, not their uid.
    lookupUser: (name) => stubUser(stubState, name) ?? getentUser(name),
    switchUser: false,
    // Its own process group, so that what the job leaves behind can be killed with it.
    detached: true,
  };
  const throttleMs = (typeof plist.ThrottleInterval === 'number' ? plist.ThrottleInterval : 10) * 1000;
  const exitTimeoutMs = (typeof plist.ExitTimeOut === 'number' ? plist.ExitTimeOut : 20) * 1000;
  // Bounded: a test that dies without booting its jobs out leaves nothing running for long.
  const lifetimeMs = Number(process.env.STUB_JOB_MAX_S ?? 600) * 1000;
  let stopping = false;
  let child: ChildProcess | undefined;
  let runs = 0;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      setTimeout(() => child?.kill('SIGKILL'), exitTimeoutMs).unref();
    } else process.exit(0);
  };
  process.on('SIGTERM', stop);
  setTimeout(stop, lifetimeMs).unref();
  for (;;) {
    const started = Date.now();
    child = spawnLikeLaunchd(plist, opts);
    runs++;
    writeAtomic(`${prefix}.pid`, `${child.pid}\n`);
    writeAtomic(`${prefix}.runs`, `${runs}\n`);
    const code = await new Promise<number>((resolve) =>
      child?.once('exit', (c, signal) => resolve(c ?? (signal ? 128 + 15 : 1))),
    );
    // launchd (AbandonProcessGroup false) kills whatever the job left running in its group.
    killGroup(child.pid);
    writeAtomic(`${prefix}.exit`, `${code}\n`);
    writeAtomic(`${prefix}.pid`, '\n');
    if (stopping || plist.KeepAlive !== true) break;
    // launchd waits ThrottleInterval between two starts of a job that keeps exiting.
    await new Promise((r) => setTimeout(r, Math.max(0, throttleMs - (Date.now() - started))));
    if (stopping) break;
  }
  process.exit(0);
}

if (process.argv[2] === 'supervise') {
  const [plistFile, prefix] = process.argv.slice(3);
  assert.ok(plistFile && prefix, 'usage: launchd-spawn.js supervise <plist> <record-prefix>');
  // Detach from whoever started us (launchctl's caller), as launchd's jobs are.
  if (process.env.STUB_SUPERVISED !== '1') {
    const self = spawn(process.execPath, [process.argv[1] ?? '', 'supervise', plistFile, prefix], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, STUB_SUPERVISED: '1' },
    });
    writeAtomic(`${prefix}.supervisor`, `${self.pid}\n`);
    self.unref();
  } else {
    await supervise(plistFile, prefix);
  }
}

/** Stop every job the stand-in launchd runs under stubState, and what they started (test teardown). */
export function stopStandInJobs(stubState: string): void {
  const db = join(stubState, 'launchctl');
  if (!existsSync(db)) return;
  const out = execFileSync('find', [db, '-name', '*.supervisor'], { encoding: 'utf8' });
  for (const file of out.split('\n').filter(Boolean)) {
    const jobFile = file.replace(/\.supervisor$/, '.pid');
    const job = existsSync(jobFile) ? Number(readFileSync(jobFile, 'utf8')) : 0;
    // Supervisor and job each lead a process group of their own.
    killGroup(Number(readFileSync(file, 'utf8')));
    killGroup(job);
  }
}
