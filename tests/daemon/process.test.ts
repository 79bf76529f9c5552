import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TEST_TOKEN } from '../helpers/daemon.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { manySectionsNote, tldrVault, writeNotes } from '../helpers/vault.ts';
import { freePort } from '../helpers/spawn.ts';

async function waitHealthy(port: number, child: ChildProcess): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return (await r.json()) as Record<string, unknown>;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('daemon did not become healthy');
}

function spawnServe(
  notes: string,
  state: string,
  port: number,
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: TEST_TOKEN, ...extraEnv },
    },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, stderr: () => err };
}

test('SIGTERM, twice, during a burst of writes: exit 0 within 5 s and every acknowledged write is on disk', {
  timeout: 120_000,
}, async (t) => {
  const notes = tldrVault(t, { common: 200 });
  const state = tempDir(t);
  const port = await freePort();
  const { child, stderr } = spawnServe(notes, state, port);
  t.after(() => child.kill('SIGKILL'));
  await waitHealthy(port, child);

  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  const clients = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const c = new ClientV1({ name: `burst-${i}`, version: '1' });
      await c.connect(
        new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }),
      );
      return c;
    }),
  );
  const acknowledged: Array<{ path: string; content: string }> = [];
  let stop = false;
  const workers = clients.map(async (c, i) => {
    for (let n = 0; !stop && n < 10_000; n++) {
      const path = `burst/w${i}-${n}.md`;
      const content = `# write ${i}-${n}\n\n${'body '.repeat(50)}\n`;
      try {
        const r = await c.callTool({ name: 'write_note', arguments: { path, content } });
        if (!r.isError) acknowledged.push({ path, content });
      } catch {
        // refused while shutting down: not acknowledged
        stop = true;
      }
    }
  });
  // Until the burst has made progress (bounded), not a fixed time: a loaded machine is slow.
  for (let i = 0; i < 200 && acknowledged.length <= 10; i++) await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  // A supervisor or wrapper (GNU timeout) may send it again while the daemon drains: the
  // drain goes on instead of the default action killing the process.
  await new Promise((r) => setTimeout(r, 30));
  if (child.exitCode === null) child.kill('SIGTERM');
  const [code] = await exited;
  const took = Date.now() - t0;
  stop = true;
  await Promise.allSettled(workers);
  await Promise.allSettled(clients.map((c) => c.close()));

  assert.equal(code, 0, stderr());
  assert.ok(took < 5000, `shutdown took ${took} ms`);
  assert.ok(acknowledged.length > 10, `burst made progress (${acknowledged.length} writes)`);
  for (const w of acknowledged) {
    assert.equal(readFileSync(join(notes, w.path), 'utf8'), w.content, w.path);
  }
  assert.match(stderr(), /"msg":"stopped"/);
});

test('a second daemon on the same state folder exits non-zero with one line naming the first pid', {
  timeout: 60_000,
}, async (t) => {
  const notes = tldrVault(t, { common: 20 });
  const state = tempDir(t);
  const a = spawnServe(notes, state, await freePort());
  t.after(() => a.child.kill('SIGKILL'));
  await waitHealthy(Number(a.child.spawnargs[a.child.spawnargs.indexOf('--port') + 1]), a.child);
  const b = spawn(process.execPath, [BIN, 'index', '--notes', notes, '--state', state, '--model', 'bundled'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: state },
  });
  let err = '';
  b.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const [code] = await once(b, 'exit');
  assert.notEqual(code, 0);
  assert.match(
    err.trim(),
    new RegExp(`^notes-mcp: state folder .* is already in use by pid ${a.child.pid} \\(NOTES_E_STATE_LOCKED\\)$`),
  );
});

test('first start creates a token file (0600) and says how to read it; --no-auth is refused off loopback', {
  timeout: 60_000,
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const state = tempDir(t);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: '' },
    },
  );
  t.after(() => child.kill('SIGKILL'));
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await waitHealthy(port, child);
  const file = join(state, 'access.token');
  assert.ok(existsSync(file));
  assert.match(err, new RegExp(`cat "${file}"`));
  const token = readFileSync(file, 'utf8').trim();
  assert.doesNotMatch(err, new RegExp(token), 'the token itself is never logged');
  const c = new ClientV1({ name: 'first', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  await c.close();
  child.kill('SIGTERM');
  await once(child, 'exit');

  const refused = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', notes, '--state', state, '--host', '0.0.0.0', '--no-auth'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOME: state },
    },
  );
  let rerr = '';
  refused.stderr.on('data', (d: Buffer) => {
    rerr += d.toString();
  });
  const [code] = await once(refused, 'exit');
  assert.equal(code, 2);
  assert.match(rerr, /--no-auth is allowed only on a loopback address/);
});

