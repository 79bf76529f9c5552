import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectV1, TEST_TOKEN } from '../helpers/daemon.ts';
import { freePort, untilHealthy } from '../helpers/spawn.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';

// Found from outside: past the system's limit of file watches (inotify's max_user_watches on
// Linux; a big vault, or an IDE holding most of them) the folders that could not be watched
// were never re-indexed, and /health and doctor said all was well. The daemon runs here in a
// user namespace whose limit is 40 watches, over 100 folders: the real kernel refusing.

function canLimitWatches(): boolean {
  try {
    execFileSync('unshare', ['-Ur', 'sh', '-c', 'echo 40 > /proc/sys/user/max_inotify_watches'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('folders past the limit of file watches are polled: their changes are indexed, /health and doctor say so', {
  timeout: 120_000,
  skip: process.platform !== 'linux' || !canLimitWatches() ? 'needs Linux user namespaces (unshare -Ur)' : false,
}, async (t) => {
  const notes = tempDir(t, 'notes-mcp-watch-limit-');
  const state = tempDir(t, 'notes-mcp-watch-limit-state-');
  const folder = (i: number): string => `f${String(i).padStart(3, '0')}`;
  for (let i = 1; i <= 100; i++) {
    mkdirSync(join(notes, folder(i)));
    writeFileSync(join(notes, folder(i), 'n.md'), `# ${folder(i)}\n\nzqold${i}\n`);
  }
  const port = await freePort();
  const serve = [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'];
  const child = spawn(
    'unshare',
    ['-Ur', 'sh', '-c', 'echo 40 > /proc/sys/user/max_inotify_watches && exec "$0" "$@"', process.execPath, ...serve],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: TEST_TOKEN } },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  t.after(() => child.kill('SIGKILL'));
  await untilHealthy(port, child);
  const health = async (): Promise<{ notes: number; watch: { folders: number; polled: number; poll_s: number } }> =>
    (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as never;
  for (let i = 0; i < 200 && (await health()).notes < 100; i++) await new Promise((r) => setTimeout(r, 100));
  const h = await health();
  assert.equal(h.notes, 100);
  assert.equal(h.watch.folders, 101, JSON.stringify(h.watch));
  assert.ok(h.watch.polled >= 50, JSON.stringify(h.watch));
  assert.equal(h.watch.poll_s, 10);
  const lines = log.split('\n').filter((l) => l.includes('limit of file watches'));
  assert.equal(lines.length, 1, 'one log line for the refusals, not one per folder');
  assert.doesNotMatch(lines[0]!, /"stack"/);

  // Changes outside notes-mcp, in folders it could not watch: an edit, a new note, a deletion,
  // a new folder with a note, a folder removed.
  writeFileSync(join(notes, 'f090', 'n.md'), '# f090\n\nzqnew90\n');
  writeFileSync(join(notes, 'f095', 'new.md'), '# new\n\nzqbrandnew\n');
  unlinkSync(join(notes, 'f080', 'n.md'));
  mkdirSync(join(notes, 'f099', 'sub'));
  writeFileSync(join(notes, 'f099', 'sub', 'deep.md'), '# deep\n\nzqdeep\n');
  rmSync(join(notes, 'f085'), { recursive: true });
  // A polled folder deleted and made again (git checkout, a sync tool): its old notes go.
  rmSync(join(notes, 'f070'), { recursive: true });
  mkdirSync(join(notes, 'f070'));
  writeFileSync(join(notes, 'f070', 'r.md'), '# r\n\nzqrecreated\n');

  const c = await connectV1(t, `http://127.0.0.1:${port}/mcp`);
  const found = async (q: string): Promise<string[]> => {
    const r = await c.callTool({ name: 'search_notes', arguments: { query: q, mode: 'bm25' } });
    return ((r.structuredContent as { results?: Array<{ path: string }> }).results ?? []).map((x) => x.path);
  };
  const want: Record<string, string[]> = {
    zqnew90: ['f090/n.md'],
    zqold90: [],
    zqbrandnew: ['f095/new.md'],
    zqold80: [],
    zqdeep: ['f099/sub/deep.md'],
    zqold85: [],
    zqold70: [],
    zqrecreated: ['f070/r.md'],
  };
  let got: Record<string, string[]> = {};
  for (let i = 0; i < 60; i++) {
    got = Object.fromEntries(await Promise.all(Object.keys(want).map(async (q) => [q, await found(q)])));
    if (JSON.stringify(got) === JSON.stringify(want)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(got, want, 'changes in polled folders reach the index within a poll');

  const doctor = spawn(process.execPath, [BIN, 'doctor', '--notes', notes, '--state', state], {
    env: { ...process.env, HOME: state },
  });
  let out = '';
  doctor.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((r) => doctor.on('exit', r));
  assert.match(out, /folders cannot be watched .*read again every 10 s/);
});
