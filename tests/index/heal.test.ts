import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { indexFiles, NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { search } from '../../src/search/index.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { sharedEmbedder, testConfig, tldrVault } from '../helpers/vault.ts';

// State the daemon can rebuild must never stop it: broken files are set aside and rebuilt.

async function builtIndex(t: { after: (fn: () => unknown) => void }) {
  const notes = tldrVault(t, { common: 60 });
  const state = tempDir(t);
  const cfg = testConfig(notes, state);
  const embedder = await sharedEmbedder();
  const first = await NotesIndex.open({ config: cfg, embedder, log: silentLogger() });
  await first.sync();
  await first.close();
  return { notes, cfg, embedder, files: indexFiles(cfg.indexDir) };
}

const damage: Record<string, (file: string) => void> = {
  'overwritten in the middle': (file) => {
    const fd = openSync(file, 'r+');
    const size = statSync(file).size;
    writeSync(fd, Buffer.alloc(Math.min(64 * 1024, Math.floor(size / 2)), 0xa5), 0, undefined, Math.floor(size / 3));
    closeSync(fd);
  },
  truncated: (file) => {
    const data = readFileSync(file);
    writeFileSync(file, data.subarray(0, Math.floor(data.length / 2)));
  },
  'not a database at all': (file) => writeFileSync(file, 'this is not SQLite\n'.repeat(500)),
};

for (const [what, hurt] of Object.entries(damage)) {
  test(`a damaged index.db (${what}) is moved aside and rebuilt from the notes`, async (t) => {
    const { cfg, embedder, files } = await builtIndex(t);
    hurt(files.database);
    const index = await NotesIndex.open({ config: cfg, embedder, log: silentLogger() });
    t.after(() => index.close());
    const aside = readdirSync(cfg.indexDir).filter((n) => n.startsWith('index.db.corrupt-'));
    assert.ok(aside.length >= 1, `the broken file is kept for a post-mortem: ${readdirSync(cfg.indexDir).join(', ')}`);
    await index.sync();
    assert.equal(index.status().notes, 60, JSON.stringify(index.status()));
    const hits = await search(index, 'list files', { k: 3 });
    assert.ok(hits.hits.length > 0, 'search works after the rebuild');
  });
}

test('a read-only open of a damaged index says so with a code, and changes nothing', async (t) => {
  const { cfg, embedder, files } = await builtIndex(t);
  damage['not a database at all']!(files.database);
  await assert.rejects(
    NotesIndex.open({ config: cfg, embedder, log: silentLogger(), readOnly: true }),
    (e: unknown) => (e as { code?: string }).code === 'NOTES_E_STATE_CORRUPT',
  );
  assert.equal(readdirSync(cfg.indexDir).filter((n) => n.includes('corrupt')).length, 0);
});

test('search before the first index: NOTES_E_NOT_INDEXED, never "restore from backup"', async (t) => {
  const notes = tldrVault(t, { common: 3 });
  const cfg = testConfig(notes, tempDir(t));
  await assert.rejects(
    NotesIndex.open({ config: cfg, embedder: await sharedEmbedder(), log: silentLogger(), readOnly: true }),
    (e: unknown) => (e as { code?: string }).code === 'NOTES_E_NOT_INDEXED',
  );
});

test('a saved graph that fails to load although its manifest matches is rebuilt from the stored vectors', async (t) => {
  const { cfg, embedder, files } = await builtIndex(t);
  const size = statSync(files.graph).size;
  const garbage = Buffer.alloc(size, 0x5a);
  writeFileSync(files.graph, garbage);
  const mf = `${files.graph}.manifest.json`;
  const m = JSON.parse(readFileSync(mf, 'utf8')) as Record<string, unknown>;
  m.sha256 = createHash('sha256').update(garbage).digest('hex');
  m.bytes = size;
  writeFileSync(mf, JSON.stringify(m));
  const index = await NotesIndex.open({ config: cfg, embedder, log: silentLogger() });
  t.after(() => index.close());
  const st = index.status();
  assert.equal(st.vectorIndex.loaded, 'rebuilt');
  assert.match(st.vectorIndex.reason, /failed to load/);
  const hits = await search(index, 'list files in a directory', { k: 3, mode: 'vector' });
  assert.ok(hits.hits.length > 0);
});

test('several starters on a stale lock: exactly one takes it over', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const lockModule = join(REPO_ROOT, 'dist', 'src', 'index', 'lock.js');
  for (let round = 0; round < 3; round++) {
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 4242, boot: 0 }));
    const script = `const { acquireLock } = await import(${JSON.stringify(lockModule)});
      await new Promise((r) => setTimeout(r, Number(process.argv[2]) - Date.now()));
      try { acquireLock(${JSON.stringify(lock)}, 'dir'); console.log('won'); setTimeout(() => {}, 1500); }
      catch (e) { console.log(e.code ?? e.message); }`;
    const at = String(Date.now() + 800);
    const kids = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', script, at], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    const outs = await Promise.all(
      kids.map(async (k) => {
        let out = '';
        k.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        await once(k, 'exit');
        return out.trim();
      }),
    );
    assert.equal(outs.filter((o) => o === 'won').length, 1, `round ${round}: ${outs.join(', ')}`);
    assert.equal(outs.filter((o) => o === 'NOTES_E_STATE_LOCKED').length, 5, `round ${round}: ${outs.join(', ')}`);
    assert.equal(existsSync(lock), false, 'the winner released its lock on exit');
  }
});