test('serve --stdio answers both protocol generations and exits when stdin closes', { timeout: 60_000 }, async (t) => {
  const notes = tldrVault(t, { common: 50 });
  writeNotes(notes, { 'projects/garden.md': '# Garden\n\nPlant tomatoes in May.\n' });
  const state = tempDir(t);
  const args = [BIN, 'serve', '--stdio', '--notes', notes, '--state', state, '--model', 'bundled'];
  const env = { ...process.env, HOME: state } as Record<string, string>;

  const v1 = new ClientV1({ name: 'stdio-v1', version: '1' });
  await v1.connect(new StdioClientTransport({ command: process.execPath, args, env, stderr: 'ignore' }));
  let found = false;
  for (let i = 0; i < 50 && !found; i++) {
    const r = await v1.callTool({ name: 'search_notes', arguments: { query: 'tomatoes', k: 3 } });
    found = JSON.stringify(r.structuredContent).includes('projects/garden.md');
    if (!found) await new Promise((res) => setTimeout(res, 200));
  }
  assert.ok(found, 'stdio search finds the note once the initial index is done');
  await v1.close();

  const v2 = new ClientV2({ name: 'stdio-v2', version: '2' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await v2.connect(new StdioV2({ command: process.execPath, args, env, stderr: 'ignore' }));
  const tools = await v2.listTools();
  assert.equal(tools.tools.length, 11);
  const r = await v2.callTool({ name: 'read_note', arguments: { path: 'projects/garden.md' } });
  assert.match(JSON.stringify(r.structuredContent), /Plant tomatoes/);
  await v2.close();
});

test('SIGHUP at any moment of startup reopens the log instead of killing the daemon', {
  timeout: 60_000,
}, async (t) => {
  const notes = tldrVault(t, { common: 30 });
  const state = tempDir(t);
  const port = await freePort();
  const { child, stderr } = spawnServe(notes, state, port, { NOTES_MCP_LOG_FILE: `${state}/daemon.log` });
  t.after(() => child.kill('SIGKILL'));
  // Newsyslog may rotate while the model loads: signal as soon as Node runs our code (its own
  // boot, before any JavaScript, cannot be covered), then repeatedly.
  await new Promise((r) => setTimeout(r, 150));
  const timer = setInterval(() => child.kill('SIGHUP'), 40);
  try {
    await waitHealthy(port, child);
  } finally {
    clearInterval(timer);
  }
  assert.equal(child.exitCode, null, stderr());
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.match(readFileSync(`${state}/daemon.log`, 'utf8'), /log file reopened/);
});

test('an uncaught exception or unhandled rejection: one fatal JSON line, exit 70 for the supervisor', {
  timeout: 60_000,
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  // A real fault in the real process, no debug hook in the product: a preloaded module turns
  // SIGUSR2 into a throw (or a rejection) on the event loop, outside any request.
  const preload = join(tempDir(t), 'fault.mjs');
  writeFileSync(
    preload,
    [
      "process.on('SIGUSR2', () => setImmediate(() => {",
      "  if (process.env.FAULT === 'reject') Promise.reject(new Error('injected rejection'));",
      "  else throw new Error('injected fault');",
      '}));',
    ].join('\n'),
  );
  for (const fault of ['throw', 'reject'] as const) {
    const state = tempDir(t);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        `--import=${pathToFileURL(preload).href}`,
        BIN,
        'serve',
        '--notes',
        notes,
        '--state',
        state,
        '--port',
        String(port),
        '--model',
        'bundled',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: TEST_TOKEN, FAULT: fault },
      },
    );
    t.after(() => child.kill('SIGKILL'));
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await waitHealthy(port, child);
    child.kill('SIGUSR2');
    const [code, signal] = await exited;
    assert.equal(signal, null, `${fault}: exits by itself`);
    assert.equal(code, 70, `${fault}: exit code 70 (EX_SOFTWARE), so launchd's KeepAlive restarts it`);
    const lines = err.trim().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string; err?: { message?: string } });
    const last = parsed.filter((l) => l.level === 'fatal');
    assert.equal(last.length, 1, `${fault}: one fatal line\n${err}`);
    assert.match(last[0]!.msg, fault === 'throw' ? /uncaught exception/ : /unhandled rejection/);
    assert.equal(last[0]!.err?.message, fault === 'throw' ? 'injected fault' : 'injected rejection');
  }
});

