import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { TEST_TOKEN } from '../helpers/daemon.ts';
import { freePort, spawnDaemon } from '../helpers/spawn.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { tldrVault } from '../helpers/vault.ts';

// State files damaged the way bad luck does it (a FIFO or a /dev/zero link where a file was),
// with the daemon stopped, then a real start: it must serve within a bound, never hang in a read
// of its own state, and `doctor` must finish and name what is wrong. Each start is bounded: a
// hang is a failure here, not a stuck test run.

type T = { after: (fn: () => unknown) => void };

const START_BOUND_MS = 30_000;

/** One real start, a write and a clean stop: the state folder holds what a daemon leaves behind. */
async function servedOnce(t: T): Promise<{ notes: string; state: string }> {
  const notes = tldrVault(t, { common: 40 });
  const state = tempDir(t, 'notes-mcp-state-');
  const port = await freePort();
  const { child } = spawnDaemon(notes, state, port);
  t.after(() => child.kill('SIGKILL'));
  await healthyWithin(port, child, START_BOUND_MS);
  await withClient(port, async (c) => {
    const w = await c.callTool({ name: 'write_note', arguments: { path: 'kept.md', content: '# Kept\n\nokapi\n' } });
    assert.ok(!w.isError, JSON.stringify(w));
  });
  child.kill('SIGTERM');
  await once(child, 'exit');
  return { notes, state };
}

