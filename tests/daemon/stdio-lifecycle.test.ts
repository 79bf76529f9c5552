import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { manySectionsNote, writeNotes } from '../helpers/vault.ts';

// The stdio daemon must end by itself whenever its client goes away, at any moment, without
// losing work it acknowledged, and leave the index lock free for the next start.

const DRAIN_MS = 1500;

function lockFiles(state: string): string[] {
  const root = join(state, 'index');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((d) => join(root, d, 'lock'))
    .filter((f) => existsSync(f));
}

function spawnStdio(
  t: { after: (fn: () => void) => void },
  notes: string,
  state: string,
  env: Record<string, string> = {},
) {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--stdio', '--notes', notes, '--state', state, '--model', 'bundled'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: state, NOTES_MCP_LOG_LEVEL: 'warn', ...env },
    },
  );
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, out: () => out, err: () => err };
}

function vault(t: { after: (fn: () => void) => void }): { notes: string; state: string } {
  const notes = tempDir(t, 'notes-mcp-stdio-');
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  return { notes, state: tempDir(t, 'notes-mcp-stdio-state-') };
}

const msg = (m: Record<string, unknown>): string => `${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`;
const INIT = msg({
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

async function exitsWithin(p: Promise<number | null>, ms: number, what: string): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), ms);
  });
  const r = await Promise.race([p, t]);
  clearTimeout(timer);
  assert.notEqual(r, 'timeout', `${what}: still running after ${ms} ms`);
  return r as number | null;
}

test('stdin closed before start-up (`: | notes-mcp serve --stdio`): exits 0 and frees the lock', {
  timeout: 60_000,
}, async (t) => {
  const { notes, state } = vault(t);
  const s = spawnStdio(t, notes, state);
  s.child.stdin.end();
  // Start-up (model and index) plus the drain bound: never "forever".
  const code = await exitsWithin(s.exited, 20_000, 'stdin closed at once');
  assert.equal(code, 0, s.err());
  assert.deepEqual(lockFiles(state), []);
});

test('stdin closed at moments during and after start-up: exits within the drain time, lock freed', {
  timeout: 120_000,
}, async (t) => {
  for (const delay of [30, 150, 400, 900, 2000]) {
    const { notes, state } = vault(t);
    const s = spawnStdio(t, notes, state);
    await new Promise((r) => setTimeout(r, delay));
    const closedAt = Date.now();
    s.child.stdin.end();
    const code = await exitsWithin(s.exited, 20_000, `stdin closed after ${delay} ms`);
    assert.equal(code, 0, `after ${delay} ms: ${s.err()}`);
    assert.deepEqual(lockFiles(state), [], `lock left after ${delay} ms`);
    void closedAt;
  }
});

test('a write sent just before stdin closes is answered and on disk; then the process exits', {
  timeout: 60_000,
}, async (t) => {
  const { notes, state } = vault(t);
  const s = spawnStdio(t, notes, state);
  s.child.stdin.write(INIT);
  s.child.stdin.write(msg({ method: 'notifications/initialized' }));
  s.child.stdin.write(
    msg({
      id: 2,
      method: 'tools/call',
      params: { name: 'write_note', arguments: { path: 'late.md', content: '# Late\n\nwritten as stdin closed\n' } },
    }),
  );
  s.child.stdin.end();
  const code = await exitsWithin(s.exited, 20_000, 'after the write');
  assert.equal(code, 0, s.err());
  const answers = s
    .out()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id?: number; result?: { isError?: boolean } });
  const write = answers.find((a) => a.id === 2);
  assert.ok(write?.result, `the write was answered: ${s.out()}`);
  assert.notEqual(write.result.isError, true);
  assert.match(readFileSync(join(notes, 'late.md'), 'utf8'), /written as stdin closed/);
  assert.deepEqual(lockFiles(state), []);
});

