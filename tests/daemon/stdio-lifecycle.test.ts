import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';

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

function spawnStdio(t: { after: (fn: () => void) => void }, notes: string, state: string) {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--stdio', '--notes', notes, '--state', state, '--model', 'bundled'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: state, NOTES_MCP_LOG_LEVEL: 'warn' },
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
