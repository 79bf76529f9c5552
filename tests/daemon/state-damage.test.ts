import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
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

/** One real start and a clean stop, so the state folder holds what a daemon leaves behind. */
async function servedOnce(t: T): Promise<{ notes: string; state: string }> {
  const notes = tldrVault(t, { common: 40 });
  const state = tempDir(t, 'notes-mcp-state-');
  const port = await freePort();
  const { child } = spawnDaemon(notes, state, port);
  t.after(() => child.kill('SIGKILL'));
  await healthyWithin(port, child, START_BOUND_MS);
  await searchHits(port);
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

/** search_notes over the current client finds something (the index was healed or loaded). */
async function searchHits(port: number): Promise<number> {
  const client = new Client(
    { name: 'state-damage', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } },
  });
  await client.connect(transport);
  try {
    for (let i = 0; i < 100; i++) {
      const r = (await client.callTool({ name: 'search_notes', arguments: { query: 'list files' } })) as {
        isError?: boolean;
        structuredContent?: { results?: unknown[] };
      };
      const n = r.structuredContent?.results?.length ?? 0;
      if (!r.isError && n > 0) return n;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error('search_notes found nothing within 20 s');
  } finally {
    await client.close();
  }
}

const damages = {
  folder: (p: string) => {
    rmSync(p, { recursive: true, force: true });
    mkdirSync(join(p, 'sub'), { recursive: true });
  },
  FIFO: (p: string) => {
    rmSync(p, { recursive: true, force: true });
    execFileSync('mkfifo', [p]);
  },
  'symlink to /dev/zero': (p: string) => {
    rmSync(p, { recursive: true, force: true });
    symlinkSync('/dev/zero', p);
  },
} as const;

/** Where a file lives in the state folder (<index>: the index folder, named after the notes path). */
function locate(state: string, file: string): string {
  if (!file.startsWith('<index>/')) return join(state, file);
  const indexDir = readdirSync(join(state, 'index'))[0];
  assert.ok(indexDir, 'the first start made an index folder');
  return join(state, 'index', indexDir, file.slice('<index>/'.length));
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
after(async () => {
  for (const fn of leftovers.reverse()) await fn();
});

/**
 * before: what doctor says of the damage while the daemon is stopped; after: once the daemon
 * has started on it (and healed what it can rebuild).
 */
const cases: Array<{ file: string; how: keyof typeof damages; before: RegExp; after: RegExp }> = [
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
    after: /warn\s+index repair\s+an unreadable index was moved aside/,
  })),
];

for (const { file, how, before, after: afterwards } of cases) {
  test(`${file.replace('<index>/', '')} replaced by a ${how}: doctor names it, the daemon starts and serves`, {
    timeout: 120_000,
  }, async (t) => {
    served ??= servedOnce(keep);
    const base = await served;
    const state = tempDir(t, 'notes-mcp-state-');
    cpSync(base.state, state, { recursive: true });
    damages[how](locate(state, file));
    assert.match(doctor(base.notes, state), before);
    const port = await freePort();
    const { child, stderr } = spawnDaemon(base.notes, state, port);
    t.after(() => child.kill('SIGKILL'));
    await healthyWithin(port, child, START_BOUND_MS).catch((err: Error) => {
      throw new Error(`${err.message}; stderr: ${stderr().slice(-600)}`);
    });
    assert.ok((await searchHits(port)) > 0);
    child.kill('SIGTERM');
    await once(child, 'exit');
    assert.match(doctor(base.notes, state), afterwards);
  });
}