test('a write waiting for its indexing behind a large note is answered when stdin closes, not cut by the exit', {
  timeout: 90_000,
}, async (t) => {
  // Found from outside: a write_note waits up to 3 s for its note to be indexed; behind a large
  // note being embedded it was still waiting when the process exited (drainMs + 1 s), so the
  // note was on disk and the client never heard. Index work now stops when shutdown begins.
  const { notes, state } = vault(t);
  const bigNote = manySectionsNote(15_000, 7);
  writeFileSync(join(notes, 'big.md'), bigNote);
  writeFileSync(join(state, 'cfg.json'), JSON.stringify({ drainMs: 1000 }));
  const s = spawnStdio(t, notes, state, { NOTES_MCP_CONFIG: join(state, 'cfg.json') });
  s.child.stdin.write(INIT);
  for (let i = 0; i < 300 && !s.out().includes('"id":1'); i++) await new Promise((r) => setTimeout(r, 100));
  s.child.stdin.write(msg({ method: 'notifications/initialized' }));
  s.child.stdin.write(
    msg({
      id: 2,
      method: 'tools/call',
      params: { name: 'write_note', arguments: { path: 'small.md', content: '# Small\n\nwritten while indexing\n' } },
    }),
  );
  await new Promise((r) => setTimeout(r, 300));
  s.child.stdin.end();
  const code = await exitsWithin(s.exited, 20_000, 'after the write');
  assert.equal(code, 0, s.err());
  const write = s
    .out()
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as { id?: number; result?: { isError?: boolean; structuredContent?: { indexed?: boolean } } },
    )
    .find((a) => a.id === 2);
  assert.ok(write?.result, `the write was answered: ${s.out()} ${s.err()}`);
  assert.notEqual(write.result.isError, true);
  assert.equal(write.result.structuredContent?.indexed, false);
  assert.match(readFileSync(join(notes, 'small.md'), 'utf8'), /written while indexing/);
  assert.deepEqual(lockFiles(state), []);
});

test('SIGTERM to the stdio daemon: exits 0 within the drain time, lock freed', { timeout: 60_000 }, async (t) => {
  const { notes, state } = vault(t);
  const s = spawnStdio(t, notes, state);
  s.child.stdin.write(INIT);
  // Wait for the initialize answer: the daemon is up.
  for (let i = 0; i < 200 && !s.out().includes('"id":1'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(s.out(), /"id":1/);
  s.child.kill('SIGTERM');
  const code = await exitsWithin(s.exited, DRAIN_MS + 6_000, 'after SIGTERM');
  assert.equal(code, 0, s.err());
  assert.deepEqual(lockFiles(state), []);
});

test('a message over the stdio bound gets an error naming its id and the session goes on (v1 client)', {
  timeout: 60_000,
}, async (t) => {
  // Found from outside: one write_note of 12 MB made the SDK's transport close itself for
  // good. The process stayed up, answered nothing more, and its host waited forever.
  const { notes, state } = vault(t);
  const c = new ClientV1({ name: 'big-writer', version: '1' });
  await c.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'serve', '--stdio', '--notes', notes, '--state', state, '--model', 'bundled'],
      env: { ...process.env, HOME: state, NOTES_MCP_LOG_LEVEL: 'warn' } as Record<string, string>,
      stderr: 'ignore',
    }),
  );
  t.after(() => c.close());
  await assert.rejects(
    c.callTool(
      { name: 'write_note', arguments: { path: 'big.md', content: 'x'.repeat(12 * 1024 * 1024) } },
      undefined,
      {
        timeout: 20_000,
      },
    ),
    (e: Error & { code?: number }) => e.code === -32600 && /larger than 10485760 bytes/.test(e.message),
  );
  assert.equal(existsSync(join(notes, 'big.md')), false);
  const r = await c.callTool({ name: 'write_note', arguments: { path: 'small.md', content: '# Small\n\nfits\n' } });
  assert.notEqual(r.isError, true, JSON.stringify(r.content));
  assert.match(readFileSync(join(notes, 'small.md'), 'utf8'), /fits/);
});

