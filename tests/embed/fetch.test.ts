import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  builtinCatalog,
  type Catalog,
  fetchModel,
  MANIFEST_ENV,
  openEmbedder,
  resolveModelChoice,
  sha256File,
} from '../../src/embed/index.ts';
import { isNotesError } from '../../src/errors.ts';
import { tempDir } from '../helpers/tmp.ts';
import { hubCopySpec, startFakeHub, TEST_REVISION, writeManifest } from './hub-fixture.ts';

const ID = 'notes-mcp-test/wink-hub-copy';
const spec = hubCopySpec(ID);
const catalog: Catalog = { hub: [...builtinCatalog().hub, spec] };

/** Everything under dir, relative, sorted: "nothing left behind" means exactly this list. */
function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? tree(join(dir, d.name), `${prefix}${d.name}/`) : [`${prefix}${d.name}`]))
    .sort();
}

describe('model fetch against a local hub', () => {
  test('downloads the pinned revision into <modelsDir>/<owner>/<name> and verifies it', async (t) => {
    const hub = await startFakeHub([spec]);
    t.after(hub.close);
    const modelsDir = tempDir(t);
    const seen: string[] = [];
    const r = await fetchModel({
      id: ID,
      modelsDir,
      endpoint: hub.url,
      catalog,
      onProgress: (p) => {
        if (p.received === p.total) seen.push(p.file);
      },
    });
    assert.equal(r.downloaded, true);
    assert.equal(r.revision, TEST_REVISION);
    assert.equal(r.dir, join(modelsDir, 'notes-mcp-test', 'wink-hub-copy'));
    assert.deepEqual(
      hub.requests,
      spec.files.map((f) => `/${ID}/resolve/${TEST_REVISION}/${f.path}`),
    );
    assert.deepEqual(
      seen,
      spec.files.map((f) => f.path),
    );
    assert.deepEqual(tree(modelsDir), spec.files.map((f) => `notes-mcp-test/wink-hub-copy/${f.path}`).sort());
    for (const f of spec.files) assert.equal(await sha256File(join(r.dir, ...f.path.split('/'))), f.sha256);
    assert.equal(resolveModelChoice(ID, modelsDir, catalog).present, true);

    // Present and verified: nothing is downloaded again.
    hub.requests.length = 0;
    const again = await fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog });
    assert.equal(again.downloaded, false);
    assert.deepEqual(hub.requests, []);
  });

  test('a fetched hub model loads offline and truncates at its own window', async (t) => {
    const hub = await startFakeHub([spec]);
    const modelsDir = tempDir(t);
    await fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog });
    await hub.close();
    // A window of 16 tokens, far below what the tokenizer's own config says (514).
    const short = { ...spec, maxTokens: 16 };
    const manifest = writeManifest(join(modelsDir, 'manifest.json'), [short]);
    process.env[MANIFEST_ENV] = manifest;
    t.after(() => {
      delete process.env[MANIFEST_ENV];
    });
    const e = await openEmbedder({ model: ID, modelsDir });
    t.after(() => e.dispose());
    assert.equal(e.modelId, ID);
    assert.equal(e.maxTokens, 16);
    assert.match(
      e.fingerprint,
      new RegExp(`^${ID}@${TEST_REVISION};dtype=fp32;pooling=mean;norm=l2;dims=100;max_tokens=16$`),
    );
    const words = Array.from({ length: 40 }, (_, i) => ['cat', 'finance', 'river', 'music', 'law'][i % 5]).join(' ');
    const first16 = words.split(' ').slice(0, 16).join(' ');
    const first15 = words.split(' ').slice(0, 15).join(' ');
    const [long, head, shorter] = await e.embed([words, first16, first15]);
    assert.ok(long && head && shorter);
    const maxDiff = (a: Float32Array, b: Float32Array) => Math.max(...a.map((x, i) => Math.abs(x - (b[i] ?? 0))));
    assert.ok(maxDiff(long, head) < 1e-5, `differs from the first 16 tokens by ${maxDiff(long, head)}`);
    assert.ok(maxDiff(long, shorter) > 1e-4, 'one token fewer would show');
  });

  test('a corrupted file is rejected with NOTES_E_MODEL_CHECKSUM and nothing is left', async (t) => {
    const hub = await startFakeHub([spec]);
    t.after(hub.close);
    const modelsDir = tempDir(t);
    const onnx = spec.files.find((f) => f.path === 'onnx/model.onnx');
    assert.ok(onnx);
    const bytes = Buffer.from(readFileSync(join(resolveModelChoice('bundled', modelsDir).dir, 'onnx', 'model.onnx')));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    hub.override.set('onnx/model.onnx', bytes);
    await assert.rejects(fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog }), (err) => {
      assert.ok(isNotesError(err, 'NOTES_E_MODEL_CHECKSUM'), String(err));
      assert.match(
        err.message,
        new RegExp(`onnx/model.onnx failed its checksum: expected ${onnx.sha256}, got [0-9a-f]{64}`),
      );
      return true;
    });
    assert.deepEqual(tree(modelsDir), []);
    assert.equal(resolveModelChoice(ID, modelsDir, catalog).present, false);
  });

  test('a truncated file and a missing file are rejected, leaving nothing', async (t) => {
    const hub = await startFakeHub([spec]);
    t.after(hub.close);
    const modelsDir = tempDir(t);
    hub.override.set('tokenizer.json', Buffer.from('{}'));
    await assert.rejects(fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog }), (err) =>
      isNotesError(err, 'NOTES_E_MODEL_CHECKSUM'),
    );
    assert.deepEqual(tree(modelsDir), []);
    hub.override.set('tokenizer.json', null);
    await assert.rejects(fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog }), (err) => {
      assert.ok(isNotesError(err, 'NOTES_E_MODEL_FETCH'));
      assert.match(err.message, /HTTP 404/);
      return true;
    });
    assert.deepEqual(tree(modelsDir), []);
  });

  test('a broken install is replaced whole by a verified one', async (t) => {
    const hub = await startFakeHub([spec]);
    t.after(hub.close);
    const modelsDir = tempDir(t);
    const r = await fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog });
    // Same size, wrong bytes: present by size, but fetch verifies before it skips.
    const tok = join(r.dir, 'tokenizer.json');
    const size = readFileSync(tok).length;
    writeFileSync(tok, Buffer.alloc(size, 0x20));
    const again = await fetchModel({ id: ID, modelsDir, endpoint: hub.url, catalog });
    assert.equal(again.downloaded, true);
    assert.equal(
      createHash('sha256').update(readFileSync(tok)).digest('hex'),
      spec.files.find((f) => f.path === 'tokenizer.json')?.sha256,
    );
    assert.deepEqual(tree(modelsDir), spec.files.map((f) => `notes-mcp-test/wink-hub-copy/${f.path}`).sort());
  });

  test('an unreachable hub is NOTES_E_MODEL_FETCH', async (t) => {
    const hub = await startFakeHub([spec]);
    const url = hub.url;
    await hub.close();
    const modelsDir = tempDir(t);
    await assert.rejects(fetchModel({ id: ID, modelsDir, endpoint: url, catalog }), (err) =>
      isNotesError(err, 'NOTES_E_MODEL_FETCH'),
    );
    assert.deepEqual(tree(modelsDir), []);
  });

  test('bundled and unknown ids are refused', async (t) => {
    const modelsDir = tempDir(t);
    await assert.rejects(fetchModel({ id: 'bundled', modelsDir, catalog }), (err) =>
      isNotesError(err, 'NOTES_E_USAGE'),
    );
    await assert.rejects(fetchModel({ id: 'x/y', modelsDir, catalog }), (err) =>
      isNotesError(err, 'NOTES_E_MODEL_UNKNOWN'),
    );
  });
});
