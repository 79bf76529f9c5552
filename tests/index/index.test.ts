import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { openDb } from '../../src/index/db.ts';
import { indexFiles, NotesIndex } from '../../src/index/index.ts';
import { Store } from '../../src/index/store/index.ts';
import { silentLogger } from '../../src/log.ts';
import { search } from '../../src/search/index.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import {
  manySectionsNote,
  openTestIndex,
  sharedEmbedder,
  testConfig,
  tldrVault,
  writeNotes,
} from '../helpers/vault.ts';

/** An index on these folders that a test closes and opens again, as restarts do. */
async function reopenable(notes: string, state: string) {
  const cfg = testConfig(notes, state);
  const embedder = await sharedEmbedder();
  return { cfg, open: () => NotesIndex.open({ config: cfg, embedder, log: silentLogger() }) };
}

test('incremental indexing: unchanged skipped, edits replace chunks, deletes and renames leave nothing behind', async (t) => {
  const notes = tldrVault(t, { common: 120, linux: 40 });
  const index = await openTestIndex(t, notes);
  const first = await index.sync();
  assert.equal(first.notes, 160);
  assert.equal(first.indexed, 160);
  assert.ok(first.chunks >= 160, 'every note has at least one chunk');
  assert.ok(first.embedded > 0);

  const again = await index.sync();
  assert.equal(again.indexed, 0);
  assert.equal(again.unchanged, 160);
  assert.equal(again.embedded, 0);

  // Touching a file without changing it re-reads it but keeps its chunks.
  const some = join(notes, 'common', readdirSync(join(notes, 'common')).sort()[0]!);
  const future = new Date(Date.now() + 5000);
  utimesSync(some, future, future);
  const touched = await index.sync();
  assert.equal(touched.indexed, 0);
  assert.equal(touched.embedded, 0);

  writeNotes(notes, { 'common/zz-new.md': '# zz new\n\n> A note about quokkas and wombats.\n' });
  const added = await index.sync();
  assert.equal(added.indexed, 1);
  assert.equal(added.notes, 161);
  const hit = await search(index, 'quokkas wombats', { k: 3 });
  assert.equal(hit.hits[0]?.path, 'common/zz-new.md');

  // Rename: vectors are content-addressed, so nothing is re-embedded.
  renameSync(join(notes, 'common/zz-new.md'), join(notes, 'linux/zz-moved.md'));
  const moved = await index.sync();
  assert.equal(moved.removed, 1);
  assert.equal(moved.indexed, 1);
  assert.equal(moved.embedded, 0);
  const after = await search(index, 'quokkas wombats', { k: 5 });
  assert.deepEqual(
    after.hits.filter((h) => h.path.includes('zz-')).map((h) => h.path),
    ['linux/zz-moved.md'],
    'no ghost of the old path',
  );

  rmSync(join(notes, 'linux/zz-moved.md'));
  const removed = await index.sync();
  assert.equal(removed.removed, 1);
  const gone = await search(index, 'quokkas wombats', { k: 5 });
  assert.ok(!gone.hits.some((h) => h.path.includes('zz-')));
  assert.equal(index.counts().vectors <= index.counts().chunks, true, 'orphan vectors are collected');
});

test('the vector graph is saved with a manifest, reloaded, and rebuilt from stored vectors when it does not match', async (t) => {
  const notes = tldrVault(t, { common: 80 });
  const state = tempDir(t);
  const { open } = await reopenable(notes, state);

  let index = await open();
  await index.sync();
  const q = 'compress files into an archive';
  const before = (await search(index, q, { k: 10, mode: 'vector' })).hits.map((h) => h.chunkId);
  await index.close();

  index = await open();
  assert.equal(index.status().vectorIndex.loaded, 'loaded');
  assert.deepEqual(
    (await search(index, q, { k: 10, mode: 'vector' })).hits.map((h) => h.chunkId),
    before,
  );
  await index.close();

  // Corrupt the graph file: the checksum catches it and the graph is rebuilt, not re-embedded.
  const file = join(testConfig(notes, state).indexDir, 'vectors.hnsw');
  const size = statSync(file).size;
  writeFileSync(file, Buffer.alloc(size, 7));
  index = await open();
  const st = index.status();
  assert.equal(st.vectorIndex.loaded, 'rebuilt');
  assert.match(st.vectorIndex.reason, /checksum/);
  assert.deepEqual(
    (await search(index, q, { k: 10, mode: 'vector' })).hits.map((h) => h.chunkId),
    before,
  );
  await index.close();

  // A database change the graph never saw (a crash before saving) also triggers a rebuild.
  index = await open();
  writeNotes(notes, { 'common/extra.md': '# extra\n\nmarmot burrows\n' });
  await index.sync();
  index.abandon();
  index = await open();
  assert.equal(index.status().vectorIndex.loaded, 'rebuilt');
  assert.equal((await search(index, 'marmot burrows', { k: 1 })).hits[0]?.path, 'common/extra.md');
  await index.close();
});

