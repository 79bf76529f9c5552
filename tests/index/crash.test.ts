import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { indexFiles, NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { search } from '../../src/search/index.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { sharedEmbedder, testConfig, tldrVault } from '../helpers/vault.ts';

function runIndex(
  notes: string,
  state: string,
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'index', '--notes', notes, '--state', state, '--model', 'bundled'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOME: state },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return once(child, 'exit').then(([code, signal]) => {
    if (timer) clearTimeout(timer);
    return { code: code as number | null, signal: signal as string | null, stderr };
  });
}

function snapshot(indexDir: string): unknown[] {
  const db = new Database(indexFiles(indexDir).database, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT n.path, n.hash, n.title, n.tags, c.seq, c.start_line, c.end_line, c.text, c.embed_hash
         FROM chunks c JOIN notes n ON n.id = c.note_id ORDER BY n.path, c.seq`,
      )
      .all();
  } finally {
    db.close();
  }
}

const QUERIES = [
  'compress a folder into an archive',
  'show which process listens on a network port',
  'change file permissions',
  'download a file from the web',
  'list running containers',
  'count lines in a file',
];

test('SIGKILL at many points during indexing, then restart: the result equals a fresh full index', {
  timeout: 600_000,
}, async (t) => {
  const notes = tldrVault(t, { common: 900, linux: 300 });
  const crashed = tempDir(t, 'notes-mcp-crashed-');
  const fresh = tempDir(t, 'notes-mcp-fresh-');

  const clean = await runIndex(notes, fresh);
  assert.equal(clean.code, 0, clean.stderr);

  const kills = [120, 250, 400, 600, 800, 1000, 1300, 1600, 2000, 2500, 3200];
  let killedMidway = 0;
  for (const ms of kills) {
    const r = await runIndex(notes, crashed, ms);
    if (r.signal === 'SIGKILL') killedMidway++;
    else assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(killedMidway >= 3, `expected several runs to be killed mid-way, got ${killedMidway}`);
  const last = await runIndex(notes, crashed);
  assert.equal(last.code, 0, last.stderr);

  const cfgA = testConfig(notes, crashed);
  const cfgB = testConfig(notes, fresh);
  assert.deepEqual(snapshot(cfgA.indexDir), snapshot(cfgB.indexDir), 'same notes and chunks');

  const embedder = await sharedEmbedder();
  const a = await NotesIndex.open({ config: cfgA, embedder, log: silentLogger(), readOnly: true });
  const b = await NotesIndex.open({ config: cfgB, embedder, log: silentLogger(), readOnly: true });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  for (const q of QUERIES) {
    const ra = (await search(a, q, { k: 10 })).hits.map((h) => [h.path, h.startLine, h.endLine, h.score]);
    const rb = (await search(b, q, { k: 10 })).hits.map((h) => [h.path, h.startLine, h.endLine, h.score]);
    assert.deepEqual(ra, rb, q);
  }
});
