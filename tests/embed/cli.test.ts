import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { BUNDLED_MODEL_ID, MINILM } from '../../src/embed/index.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { hubCopySpec, startFakeHub, TEST_REVISION, writeManifest } from './hub-fixture.ts';

// The CLI as a user runs it: spawned, with its own environment, offline.

const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string>): Promise<Result> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NOTES_MCP_')));
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { ...clean, HF_ENDPOINT: 'http://127.0.0.1:1', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface DoctorJson {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

const MISSING =
  'model Xenova/all-MiniLM-L6-v2 is not on this machine: run "notes-mcp model fetch" or set NOTES_MCP_MODEL=bundled';

test('doctor on a fresh machine: the bundled model is active and loads offline', async (t) => {
  const state = tempDir(t);
  const r = await cli(['--state', state, 'doctor', '--json'], {});
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as DoctorJson;
  assert.equal(d.ok, true);
  const byName = new Map(d.checks.map((c) => [c.name, c]));
  assert.match(byName.get('model')?.detail ?? '', new RegExp(`^${BUNDLED_MODEL_ID} \\(bundled\\)`));
  assert.match(byName.get('model loads offline')?.detail ?? '', /100 dims/);
  assert.equal(byName.get('node')?.ok, true);
});

test('doctor with MiniLM configured and absent: the exact message, exit 1, no stack trace', async (t) => {
  const state = tempDir(t);
  const r = await cli(['--state', state, 'doctor', '--json'], { NOTES_MCP_MODEL: MINILM.id });
  assert.equal(r.code, 1);
  const d = JSON.parse(r.stdout) as DoctorJson;
  assert.equal(d.ok, false);
  assert.equal(d.checks.find((c) => c.name === 'model loads offline')?.detail, MISSING);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /);
});

test('model info for an unknown id: one line on stderr, exit 2', async (t) => {
  const state = tempDir(t);
  const r = await cli(['--state', state, 'model', 'info', 'nobody/nothing'], {});
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^notes-mcp: unknown model nobody\/nothing: .* \(NOTES_E_MODEL_UNKNOWN\)\n$/);
});

test('fetch, list, info and doctor through the hub code path with a local hub', async (t) => {
  const state = tempDir(t);
  // MiniLM's own id, served with the bundled files: `auto` must pick it up once fetched.
  const spec = hubCopySpec(MINILM.id);
  const manifest = writeManifest(join(state, 'manifest.json'), [spec]);
  const hub = await startFakeHub([spec]);
  t.after(hub.close);
  const env = { NOTES_MCP_MODEL_MANIFEST: manifest, HF_ENDPOINT: hub.url };

  let r = await cli(['--state', state, 'model', 'list', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  let list = JSON.parse(r.stdout) as { models: Array<{ id: string; present: boolean; active: boolean }> };
  assert.deepEqual(
    list.models.map((m) => [m.id, m.present, m.active]),
    [
      [BUNDLED_MODEL_ID, true, true],
      [MINILM.id, false, false],
    ],
  );

  r = await cli(['--state', state, 'model', 'fetch'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /downloaded and verified/);
  // Not a TTY: plain progress lines on stderr, nothing else.
  assert.match(r.stderr, /downloading \(1\/4\) config\.json/);
  assert.ok(hub.requests.every((p) => p.startsWith(`/${MINILM.id}/resolve/${TEST_REVISION}/`)));

  r = await cli(['--state', state, 'model', 'list', '--json'], env);
  list = JSON.parse(r.stdout) as typeof list;
  assert.deepEqual(
    list.models.map((m) => [m.id, m.present, m.active]),
    [
      [BUNDLED_MODEL_ID, true, false],
      [MINILM.id, true, true],
    ],
  );

  r = await cli(['--state', state, 'model', 'info', '--verify', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as {
    id: string;
    revision: string;
    dir: string;
    verified: boolean;
    fingerprint: string;
  };
  assert.equal(info.id, MINILM.id);
  assert.equal(info.revision, TEST_REVISION);
  assert.equal(info.dir, join(state, 'models', 'Xenova', 'all-MiniLM-L6-v2'));
  assert.equal(info.verified, true);
  assert.match(info.fingerprint, new RegExp(`@${TEST_REVISION};dtype=fp32;`));

  // The hub server is gone: loading must not need it.
  await hub.close();
  r = await cli(['--state', state, 'doctor', '--json'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const d = JSON.parse(r.stdout) as DoctorJson;
  assert.match(d.checks.find((c) => c.name === 'model')?.detail ?? '', /^Xenova\/all-MiniLM-L6-v2 \(hub\) .*auto: /);
  assert.match(d.checks.find((c) => c.name === 'model loads offline')?.detail ?? '', new RegExp(TEST_REVISION));
});