test('a second writer on the same state folder gets a clear error naming the owner pid', async (t) => {
  const notes = tldrVault(t, { common: 5 });
  const state = tempDir(t);
  const cfg = testConfig(notes, state);
  const embedder = await sharedEmbedder();
  const first = await NotesIndex.open({ config: cfg, embedder, log: silentLogger() });
  await first.sync();
  await first.close();
  // Another process holds the lock, as a running daemon would.
  const lockModule = join(REPO_ROOT, 'dist', 'src', 'index', 'lock.js');
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { acquireLock } = await import(${JSON.stringify(lockModule)}); acquireLock(process.argv[1], process.argv[2]); console.log('locked'); setTimeout(() => {}, 60000);`,
      join(cfg.indexDir, 'lock'),
      cfg.indexDir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  await once(child.stdout, 'data');
  await assert.rejects(
    NotesIndex.open({ config: cfg, embedder, log: silentLogger() }),
    (e: unknown) =>
      e instanceof Error && e.message === `state folder ${cfg.indexDir} is already in use by pid ${child.pid}`,
  );
  // Read-only opens (CLI search next to the daemon) are allowed while it runs.
  const ro = await NotesIndex.open({ config: cfg, embedder, log: silentLogger(), readOnly: true });
  await ro.close();
  // Once the owner dies, its lock is stale and the next writer takes over.
  child.kill('SIGKILL');
  await once(child, 'exit');
  const w = await NotesIndex.open({ config: cfg, embedder, log: silentLogger() });
  await w.close();
});

test('a stale lock left by a dead process is taken over', async (t) => {
  const notes = tldrVault(t, { common: 3 });
  const state = tempDir(t);
  const cfg = testConfig(notes, state);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(cfg.indexDir, { recursive: true });
  writeFileSync(join(cfg.indexDir, 'lock'), JSON.stringify({ pid: 2 ** 22 + 12345, boot: 0 }));
  const index = await NotesIndex.open({ config: cfg, embedder: await sharedEmbedder(), log: silentLogger() });
  await index.close();
});

test('a read-only open next to an unsaved graph searches exactly instead of rebuilding', async (t) => {
  const notes = tldrVault(t, { common: 40 });
  const state = tempDir(t);
  const embedder = await sharedEmbedder();
  const cfg = testConfig(notes, state);
  const writer = await NotesIndex.open({ config: cfg, embedder, log: silentLogger(), saveDelayMs: 60_000 });
  t.after(() => writer.close());
  await writer.sync();
  writeNotes(notes, { 'common/zz-fresh.md': '# fresh\n\nnarwhal tusks\n' });
  await writer.sync(); // the writer has not saved its graph for this change yet
  const ro = await NotesIndex.open({ config: cfg, embedder, log: silentLogger(), readOnly: true });
  t.after(() => ro.close());
  assert.equal(ro.status().vectorIndex.loaded, 'exact');
  const hit = await search(ro, 'narwhal tusks', { k: 1, mode: 'vector' });
  assert.equal(hit.hits[0]?.path, 'common/zz-fresh.md');
});

test('status() during indexing is read at most once a second, and is current once indexing ends', async (t) => {
  const notes = tldrVault(t, { common: 600, linux: 200 });
  const index = await openTestIndex(t, notes);
  await index.sync();
  const before = index.status();
  assert.equal(before.notes, 800);
  writeNotes(
    notes,
    Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`bulk/n${i}.md`, `# n${i}\n\nbulk note ${i}\n`])),
  );
  // Status read in a tight loop while the sync commits group after group.
  const seen = new Set<number>();
  let calls = 0;
  const running = index.sync({ full: true });
  let done = false;
  void running.finally(() => {
    done = true;
  });
  const t0 = performance.now();
  while (!done) {
    seen.add(index.status().notes);
    calls++;
    await new Promise((r) => setImmediate(r));
  }
  await running;
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(calls > 50, `${calls} status calls`);
  assert.ok(seen.size <= Math.ceil(seconds) + 2, `${seen.size} distinct counts in ${seconds.toFixed(1)} s`);
  assert.equal(index.status().notes, 2000, 'current as soon as indexing ends');
});