test('a client that stops reading stdout: tool calls wait instead of piling up replies; all arrive once it reads', {
  timeout: 120_000,
}, async (t) => {
  // 64 resources/read of a 1 MB note whose JSON is 5.6 MB, never read: without a bound the
  // daemon's RSS rose by 430 MB; with it, by about 60 MB.
  const { notes, state } = vault(t);
  const sample = 'plain text line for the sample\n'.repeat(2_200);
  writeNotes(notes, {
    'ctl.md': `# c\n${sample}${`${'\u0001'.repeat(99)}\n`.repeat((1_000_000 - sample.length) / 100)}`,
  });
  const s = spawnStdio(t, notes, state);
  s.child.stdin.write(INIT);
  for (let i = 0; i < 400 && !s.out().includes('"id":1'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(s.out(), /"id":1/);
  s.child.stdin.write(msg({ method: 'notifications/initialized' }));
  // Take the readers spawnStdio set off stdout, then read nothing.
  s.child.stdout.removeAllListeners('data');
  s.child.stdout.pause();
  const rss = (): number =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1]) / 1024;
  const before = rss();
  const N = 64;
  for (let i = 0; i < N; i++)
    s.child.stdin.write(msg({ id: 100 + i, method: 'resources/read', params: { uri: 'note://ctl.md' } }));
  let peak = before;
  for (let i = 0; i < 16; i++) {
    await new Promise((r) => setTimeout(r, 500));
    peak = Math.max(peak, rss());
  }
  t.diagnostic(`RSS ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at most while unread`);
  assert.ok(peak - before < 200, `RSS grew by ${(peak - before).toFixed(0)} MB with stdout unread`);
  // Replies are counted by their id (the SDK writes it last); other messages (a list change
  // from the first index) are not replies.
  const answered = new Set<number>();
  let errors = 0;
  let head = '';
  let tail = '';
  s.child.stdout.on('data', (d: Buffer) => {
    let from = 0;
    for (let nl = d.indexOf(10); nl !== -1; nl = d.indexOf(10, from)) {
      head = (head + d.toString('latin1', from, Math.min(nl, from + 40))).slice(0, 40);
      tail = (tail + d.toString('latin1', Math.max(from, nl - 40), nl)).slice(-40);
      const id = /"id":(\d+)\}$/.exec(tail)?.[1];
      if (id !== undefined && Number(id) >= 100) answered.add(Number(id));
      if (head.includes('"error"') || tail.includes('"error"')) errors++;
      head = '';
      tail = '';
      from = nl + 1;
    }
    if (head.length < 40) head = (head + d.toString('latin1', from, from + 40)).slice(0, 40);
    tail = (tail + d.toString('latin1', Math.max(from, d.length - 40))).slice(-40);
  });
  s.child.stdout.resume();
  for (let i = 0; i < 120 && answered.size < N; i++) await new Promise((r) => setTimeout(r, 500));
  assert.equal(answered.size, N, `${answered.size} of ${N} replies arrived`);
  assert.equal(errors, 0);
});

test('lines that are not messages the server can take each get an error with their id; the session goes on', {
  timeout: 60_000,
}, async (t) => {
  // The SDK's stdio transport answered none of the last three: a batch or a line that is not
  // JSON-RPC was dropped, a line that is not JSON skipped, and each client request waited for
  // its own timeout. Nesting past 64 levels is refused as over HTTP (where it overflowed the
  // SDK's stack).
  const { notes, state } = vault(t);
  const s = spawnStdio(t, notes, state);
  s.child.stdin.write(INIT);
  for (let i = 0; i < 400 && !s.out().includes('"id":1'); i++) await new Promise((r) => setTimeout(r, 50));
  s.child.stdin.write(msg({ method: 'notifications/initialized' }));
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  s.child.stdin.write(
    `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"list_notes","arguments":{"x":${deep}}}}\n`,
  );
  s.child.stdin.write(`{"jsonrpc":"2.0","id":"twelve","method":"ping","params":{"_meta":{"x":${deep}}}}\n`);
  s.child.stdin.write('[{"jsonrpc":"2.0","id":13,"method":"ping"}]\n');
  s.child.stdin.write('{"jsonrpc":"2.0","id":14,"method":\n');
  s.child.stdin.write('{"id":15,"method":"ping"}\n');
  s.child.stdin.write(msg({ id: 16, method: 'tools/call', params: { name: 'list_notes', arguments: {} } }));
  const replies = (): Array<{ id?: unknown; error?: { code: number; data?: { code?: string } }; result?: unknown }> =>
    s
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as never);
  for (let i = 0; i < 200 && !replies().some((r) => r.id === 16); i++) await new Promise((r) => setTimeout(r, 50));
  const got = replies().map((r) => [r.id, r.error ? r.error.data?.code : 'ok']);
  assert.deepEqual(got.slice(1), [
    [11, 'NOTES_E_JSON_INVALID'],
    ['twelve', 'NOTES_E_JSON_INVALID'],
    [null, 'NOTES_E_BATCH_UNSUPPORTED'],
    [null, 'NOTES_E_JSON_INVALID'],
    [15, 'NOTES_E_USAGE'],
    [16, 'ok'],
  ]);
  assert.equal(s.child.exitCode, null);
});