test('SIGTERM while a large note is being indexed: queued index work stops, exit 0 within drainMs + 3 s, and the next start indexes it', {
  timeout: 90_000,
}, async (t) => {
  // Found from outside: closing waited for all queued index work, with no deadline. A 3.6 MB
  // note of 5,000 sections of distinct words made SIGTERM take 19-21 s (9 minutes on a larger
  // state), holding the state lock, so restarts failed NOTES_E_STATE_LOCKED meanwhile. Closing
  // now stops index work at its next embedding batch; the note was never committed, so the
  // next start indexes it.
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const state = tempDir(t);
  writeFileSync(join(state, 'cfg.json'), JSON.stringify({ drainMs: 1000 }));
  const env = { NOTES_MCP_CONFIG: join(state, 'cfg.json') };
  const port = await freePort();
  const first = spawnServe(notes, state, port, env);
  t.after(() => first.child.kill('SIGKILL'));
  await waitHealthy(port, first.child);
  const bigNote = manySectionsNote(15_000, 1);
  writeFileSync(join(notes, 'big.md'), `${bigNote}zqlastword\n`);
  // SIGTERM once the watcher has handed the note to the index (embedding it takes 10-20 s).
  for (let i = 0; i < 100; i++) {
    const h = (await waitHealthy(port, first.child)) as { index?: { syncing?: boolean } };
    if (h.index?.syncing === true) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  first.child.kill('SIGTERM');
  const [code] = (await once(first.child, 'exit')) as [number | null];
  const took = Date.now() - t0;
  t.diagnostic(`exited ${took} ms after SIGTERM`);
  assert.equal(code, 0, first.stderr());
  assert.doesNotMatch(first.stderr(), /"level":(50|60)/, 'no error logged for work stopped by the shutdown');
  // Stopping waits for one embedding batch, not for the note (10-20 s of embedding left).
  assert.ok(took < 1000 + 3000, `exited ${took} ms after SIGTERM`);
  // The lock is free and the index heals: the note is indexed at the next start.
  const second = spawnServe(notes, state, port, env);
  t.after(() => second.child.kill('SIGKILL'));
  for (let i = 0; i < 300; i++) {
    const h = (await waitHealthy(port, second.child)) as { notes?: number; index?: { syncing?: boolean } };
    if (h.notes === 2 && h.index?.syncing === false) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const c = new ClientV1({ name: 'after', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } },
    }),
  );
  t.after(() => c.close());
  const r = await c.callTool({ name: 'search_notes', arguments: { query: 'zqlastword', mode: 'bm25' } });
  const hits = (r.structuredContent as { results: Array<{ path: string }> }).results;
  assert.equal(hits[0]?.path, 'big.md');
});

test('SIGTERM during a full reindex: exit 0 within drainMs, the shutdown runs to its end', {
  timeout: 120_000,
}, async (t) => {
  // Found from outside: 15-17 s, since the drain (4 s) was waited twice before index work was
  // told to stop, with a reindex call in flight the whole time.
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const bigNote = manySectionsNote(15_000, 3);
  writeFileSync(join(notes, 'big.md'), bigNote);
  const state = tempDir(t);
  const port = await freePort();
  const d = spawnServe(notes, state, port);
  t.after(() => d.child.kill('SIGKILL'));
  for (let i = 0; i < 600; i++) {
    const h = (await waitHealthy(port, d.child)) as { notes?: number; index?: { syncing?: boolean } };
    if (h.notes === 2 && h.index?.syncing === false) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const c = new ClientV1({ name: 'reindexer', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } },
    }),
  );
  const reindex = c
    .callTool({ name: 'reindex', arguments: { full: true } }, undefined, { timeout: 120_000 })
    .catch((err: unknown) => err);
  await new Promise((r) => setTimeout(r, 1500));
  const t0 = Date.now();
  d.child.kill('SIGTERM');
  const [code] = (await once(d.child, 'exit')) as [number | null];
  const took = Date.now() - t0;
  t.diagnostic(`exited ${took} ms after SIGTERM`);
  assert.equal(code, 0, d.stderr());
  assert.ok(took < 4000 + 1500, `exited ${took} ms after SIGTERM (drainMs is 4 s)`);
  assert.match(d.stderr(), /"msg":"stopped"/, 'the shutdown ran to its end');
  // Stopped, or done if SIGTERM came while it committed the big note (never cut there).
  const r = await reindex;
  if (!(r instanceof Error)) assert.match(JSON.stringify(r), /shutting down|"status":"done"/i);
});

test('SIGTERM during start-up, once it is handled: exit 0 with a log line saying so', {
  timeout: 60_000,
}, async (t) => {
  // Seen from outside: a stop while the model loaded exited 0 at once, with nothing in the log.
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = tempDir(t);
    const log = `${state}/daemon.log`;
    const { child, stderr } = spawnServe(notes, state, await freePort(), { NOTES_MCP_LOG_FILE: log });
    t.after(() => child.kill('SIGKILL'));
    // "starting" is logged once the handlers are in place, before the model loads.
    const started = () => existsSync(log) && readFileSync(log, 'utf8').includes('"msg":"starting"');
    for (let i = 0; i < 5_000 && !started() && child.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    if (/"msg":"serving"/.test(text)) continue; // it was up before the signal: try again
    assert.equal(code, 0, stderr());
    assert.match(text, /stopped during start-up, before serving/);
    return;
  }
  assert.fail('the daemon was serving before every SIGTERM: the start-up window was missed 3 times');
});