test('FTS5 merges in bounded steps at the end of each write, never inside one, and stays compact', async (t) => {
  // FTS5's own automerge ran inside whichever DELETE triggered it: 150-750 ms on the main
  // thread during a full re-index of tldr-all (src/index/db.ts). Both its merge settings are
  // off in the database, and each write transaction ends with a bounded merge step, which
  // must keep the segments as few as FTS5's automerge did (without any merging, each write
  // adds a segment until FTS5's crisis merge at 16 a level).
  const notes = tldrVault(t, { common: 5 });
  const state = tempDir(t, 'notes-mcp-state-');
  const index = await openTestIndex(t, notes, state);
  await index.sync();
  for (let i = 0; i < 120; i++) {
    writeFileSync(join(notes, `note-${i}.md`), `# Note ${i}\n\nzqmerge${i} written in write number ${i}.\n`);
    await index.sync();
  }
  const db = new Database(indexFiles(testConfig(notes, state).indexDir).database, { readonly: true });
  t.after(() => db.close());
  const config = Object.fromEntries(
    (db.prepare('SELECT k, v FROM chunks_fts_config').all() as Array<{ k: string; v: unknown }>).map((r) => [r.k, r.v]),
  );
  assert.equal(config.automerge, 0, 'FTS5 automerge off');
  assert.equal(config.deletemerge, 0, 'FTS5 deletemerge off');
  const segments = ftsSegments(
    db.prepare('SELECT block FROM chunks_fts_data WHERE id = 10').get() as { block: Buffer },
  );
  assert.ok(segments <= 8, `${segments} FTS5 segments after 121 writes`);
  // Merged segments still answer: every note written is found once.
  for (let i = 0; i < 120; i += 17) assert.equal(index.fts(`zqmerge${i}`, 10).length, 1, `zqmerge${i}`);
});

test('the twin left out is listed as skipped under its own spelling, with the reason', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'caf\u00e9.md'), '# nfc\n\nzqtwinnfc\n');
  writeFileSync(join(root, 'cafe\u0301.md'), '# nfd\n\nzqtwinnfd\n');
  const index = await openTestIndex(t, root);
  const s = await index.sync();
  assert.equal(s.notes, 1);
  const listed = index.status().skipped.first;
  assert.deepEqual(
    listed.map((x) => x.path),
    ['cafe\u0301.md'],
  );
  assert.match(listed[0]!.reason, /another Unicode form: the NFC spelling is the note/);
  // Once the twin is gone, the next sync no longer lists it.
  rmSync(join(root, 'cafe\u0301.md'));
  await index.sync();
  assert.equal(index.status().skipped.count, 0);
});

