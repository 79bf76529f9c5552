import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import {
  BUNDLED_MODEL_ID,
  bundledModelDir,
  builtinCatalog,
  type Catalog,
  describeModel,
  fingerprintOf,
  type HubModelSpec,
  listModels,
  loadCatalog,
  MINILM,
  resolveModelChoice,
} from '../../src/embed/index.ts';
import { isNotesError } from '../../src/errors.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';

/** Files of the right size (presence is checked by size; checksums by fetch and doctor). */
function placeFiles(modelsDir: string, spec: HubModelSpec, sizeDelta = 0): string {
  const dir = join(modelsDir, ...spec.id.split('/'));
  for (const f of spec.files) {
    const p = join(dir, ...f.path.split('/'));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, Buffer.alloc(f.size + sizeDelta));
  }
  return dir;
}

const catalog: Catalog = builtinCatalog();

test('the bundled model is found in the repo, from dist/ as well as src/', () => {
  assert.equal(bundledModelDir(), join(REPO_ROOT, 'models', 'bundled'));
});

test('bundled: by alias or by id, present, whatever the models dir holds', (t) => {
  const modelsDir = tempDir(t);
  for (const requested of ['bundled', BUNDLED_MODEL_ID]) {
    const c = resolveModelChoice(requested, modelsDir, catalog);
    assert.equal(c.requested, requested);
    assert.equal(c.id, BUNDLED_MODEL_ID);
    assert.equal(c.kind, 'bundled');
    assert.equal(c.present, true);
    assert.equal(c.dir, bundledModelDir());
  }
});

test('auto without MiniLM on the machine: bundled, and the reason says so', (t) => {
  const modelsDir = tempDir(t);
  const c = resolveModelChoice('auto', modelsDir, catalog);
  assert.equal(c.kind, 'bundled');
  assert.equal(c.id, BUNDLED_MODEL_ID);
  assert.equal(c.present, true);
  assert.match(c.reason, /Xenova\/all-MiniLM-L6-v2 is not in .*using the bundled model/);
});

test('auto with MiniLM in the models dir: MiniLM', (t) => {
  const modelsDir = tempDir(t);
  const dir = placeFiles(modelsDir, MINILM);
  const c = resolveModelChoice('auto', modelsDir, catalog);
  assert.deepEqual(
    { id: c.id, kind: c.kind, dir: c.dir, present: c.present },
    { id: MINILM.id, kind: 'hub', dir, present: true },
  );
  assert.match(c.reason, /^auto: Xenova\/all-MiniLM-L6-v2 is in /);
});

test('auto ignores an incomplete MiniLM (a file of the wrong size)', (t) => {
  const modelsDir = tempDir(t);
  placeFiles(modelsDir, MINILM, -1);
  assert.equal(resolveModelChoice('auto', modelsDir, catalog).kind, 'bundled');
});

test('a hub id: its folder under the models dir, present or not', (t) => {
  const modelsDir = tempDir(t);
  const absent = resolveModelChoice(MINILM.id, modelsDir, catalog);
  assert.equal(absent.kind, 'hub');
  assert.equal(absent.present, false);
  assert.equal(absent.dir, join(modelsDir, 'Xenova', 'all-MiniLM-L6-v2'));
  placeFiles(modelsDir, MINILM);
  assert.equal(resolveModelChoice(MINILM.id, modelsDir, catalog).present, true);
});

test('an id no catalog knows is NOTES_E_MODEL_UNKNOWN', (t) => {
  const modelsDir = tempDir(t);
  assert.throws(
    () => resolveModelChoice('someone/some-model', modelsDir, catalog),
    (err) => isNotesError(err, 'NOTES_E_MODEL_UNKNOWN'),
  );
});

test('the fingerprint changes with model, revision, dtype and pooling', () => {
  const base = fingerprintOf(MINILM);
  const changed = [
    fingerprintOf({ ...MINILM, id: 'Xenova/other' }),
    fingerprintOf({ ...MINILM, revision: 'f'.repeat(40) }),
    fingerprintOf({ ...MINILM, dtype: 'fp32' }),
    fingerprintOf({ ...MINILM, pooling: 'cls' }),
    fingerprintOf({ ...MINILM, maxTokens: 512 }),
  ];
  for (const f of changed) assert.notEqual(f, base);
  assert.equal(new Set(changed).size, changed.length);
});

test('describeModel and listModels report what is on disk and what is active', (t) => {
  const modelsDir = tempDir(t);
  const info = describeModel(MINILM.id, modelsDir, catalog);
  assert.equal(info.present, false);
  assert.equal(info.dims, 384);
  assert.equal(info.revision, MINILM.revision);
  assert.equal(
    info.size,
    MINILM.files.reduce((s, f) => s + f.size, 0),
  );
  assert.ok(info.files.every((f) => !f.present));

  let list = listModels('auto', modelsDir, catalog);
  assert.deepEqual(
    list.map((m) => [m.id, m.present, m.active]),
    [
      [BUNDLED_MODEL_ID, true, true],
      [MINILM.id, false, false],
    ],
  );
  placeFiles(modelsDir, MINILM);
  list = listModels('auto', modelsDir, catalog);
  assert.deepEqual(
    list.map((m) => [m.id, m.present, m.active]),
    [
      [BUNDLED_MODEL_ID, true, false],
      [MINILM.id, true, true],
    ],
  );
});

test('a manifest override adds models and is validated', (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.json');
  const extra: HubModelSpec = { ...MINILM, id: 'test-org/extra', revision: 'a'.repeat(40) };
  writeFileSync(good, JSON.stringify({ models: [extra] }));
  const c = loadCatalog({ NOTES_MCP_MODEL_MANIFEST: good });
  assert.deepEqual(
    c.hub.map((m) => m.id),
    [MINILM.id, 'test-org/extra'],
  );
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ models: [{ ...extra, revision: 'main' }] }));
  assert.throws(
    () => loadCatalog({ NOTES_MCP_MODEL_MANIFEST: bad }),
    (err) => isNotesError(err, 'NOTES_E_CONFIG'),
  );
  const outside = join(dir, 'escape.json');
  writeFileSync(
    outside,
    JSON.stringify({ models: [{ ...extra, files: [{ path: '../x', size: 1, sha256: 'a'.repeat(64) }] }] }),
  );
  assert.throws(
    () => loadCatalog({ NOTES_MCP_MODEL_MANIFEST: outside }),
    (err) => isNotesError(err, 'NOTES_E_CONFIG'),
  );
});