async function healthyWithin(port: number, child: ChildProcess, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no /health within ${ms} ms`);
}

type ToolResult = { isError?: boolean; structuredContent?: Record<string, unknown> };

async function withClient<R>(port: number, fn: (c: { callTool: Client['callTool'] }) => Promise<R>): Promise<R> {
  const client = new Client(
    { name: 'state-damage', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } },
  });
  await client.connect(transport);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** search_notes finds the written note (the index was healed or loaded) and read_note reads it. */
async function servesTheNote(port: number): Promise<void> {
  await withClient(port, async (c) => {
    let last: ToolResult | undefined;
    for (let i = 0; i < 100; i++) {
      last = (await c.callTool({ name: 'search_notes', arguments: { query: 'okapi' } })) as ToolResult;
      if (!last.isError && JSON.stringify(last.structuredContent?.results ?? []).includes('kept.md')) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(JSON.stringify(last?.structuredContent?.results ?? []).includes('kept.md'), JSON.stringify(last));
    const r = (await c.callTool({ name: 'read_note', arguments: { path: 'kept.md' } })) as ToolResult;
    assert.ok(!r.isError && JSON.stringify(r.structuredContent).includes('okapi'), JSON.stringify(r));
  });
}

const damages = {
  folder: (p: string, _elsewhere: string) => {
    rmSync(p, { recursive: true, force: true });
    mkdirSync(join(p, 'sub'), { recursive: true });
  },
  FIFO: (p: string, _elsewhere: string) => {
    rmSync(p, { recursive: true, force: true });
    execFileSync('mkfifo', [p]);
  },
  'symlink to /dev/zero': (p: string, _elsewhere: string) => {
    rmSync(p, { recursive: true, force: true });
    symlinkSync('/dev/zero', p);
  },
  'regular file': (p: string, _elsewhere: string) => {
    rmSync(p, { recursive: true, force: true });
    writeFileSync(p, 'not what was here\n');
  },
  'symlink to a file outside': (p: string, elsewhere: string) => {
    rmSync(p, { recursive: true, force: true });
    writeFileSync(join(elsewhere, 'outside.txt'), OUTSIDE);
    symlinkSync(join(elsewhere, 'outside.txt'), p);
  },
} as const;

const OUTSIDE = "not the daemon's: must never be overwritten\n";

/** Where a file lives in the state folder (<index>, <history>: the folders named after the notes path). */
function locate(state: string, file: string): string {
  const folder = readdirSync(join(state, 'index'))[0];
  assert.ok(folder, 'the first start made an index folder');
  const rel = file.replace('<index>', `index/${folder}`).replace('<history>', folder);
  return join(state, rel);
}

function doctor(notes: string, state: string): string {
  const doc = spawnSync(process.execPath, [BIN, 'doctor', '--notes', notes, '--state', state], {
    encoding: 'utf8',
    timeout: START_BOUND_MS,
    env: { ...process.env, HOME: state },
  });
  assert.equal(doc.signal, null, `doctor finished within ${START_BOUND_MS} ms (it did not: ${doc.stdout.slice(-300)})`);
  return doc.stdout;
}

// One served state folder, copied for every case (a start per case would double the run time).
let served: Promise<{ notes: string; state: string }> | undefined;
const leftovers: Array<() => unknown> = [];
const keep: T = { after: (fn) => leftovers.push(fn) };

/** A copy of the served state folder for one test, and the notes it indexes. */
async function freshCopy(t: T): Promise<{ base: { notes: string; state: string }; state: string }> {
  served ??= servedOnce(keep);
  const base = await served;
  const state = tempDir(t, 'notes-mcp-state-');
  cpSync(base.state, state, { recursive: true });
  return { base, state };
}

after(async () => {
  for (const fn of leftovers.reverse()) await fn();
});

/**
 * before: what doctor says of the damage while the daemon is stopped; after: once the daemon
 * has started on it (and healed what it can rebuild). Unset: doctor need only finish.
 */
type Case = { file: string; how: keyof typeof damages; before?: RegExp; after?: RegExp };
const healed = /warn\s+index repair\s+an unreadable index was moved aside/;
const cases: Case[] = [
  { file: 'tokens.json', how: 'FIFO', before: /FAIL\s+tokens\s+.*a FIFO/, after: /FAIL\s+tokens\s+.*a FIFO/ },
  {
    file: 'tokens.json',
    how: 'symlink to /dev/zero',
    before: /FAIL\s+tokens\s+.*a device/,
    after: /FAIL\s+tokens\s+.*a device/,
  },
  ...(['folder', 'FIFO', 'symlink to /dev/zero'] as const).map((how) => ({
    file: '<index>/index.db',
    how,
    before: /FAIL\s+index\s+.*not a regular file/,
    after: healed,
  })),
  ...(['folder', 'FIFO', 'symlink to /dev/zero', 'symlink to a file outside'] as const).flatMap((how) => [
    { file: '<index>/index.db-wal', how, before: /FAIL\s+index\s+.*index\.db-wal: /, after: healed },
    { file: '<index>/index.db-shm', how, before: /FAIL\s+index\s+.*index\.db-shm: /, after: healed },
  ]),
  ...(['folder', 'FIFO', 'symlink to /dev/zero', 'symlink to a file outside'] as const).flatMap((how) => [
    { file: '<index>/lexical.bin', how },
    { file: '<index>/vectors.hnsw.manifest.json', how },
    { file: '<index>/lock', how },
    { file: '<index>/daemon.json', how },
    {
      file: `history/<history>/journal.jsonl`,
      how,
      ...(how === 'symlink to a file outside' ? {} : { before: /FAIL\s+history\s+.*journal\.jsonl is unreadable/ }),
    },
    { file: 'verify-last.json', how },
  ]),
  // The folders themselves: all of the index is rebuilt from the notes.
  ...(['regular file', 'FIFO', 'symlink to /dev/zero', 'symlink to a file outside'] as const).map((how) => ({
    file: '<index>',
    how,
    after: healed,
  })),
  { file: 'index', how: 'regular file', after: healed },
];

for (const { file, how, before, after: afterwards } of cases) {
  test(`${file.replace(/<\w+>\//, '').replace('<index>', 'the index folder')} replaced by a ${how}: doctor finishes, the daemon starts and serves`, {
    timeout: 120_000,
  }, async (t) => {
    const { base, state } = await freshCopy(t);
    const elsewhere = tempDir(t, 'notes-mcp-elsewhere-');
    damages[how](locate(state, file), elsewhere);
    const said = doctor(base.notes, state);
    if (before) assert.match(said, before);
    const port = await freePort();
    const { child, stderr } = spawnDaemon(base.notes, state, port);
    t.after(() => child.kill('SIGKILL'));
    await healthyWithin(port, child, START_BOUND_MS).catch((err: Error) => {
      throw new Error(`${err.message}; stderr: ${stderr().slice(-600)}`);
    });
    await servesTheNote(port);
    child.kill('SIGTERM');
    await once(child, 'exit');
    const now = doctor(base.notes, state);
    if (afterwards) assert.match(now, afterwards);
    if (how === 'symlink to a file outside')
      assert.equal(readFileSync(join(elsewhere, 'outside.txt'), 'utf8'), OUTSIDE, 'the file outside is untouched');
  });
}

/**
 * The command prefix that runs a child so that file modes apply to it: root reads and writes
 * through any chmod by its capabilities, so as root the child runs with none (setpriv, part of
 * util-linux). It stays root, the owner of everything here, so it still reaches a clone inside
 * a 0700 folder (mktemp -d), which another user, such as nobody, could not.
 */
function asUnprivileged(): string[] {
  if (process.getuid?.() !== 0) return [];
  return ['setpriv', '--bounding-set=-all', '--inh-caps=-all'];
}

function spawnAs(
  prefix: string[],
  args: string[],
  state: string,
  env: Record<string, string> = { NOTES_MCP_TOKEN: TEST_TOKEN },
): { child: ChildProcess; stderr: () => string } {
  const [cmd, ...rest] = [...prefix, process.execPath, BIN, ...args];
  const child = spawn(cmd ?? process.execPath, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: state, ...env },
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, stderr: () => err };
}

async function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return code;
}