test('files named like notes that are not notes are listed as skipped, with why, and never indexed', async (t) => {
  // Found from outside: a note named with a newline was indexed and returned by search, but
  // read_note refuses such a path ("control characters"); FIFOs, sockets, links to devices or
  // out of the folder were left out without a word in status or doctor.
  const base = tempDir(t);
  const root = join(base, 'notes');
  mkdirSync(root);
  writeFileSync(join(base, 'secret.md'), '# out\n');
  writeNotes(root, {
    'ok.md': '# ok\n\nzqplain\n',
    'new\nline.md': '# nl\n\nzqnewline\n',
    'back\\slash.md': '# bs\n\nzqbackslash\n',
  });
  execFileSync('mkfifo', [join(root, 'pipe.md')]);
  const sock = createServer();
  await new Promise<void>((resolve) => sock.listen(join(root, 'sock.md'), resolve));
  t.after(() => sock.close());
  symlinkSync('/dev/zero', join(root, 'zero.md'));
  symlinkSync(join(base, 'secret.md'), join(root, 'out.md'));
  symlinkSync('loop-b.md', join(root, 'loop-a.md'));
  symlinkSync('loop-a.md', join(root, 'loop-b.md'));
  symlinkSync('gone.md', join(root, 'broken.md'));
  const index = await openTestIndex(t, root);
  const s = await index.sync();
  assert.equal(s.notes, 1);
  const why = new Map(s.skipped.map((x) => [x.path, x.reason]));
  assert.equal(index.status().skipped.count, 9, 'status and doctor count them');
  assert.match(why.get('new\nline.md') ?? '', /cannot be a note path: the path contains control characters/);
  assert.match(why.get('back\\slash.md') ?? '', /cannot be a note path: backslashes/);
  assert.match(why.get('pipe.md') ?? '', /a FIFO \(named pipe\), not a note file/);
  assert.match(why.get('sock.md') ?? '', /a socket, not a note file/);
  assert.match(why.get('zero.md') ?? '', /links outside the notes folder/);
  assert.match(why.get('out.md') ?? '', /links outside the notes folder/);
  assert.match(why.get('loop-a.md') ?? '', /a symbolic link loop/);
  assert.match(why.get('broken.md') ?? '', /a broken symbolic link/);
  assert.equal(index.fts('zqnewline', 5).length, 0, 'a note read_note cannot read is not searchable');
  assert.equal(index.fts('zqbackslash', 5).length, 0);
  // The watcher's path agrees with the scan's.
  writeNotes(root, { 'later\nnote.md': '# later\n\nzqlater\n' });
  const a = await index.apply({ upserted: ['later\nnote.md'], removed: [], removedDirs: [] });
  assert.equal(a.indexed, 0);
  assert.equal(index.fts('zqlater', 5).length, 0);
  assert.match(a.skipped.find((x) => x.path === 'later\nnote.md')?.reason ?? '', /control characters/);
  assert.equal(index.status().skipped.count, 10);
});

/**
 * The number of segments in an FTS5 structure record (the %_data row with id 10): a 4-byte
 * cookie, the optional 4-byte FF000001 marker of the contentless-delete format, then the
 * level count and the segment count as SQLite varints.
 */
function ftsSegments(row: { block: Buffer }): number {
  const b = row.block;
  let at = 4;
  if (b.readUInt32BE(4) === 0xff000001) at = 8;
  const varint = (): number => {
    let v = 0;
    for (let i = 0; i < 9; i++) {
      const byte = b[at++]!;
      if (i === 8) return v * 256 + byte;
      v = v * 128 + (byte & 0x7f);
      if (byte < 0x80) return v;
    }
    return v;
  };
  varint(); // levels
  return varint();
}

test('an edit made while the daemon was down that kept size and mtime is indexed at the next start', async (t) => {
  // Found from outside: cp -p, rsync -a and sync tools keep mtime, and an edit of the same
  // length kept the old text searchable (and marked fresh) for good. The change time shows it.
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nthe word is marmalade\n', 'b.md': '# B\n\nunrelated\n' });
  const state = tempDir(t);
  const { cfg, open } = await reopenable(notes, state);
  let index = await open();
  await index.sync();
  await index.close();
  const file = join(notes, 'a.md');
  const before = statSync(file);
  const ref = join(tempDir(t), 'ref');
  execFileSync('cp', ['-p', file, ref]);
  writeFileSync(file, '# A\n\nthe word is persimmon\n'.padEnd(before.size, ' ').slice(0, before.size));
  // touch -r sets the time to the nanosecond (utimes through a Date keeps milliseconds only).
  execFileSync('touch', ['-m', '-r', ref, file]);
  assert.equal(statSync(file).size, before.size);
  assert.equal(statSync(file).mtimeMs, before.mtimeMs);
  index = await open();
  const s = await index.sync();
  assert.equal(s.indexed, 1, 'the edited note is re-indexed');
  assert.equal((await search(index, 'persimmon', { k: 1, mode: 'bm25' })).hits[0]?.path, 'a.md');
  assert.equal((await search(index, 'marmalade', { k: 1, mode: 'bm25' })).hits.length, 0);
  assert.equal((await index.sync()).unchanged, 2, 'and nothing is re-read after that');
  await index.close();

  // A database an older notes-mcp wrote (no ctime column, schema version unchanged) opens, and
  // every note is hashed once (none re-embedded), then skipped again.
  const db = new Database(indexFiles(cfg.indexDir).database);
  const version = db.pragma('user_version', { simple: true });
  db.exec('ALTER TABLE notes DROP COLUMN ctime_ms');
  db.close();
  index = await open();
  const first = await index.sync();
  assert.deepEqual([first.indexed, first.unchanged, first.embedded], [0, 2, 0]);
  assert.equal((await index.sync()).unchanged, 2);
  await index.close();
  const again = new Database(indexFiles(cfg.indexDir).database, { readonly: true });
  assert.equal(again.pragma('user_version', { simple: true }), version, 'an older notes-mcp still opens it');
  again.close();
});

