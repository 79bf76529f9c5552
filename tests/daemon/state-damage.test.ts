import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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
  fifo: (p: string) => {
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

const cases: Array<{ file: string; doctorSays: RegExp }> = [
  { file: 'tokens.json', doctorSays: /FAIL\s+tokens\s+.*not a regular file/ },
];

for (const { file, doctorSays } of cases) {
  for (const [how, hurt] of Object.entries(damages)) {
    test(`${file} replaced by a ${how}: the daemon still starts and serves, doctor names it`, {
      timeout: 120_000,
    }, async (t) => {
      const base = await servedOnce(t);
      const state = tempDir(t, 'notes-mcp-state-');
      cpSync(base.state, state, { recursive: true });
      hurt(locate(state, file));
      const port = await freePort();
      const { child, stderr } = spawnDaemon(base.notes, state, port);
      t.after(() => child.kill('SIGKILL'));
      await healthyWithin(port, child, START_BOUND_MS).catch((err: Error) => {
        throw new Error(`${err.message}; stderr: ${stderr().slice(-600)}`);
      });
      assert.ok((await searchHits(port)) > 0);
      child.kill('SIGTERM');
      await once(child, 'exit');
      const doc = spawnSync(process.execPath, [BIN, 'doctor', '--notes', base.notes, '--state', state], {
        encoding: 'utf8',
        timeout: START_BOUND_MS,
        env: { ...process.env, HOME: state },
      });
      assert.equal(doc.signal, null, `doctor finished (it did not: ${doc.stdout.slice(-300)})`);
      assert.match(doc.stdout, doctorSays);
    });
  }
}
