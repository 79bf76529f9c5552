import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';
import { freePort } from '../helpers/spawn.ts';

// What a new user meets: mistakes answered in one coded line, and a daemon that says where it is.

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** One line on stderr, `notes-mcp: <reason> (<CODE>)`, and nothing like a stack trace. */
function assertOneLine(err: string, code: string): void {
  const lines = err.trim().split('\n');
  assert.ok(lines.length <= 2, `one line (plus at most the --help hint): ${err}`);
  assert.match(lines[0] ?? '', new RegExp(`^notes-mcp: .+ \\(${code}\\)$`));
  assert.doesNotMatch(err, /\n\s+at /);
}

test('a notes folder that does not exist is refused (not created) unless --create; a file is refused', (t) => {
  const base = tempDir(t);
  const state = tempDir(t);
  const missing = join(base, 'typo', 'deep', 'notes');
  const r = run(['index', '--notes', missing, '--state', state, '--model', 'bundled']);
  assert.equal(r.code, 2);
  assertOneLine(r.err, 'NOTES_E_NOTES_MISSING');
  assert.equal(existsSync(join(base, 'typo')), false, 'nothing was created');
  const created = run(['index', '--notes', missing, '--state', state, '--model', 'bundled', '--create']);
  assert.equal(created.code, 0, created.err);
  assert.equal(existsSync(missing), true);
  const file = join(base, 'notes.md');
  writeFileSync(file, '# not a folder\n');
  const f = run(['index', '--notes', file, '--state', state, '--model', 'bundled']);
  assert.equal(f.code, 2);
  assertOneLine(f.err, 'NOTES_E_NOTES_NOT_FOLDER');
});

test('search before the first index says so (never "restore from backup")', (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const r = run(['search', 'x', '--notes', notes, '--state', tempDir(t), '--model', 'bundled']);
  assert.equal(r.code, 1);
  assertOneLine(r.err, 'NOTES_E_NOT_INDEXED');
  assert.doesNotMatch(r.err, /backup/);
});

test('usage mistakes exit 2 in the one format', () => {
  for (const args of [['--bogus'], ['search'], ['index', '--nope'], ['token', 'create', '--scope']]) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err.split('\n')[0] ?? '', /^notes-mcp: .+ \(NOTES_E_USAGE\)$/, args.join(' '));
  }
});