test('an index database that is mostly space of deleted notes is compacted at start', async (t) => {
  // Found from outside: after huge notes were deleted, index.db stayed at 581 MB against 15 MB
  // rebuilt (SQLite reuses free pages, never returns them), for good.
  const notes = tldrVault(t, { common: 20 });
  const state = tempDir(t);
  const { cfg, open } = await reopenable(notes, state);
  let index = await open();
  await index.sync();
  const q = 'compress files into an archive';
  const before = (await search(index, q, { k: 5 })).hits.map((h) => h.path);
  await index.close();
  // What deleting huge notes leaves: 80 MB of pages written, then freed.
  const file = indexFiles(cfg.indexDir).database;
  const db = new Database(file);
  db.exec('CREATE TABLE filler (b BLOB)');
  const put = db.prepare('INSERT INTO filler VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 80; i++) put.run(Buffer.alloc(1024 * 1024, i));
  })();
  db.exec('DROP TABLE filler');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const bloated = statSync(file).size;
  assert.ok(bloated > 80 * 1024 * 1024, `${bloated}`);
  // Without room on the disk for the rewrite, nothing is tried (found from outside: a VACUUM
  // that failed on a full disk kept its WAL, and every later write failed).
  const tight = new Store(openDb(file));
  assert.throws(() => tight.compactIfSparse(undefined, 1024 * 1024), /not enough free disk space/);
  tight.close();
  assert.equal(statSync(file).size, bloated);
  assert.equal(existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0, 0);
  index = await open();
  const after = statSync(file).size;
  t.diagnostic(`index.db ${(bloated / 2 ** 20).toFixed(1)} MB -> ${(after / 2 ** 20).toFixed(1)} MB`);
  assert.ok(after < bloated / 4, `${after} bytes after, ${bloated} before`);
  assert.deepEqual(
    (await search(index, q, { k: 5 })).hits.map((h) => h.path),
    before,
  );
  assert.equal((await index.sync()).indexed, 0, 'nothing re-indexed');
  await index.close();
});

test('a saved graph that is mostly slots of deleted points is rebuilt smaller by the writer', {
  timeout: 120_000,
}, async (t) => {
  // Found from outside: after huge notes were deleted, vectors.hnsw stayed at 58 MB for 394
  // live vectors (0.2 MB rebuilt), for good: hnswlib only marks points deleted.
  const notes = tldrVault(t, { common: 20 });
  const big = manySectionsNote(6_000, 5);
  writeNotes(notes, { 'big1.md': big, 'big2.md': big });
  const state = tempDir(t);
  const { cfg, open } = await reopenable(notes, state);
  let index = await open();
  await index.sync();
  await index.close();
  rmSync(join(notes, 'big1.md'));
  rmSync(join(notes, 'big2.md'));
  index = await open();
  await index.sync();
  const q = 'compress files into an archive';
  const before = (await search(index, q, { k: 5, mode: 'vector' })).hits.map((h) => h.path);
  await index.close();
  const graph = indexFiles(cfg.indexDir).graph;
  const bloated = statSync(graph).size;
  index = await open();
  const st = index.status().vectorIndex;
  assert.equal(st.loaded, 'rebuilt');
  assert.match(st.reason, /mostly deleted points/);
  assert.deepEqual(
    (await search(index, q, { k: 5, mode: 'vector' })).hits.map((h) => h.path),
    before,
  );
  await index.close();
  const after = statSync(graph).size;
  t.diagnostic(`vectors.hnsw ${(bloated / 2 ** 20).toFixed(1)} MB -> ${(after / 2 ** 20).toFixed(2)} MB`);
  assert.ok(after < bloated / 4, `${after} bytes after, ${bloated} before`);
  index = await open();
  assert.equal(index.status().vectorIndex.loaded, 'loaded', 'and loaded as it is from then on');
  await index.close();
});