test('a client that floods stdin and reads nothing: the daemon stops reading, its memory stays bounded', {
  timeout: 150_000,
}, async (t) => {
  // Found from outside: only tool calls waited on unread stdout. 500,000 pings or 1,000,000 bad
  // lines, their replies never read, took the daemon to 2.5 GB and 875 MB.
  const { notes, state } = vault(t);
  const s = spawnStdio(t, notes, state);
  s.child.stdin.write(INIT);
  for (let i = 0; i < 400 && !s.out().includes('"id":1'); i++) await new Promise((r) => setTimeout(r, 50));
  s.child.stdout.removeAllListeners('data');
  s.child.stdout.pause();
  const rss = (): number =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))?.[1]) / 1024;
  const before = rss();
  const chunk = 'not json at all\n'.repeat(5_000);
  let sent = 0;
  let held = false;
  // 32 MiB of replies is about 145,000 lines: a slow machine took over 20 s to send them.
  const until = Date.now() + 60_000;
  while (sent < 400_000 && Date.now() < until) {
    if (!s.child.stdin.write(chunk)) {
      // Backpressure: wait for a drain that comes only if the daemon reads on.
      const drained = await Promise.race([
        once(s.child.stdin, 'drain').then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 2_000)),
      ]);
      if (!drained) {
        held = true;
        break;
      }
    }
    sent += 5_000;
  }
  const peak = rss();
  t.diagnostic(`${sent} bad lines sent, stdin held: ${held}; RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MB`);
  assert.ok(held, `the daemon kept reading stdin (${sent} lines) with its replies unread`);
  assert.ok(peak - before < 250, `RSS grew by ${(peak - before).toFixed(0)} MB`);
  // It reads on once the client does.
  s.child.stdout.on('data', () => undefined);
  s.child.stdout.resume();
  await once(s.child.stdin, 'drain');
});

test('a request the client cancelled does not hold the shutdown', { timeout: 60_000 }, async (t) => {
  // Found from outside: the SDK sends no reply to a cancelled request, so the stdio wire waited
  // for one until the drain time (4 s) before exiting on stdin's end.
  const { notes, state } = vault(t);
  const s = spawnStdio(t, notes, state);
  s.child.stdin.write(INIT);
  for (let i = 0; i < 400 && !s.out().includes('"id":1'); i++) await new Promise((r) => setTimeout(r, 50));
  s.child.stdin.write(msg({ method: 'notifications/initialized' }));
  s.child.stdin.write(msg({ id: 50, method: 'tools/call', params: { name: 'reindex', arguments: {} } }));
  s.child.stdin.write(msg({ method: 'notifications/cancelled', params: { requestId: 50, reason: 'test' } }));
  const t0 = Date.now();
  s.child.stdin.end();
  const code = await exitsWithin(s.exited, 20_000, 'after the cancel');
  const took = Date.now() - t0;
  t.diagnostic(`exited ${took} ms after stdin closed`);
  assert.equal(code, 0, s.err());
  assert.ok(took < 2_500, `exited ${took} ms after stdin closed`);
});