test('`notes-mcp doctor | head -1`: a closed pipe ends it quietly', (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const r = spawnSync(
    'sh',
    ['-c', `"${process.execPath}" "${BIN}" doctor --notes "${notes}" --state "${tempDir(t)}" | head -1`],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
});

test('the daemon says where it is: runtime file, doctor and status ask it over HTTP; a taken port is named', {
  timeout: 90_000,
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const state = tempDir(t);
  const port = await freePort();
  const env = { ...process.env, HOME: state, NOTES_MCP_TOKEN: 'first-run-token-0123456789' };
  const g = ['--notes', notes, '--state', state, '--model', 'bundled'];
  const child = spawn(process.execPath, [BIN, 'serve', ...g, '--port', String(port)], { stdio: 'ignore', env });
  t.after(() => child.kill('SIGKILL'));
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(up);
  const indexDir = join(state, 'index', readdirSync(join(state, 'index'))[0]!);
  assert.ok(existsSync(join(indexDir, 'daemon.json')), 'the runtime file is written');
  // doctor reports the port the daemon really uses, not the configured default.
  const doc = run(['doctor', ...g, '--json'], env);
  const checks = (JSON.parse(doc.out) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks;
  const daemon = checks.find((c) => c.name === 'daemon');
  assert.match(daemon?.detail ?? '', new RegExp(`serving http://127\\.0\\.0\\.1:${port}/mcp`));
  const st = run(['status', ...g], env);
  assert.match(st.out, new RegExp(`daemon: +serving http://127\\.0\\.0\\.1:${port}/mcp`));
  // A garbled runtime file does not make the running daemon disappear from doctor.
  const runtimeText = readFileSync(join(indexDir, 'daemon.json'), 'utf8');
  writeFileSync(join(indexDir, 'daemon.json'), '{"pid": "garbage');
  const garbled = JSON.parse(run(['doctor', ...g, '--json'], env).out) as {
    checks: Array<{ name: string; level?: string; detail: string }>;
  };
  const seen = garbled.checks.find((c) => c.name === 'daemon');
  assert.equal(seen?.level, 'warn');
  assert.match(seen?.detail ?? '', new RegExp(`daemon\\.json is not JSON; pid ${child.pid} holds the index`));
  // No runtime file at all: the daemon holding the index is still named.
  rmSync(join(indexDir, 'daemon.json'));
  const missing = JSON.parse(run(['doctor', ...g, '--json'], env).out) as typeof garbled;
  const named = missing.checks.find((c) => c.name === 'daemon');
  assert.equal(named?.level, 'warn');
  assert.match(named?.detail ?? '', new RegExp(`pid ${child.pid} \\(notes-mcp serve\\) holds the index`));
  // status too: the daemon holding the index is named as one to restart, not "not serving".
  const stMissing = run(['status', ...g], env);
  assert.match(
    stMissing.out,
    new RegExp(`daemon: +pid ${child.pid} \\(notes-mcp serve\\) holds the index, but its daemon\\.json is missing`),
  );
  const stJson = JSON.parse(run(['status', ...g, '--json'], env).out) as { daemon: { running: boolean; pid: number } };
  assert.deepEqual([stJson.daemon.running, stJson.daemon.pid], [true, child.pid]);
  writeFileSync(join(indexDir, 'daemon.json'), runtimeText);
  // A second daemon on the same port: which program holds it.
  const other = tempDir(t);
  const second = run(['serve', '--notes', notes, '--state', other, '--model', 'bundled', '--port', String(port)], {
    HOME: other,
    NOTES_MCP_TOKEN: 'first-run-token-0123456789',
  });
  assert.equal(second.code, 1);
  assertOneLine(
    second.err
      .split('\n')
      .filter((l) => l.startsWith('notes-mcp:'))
      .join('\n'),
    'NOTES_E_PORT_IN_USE',
  );
  assert.match(second.err, /another notes-mcp \(version/);
  child.kill('SIGTERM');
  await once(child, 'exit');
  assert.equal(existsSync(join(indexDir, 'daemon.json')), false, 'removed on a clean exit');
  const after = run(['status', ...g], env);
  assert.match(after.out, /daemon: +not running/);
});

test('on a terminal: one human line with the URL, folder, model and token file; log lines are not JSON', {
  timeout: 60_000,
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const state = tempDir(t);
  const port = await freePort();
  // script(1) gives the daemon a pseudo-terminal, as a person starting it by hand has.
  const cmd = `"${process.execPath}" "${BIN}" serve --notes "${notes}" --state "${state}" --model bundled --port ${port}`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, HOME: state },
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const line = new RegExp(
    `notes-mcp serving http://127\\.0\\.0\\.1:${port}/mcp for .+ \\(model [^)]+\\); token: cat ".+access\\.token"`,
  );
  // Wait for the whole line: the pseudo-terminal may hand it over in more than one chunk.
  for (let i = 0; i < 150 && !line.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, line);
  assert.doesNotMatch(out, /^\{"level"/m, 'pretty log lines, not JSON');
  await fetch(`http://127.0.0.1:${port}/health`);
  // The folders are removed after this: the daemon must be gone first, not writing into them.
  child.kill('SIGTERM');
  await once(child, 'exit');
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => true,
      () => false,
    );
    if (!up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('an Authorization header without "Bearer " says what is expected', { timeout: 60_000 }, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const state = tempDir(t);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', notes, '--state', state, '--model', 'bundled', '--port', String(port)],
    {
      stdio: 'ignore',
      env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: 'first-run-token-0123456789' },
    },
  );
  t.after(() => child.kill('SIGKILL'));
  let r: Response | undefined;
  for (let i = 0; i < 150; i++) {
    r = await fetch(`http://127.0.0.1:${port}/mcp`, {
      method: 'POST',
      headers: { Authorization: 'first-run-token-0123456789', 'content-type': 'application/json' },
      body: '{}',
    }).catch(() => undefined);
    if (r) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(r?.status, 401);
  assert.match((await r?.text()) ?? '', /NOTES_E_AUTH_MALFORMED/);
});

test('doctor and status: a daemon.json whose pid now belongs to another process names no running daemon', async (t) => {
  // After a crash and a reboot, the pid in daemon.json is often some other live process's:
  // doctor called that a daemon that does not answer (a failed check) instead of none running.
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const state = tempDir(t);
  const env = { HOME: state, NOTES_MCP_TOKEN: 'first-run-token-0123456789' };
  const g = ['--notes', notes, '--state', state, '--model', 'bundled'];
  assert.equal(run(['index', ...g], env).code, 0);
  const indexDir = join(state, 'index', readdirSync(join(state, 'index'))[0]!);
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  writeFileSync(
    join(indexDir, 'daemon.json'),
    JSON.stringify({
      pid: other.pid,
      url,
      health: url.replace(/\/mcp$/, '/health'),
      started_at: new Date().toISOString(),
      version: '0.1.0',
      notes,
    }),
  );
  const doc = run(['doctor', ...g, '--json'], env);
  const checks = (JSON.parse(doc.out) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks;
  const daemon = checks.find((c) => c.name === 'daemon');
  assert.equal(daemon?.ok, true, daemon?.detail);
  assert.match(daemon?.detail ?? '', /not running: the daemon that served .* stopped without a clean exit/);
  const st = JSON.parse(run(['status', ...g, '--json'], env).out) as { daemon: { running: boolean } };
  assert.equal(st.daemon.running, false);
});