const unwritable: Array<[string, (state: string) => void]> = [
  ['a read-only state folder', (state) => execFileSync('chmod', ['-R', 'a-w', state])],
  ['<state>/index at mode 000', (state) => execFileSync('chmod', ['000', join(state, 'index')])],
];
for (const [what, hurt] of unwritable)
  test(`${what}: one coded error and the same exit code on every start, doctor says so`, {
    timeout: 120_000,
  }, async (t) => {
    const { base, state } = await freshCopy(t);
    const prefix = asUnprivileged();
    hurt(state);
    const codes: Array<number | null> = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const { child, stderr } = spawnAs(
        prefix,
        ['serve', '--notes', base.notes, '--state', state, '--port', String(port), '--model', 'bundled'],
        state,
      );
      t.after(() => child.kill('SIGKILL'));
      codes.push(await exitWithin(child, START_BOUND_MS));
      assert.match(stderr(), /cannot be written \(EACCES\) \(NOTES_E_STATE_UNWRITABLE\)/);
      assert.doesNotMatch(stderr(), /\n\s+at /, 'no stack trace');
    }
    assert.deepEqual(codes, [2, 2], 'exit 2 (a setup error), the same each time');
    const doc = spawnAs(prefix, ['doctor', '--notes', base.notes, '--state', state], state);
    let out = '';
    doc.child.stdio[1]?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await exitWithin(doc.child, START_BOUND_MS);
    assert.match(doc.stderr() + out, /FAIL\s+state folder\s+state folder .* cannot be written/);
  });

test('an index.db nobody may read (chmod 000) is moved aside and rebuilt', { timeout: 120_000 }, async (t) => {
  const { base, state } = await freshCopy(t);
  const prefix = asUnprivileged();
  execFileSync('chmod', ['000', locate(state, '<index>/index.db')]);
  const port = await freePort();
  const { child, stderr } = spawnAs(
    prefix,
    ['serve', '--notes', base.notes, '--state', state, '--port', String(port), '--model', 'bundled'],
    state,
  );
  t.after(() => child.kill('SIGKILL'));
  await healthyWithin(port, child, START_BOUND_MS).catch((err: Error) => {
    throw new Error(`${err.message}; stderr: ${stderr().slice(-600)}`);
  });
  await servesTheNote(port);
  assert.match(stderr(), /moved it aside and rebuilding it from the notes/);
});

// Under launchd the daemon reads its token from <state>/access.token (NOTES_MCP_TOKEN_FILE)
// before anything else; that file cannot be recreated, so damage to it is a setup error.
for (const [how, hurt, says] of [
  ['replaced by a FIFO', damages.FIFO, /cannot read token file .*access\.token: EINVAL: a FIFO/],
  ['emptied', (p: string) => writeFileSync(p, ''), /token file .*access\.token holds 0 characters/],
] as const) {
  test(`the token file (NOTES_MCP_TOKEN_FILE) ${how}: exit 2 with NOTES_E_CONFIG naming it, never a hang`, {
    timeout: 60_000,
  }, async (t) => {
    const { base, state } = await freshCopy(t);
    const file = join(state, 'access.token');
    hurt(file, state);
    const port = await freePort();
    const { child, stderr } = spawnAs(
      [],
      ['serve', '--notes', base.notes, '--state', state, '--port', String(port), '--model', 'bundled'],
      state,
      { NOTES_MCP_TOKEN: '', NOTES_MCP_TOKEN_FILE: file },
    );
    t.after(() => child.kill('SIGKILL'));
    assert.equal(await exitWithin(child, START_BOUND_MS), 2, stderr());
    assert.match(stderr(), says);
    assert.match(stderr(), /NOTES_E_CONFIG/);
    assert.doesNotMatch(stderr(), /\n\s+at /, 'no stack trace');
  });
}

// The history cannot be recreated: a write whose change cannot be journalled is refused, with
// nothing written, nothing appended outside the state folder and no absolute path shown.
for (const how of ['FIFO', 'folder', 'symlink to a file outside'] as const) {
  test(`write_note with the history journal replaced by a ${how}: refused, nothing written`, {
    timeout: 120_000,
  }, async (t) => {
    const { base, state } = await freshCopy(t);
    const elsewhere = tempDir(t, 'notes-mcp-elsewhere-');
    damages[how](locate(state, 'history/<history>/journal.jsonl'), elsewhere);
    const port = await freePort();
    const { child } = spawnDaemon(base.notes, state, port);
    t.after(() => child.kill('SIGKILL'));
    await healthyWithin(port, child, START_BOUND_MS);
    const name = `refused-${how.replace(/\W+/g, '-')}.md`;
    const r = (await withClient(port, (c) =>
      c.callTool({ name: 'write_note', arguments: { path: name, content: '# no\n' } }),
    )) as ToolResult & { content?: Array<{ text?: string }> };
    const text = r.content?.map((c) => c.text).join('') ?? '';
    assert.equal(r.isError, true, text);
    assert.match(text, /<state>\/history\/.*journal\.jsonl is unreadable: .*not a regular file/);
    assert.doesNotMatch(text, new RegExp(state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no absolute path');
    assert.equal(existsSync(join(base.notes, name)), false, 'nothing written');
    if (how === 'symlink to a file outside')
      assert.equal(readFileSync(join(elsewhere, 'outside.txt'), 'utf8'), OUTSIDE, 'nothing appended outside');
    await servesTheNote(port);
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
}
