import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenStore } from '../../src/auth/tokens.ts';
import { History } from '../../src/history/index.ts';
import { silentLogger } from '../../src/log.ts';
import { readPlainNote } from '../../src/notes/move.ts';
import { connectV1, connectV2, startTestDaemon, TEST_TOKEN } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/tmp.ts';
import { testConfig, writeNotes } from '../helpers/vault.ts';

// What an outsider found after issues 11, 13 and 14, each pinned by a test.

const text = (r: unknown) => JSON.stringify((r as { content?: unknown }).content);

test('move and delete read a note without blocking: a FIFO in its place is refused at once', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'x.md');
  execFileSync('mkfifo', [fifo]);
  const t0 = Date.now();
  await assert.rejects(readPlainNote(fifo, 'x.md'), /FIFO|not a note file/);
  assert.ok(Date.now() - t0 < 2_000);
});

test('move_note rewrites links to names with + & # so that they still resolve', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, {
    'h.md': '# H\n\nSee [cpp](c++.md) and [qa](Q&A.md) and [[c++]].\n',
    'c++.md': '# C++\n',
    'Q&A.md': '# Q and A\n',
  });
  const d = await startTestDaemon(t, notes);
  const c = await connectV2(t, d.url);
  const m = await c.callTool({ name: 'move_note', arguments: { from: 'h.md', to: 'sub/h.md' } });
  assert.notEqual(m.isError, true, text(m));
  const r = await c.callTool({ name: 'read_note', arguments: { path: 'sub/h.md' } });
  const links = (r.structuredContent as { links: Array<{ status: string; path?: string }> }).links;
  assert.ok(links.length >= 2);
  for (const l of links) assert.equal(l.status, 'resolved', JSON.stringify(links));
  assert.match(readFileSync(join(notes, 'sub', 'h.md'), 'utf8'), /\(\.\.\/c%2B%2B\.md\)/);
});

test('notes-mcp state inside the notes folder is never a note: no read, write or planted restore', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'one.md': '# One\n\noriginal\n' });
  const state = join(notes, 'state');
  mkdirSync(state);
  const d = await startTestDaemon(t, notes, { state });
  const c = await connectV1(t, d.url);
  for (const path of ['state/planted.md', 'state/history/x/trash/y.md']) {
    const w = await c.callTool({ name: 'write_note', arguments: { path, content: '# planted', mode: 'overwrite' } });
    assert.equal(w.isError, true, path);
    assert.match(text(w), /state folder/);
  }
  const del = await c.callTool({ name: 'delete_note', arguments: { path: 'one.md' } });
  assert.notEqual(del.isError, true, text(del));
  // Plant other text in the trash behind notes-mcp's back: restore refuses it.
  const trash = execFileSync('sh', ['-c', `ls "${state}"/history/*/trash/*`], { encoding: 'utf8' }).trim();
  writeFileSync(trash, '# planted\n');
  const res = await c.callTool({ name: 'restore_note', arguments: { path: 'one.md' } });
  assert.equal(res.isError, true, text(res));
  assert.equal(existsSync(join(notes, 'one.md')), false);
});

test('a save appended to a note after delete_note took it (same file, now in the trash) comes back with restore_note', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'log.md': '# Log\n\nfirst\n' });
  const state = tempDir(t);
  const d = await startTestDaemon(t, notes, { state });
  const c = await connectV1(t, d.url);
  // An editor that had the note open writes through its file descriptor after the delete.
  const fd = openSync(join(notes, 'log.md'), 'r+');
  const del = await c.callTool({ name: 'delete_note', arguments: { path: 'log.md' } });
  assert.notEqual(del.isError, true, text(del));
  writeSync(fd, 'saved late\n', fstatSync(fd).size);
  closeSync(fd);
  const res = await c.callTool({ name: 'restore_note', arguments: { path: 'log.md' } });
  assert.notEqual(res.isError, true, text(res));
  assert.equal(readFileSync(join(notes, 'log.md'), 'utf8'), '# Log\n\nfirst\nsaved late\n');
});

test('a note written where notes-mcp never indexes (node_modules, excluded globs) is refused, not lost', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const d = await startTestDaemon(t, notes, { exclude: ['archive/**'] });
  const c = await connectV1(t, d.url);
  for (const path of ['node_modules/hidden.md', 'archive/old.md']) {
    const w = await c.callTool({ name: 'write_note', arguments: { path, content: '# x' } });
    assert.equal(w.isError, true, path);
    assert.match(text(w), /does not index notes there/);
    assert.equal(existsSync(join(notes, path)), false);
  }
});

test('ten concurrent edit_note appends without expected_hash all land', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'conc.md': '# Concurrent\n' });
  const d = await startTestDaemon(t, notes);
  const clients = await Promise.all(Array.from({ length: 3 }, () => connectV1(t, d.url)));
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      clients[i % 3]!.callTool({
        name: 'edit_note',
        arguments: { path: 'conc.md', operations: [{ op: 'append', text: `- line ${i}` }] },
      }),
    ),
  );
  for (const r of results) assert.notEqual(r.isError, true, text(r));
  const body = readFileSync(join(notes, 'conc.md'), 'utf8');
  for (let i = 0; i < 10; i++) assert.match(body, new RegExp(`- line ${i}(\\n|$)`));
});

test('an unreadable tokens.json: stored tokens are refused (503: they cannot be checked), the env token still works, never a 500', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const state = tempDir(t);
  writeFileSync(join(state, 'tokens.json'), '[garbage');
  const d = await startTestDaemon(t, notes, { state });
  const env = await connectV1(t, d.url, TEST_TOKEN);
  const s = await env.callTool({ name: 'search_notes', arguments: { query: 'alpha' } });
  assert.notEqual(s.isError, true);
  const r = await fetch(d.url, {
    method: 'POST',
    headers: {
      Authorization: 'Bearer nmcp_not_a_stored_token_0123456789',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
  });
  // Not 401: the token may be a good one the server cannot check (security.test.ts).
  assert.equal(r.status, 503);
  assert.match(await r.text(), /NOTES_E_TOKEN_STORE_UNREADABLE/);
  assert.equal(readFileSync(join(state, 'tokens.json'), 'utf8'), '[garbage', 'never overwritten');
});

test("a revoked token's open listen stream is closed within seconds", { timeout: 30_000 }, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'b.md': '# B\n' });
  const state = tempDir(t);
  const store = new TokenStore(join(state, 'tokens.json'));
  const { token, record } = store.create('soon-revoked', 'read');
  const d = await startTestDaemon(t, notes, { state });
  const res = await fetch(d.url, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'subscriptions/listen',
      params: { notifications: { resourcesListChanged: true }, _meta: {} },
    }),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  await reader.read(); // the acknowledgement
  store.revoke(record.id);
  const t0 = Date.now();
  let ended = false;
  while (!ended && Date.now() - t0 < 10_000) {
    const r = await reader.read().catch(() => ({ done: true }));
    ended = r.done === true;
  }
  assert.ok(ended, 'the stream ended after the revocation');
});

test('a move a crash interrupted (the note under both names) is finished at the next start', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'new/name.md': '# Moved\n\nmoved text\n' });
  linkSync(join(notes, 'new', 'name.md'), join(notes, 'old.md'));
  const state = tempDir(t);
  const cfg = testConfig(notes, state);
  await History.forConfig(cfg, silentLogger()).record({
    tool: 'move_note',
    path: 'old.md',
    to: 'new/name.md',
    before: Buffer.from('# Moved\n\nmoved text\n'),
    after: Buffer.from('# Moved\n\nmoved text\n'),
    who: { transport: 'http' },
  });
  const d = await startTestDaemon(t, notes, { state });
  assert.equal(existsSync(join(notes, 'old.md')), false);
  assert.equal(existsSync(join(notes, 'new', 'name.md')), true);
  assert.deepEqual([...d.index.noteStates().keys()].sort(), ['new/name.md']);
});

test('a note and a symlink to it are one note to writers: no lost append, one winner per expected_hash', async (t) => {
  // Found from outside: the per-note lock was keyed by the path as named, the write landed at
  // the link's target. 20 appends alternating real.md and link.md: all acknowledged, 11 in the
  // file; two overwrites with the same expected_hash, one by each name, both acknowledged.
  const notes = tempDir(t);
  writeNotes(notes, { 'race/real.md': '# real\n' });
  symlinkSync('real.md', join(notes, 'race', 'link.md'));
  const d = await startTestDaemon(t, notes);
  const [a, b] = [await connectV1(t, d.url), await connectV2(t, d.url)];
  const N = 20;
  const acks = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      (i % 2 ? a : b).callTool({
        name: 'write_note',
        arguments: { path: i % 2 ? 'race/link.md' : 'race/real.md', mode: 'append', content: `marker-${i}\n` },
      }),
    ),
  );
  for (const r of acks) assert.notEqual(r.isError, true, text(r));
  const body = readFileSync(join(notes, 'race', 'real.md'), 'utf8');
  const lost = Array.from({ length: N }, (_, i) => i).filter((i) => !body.includes(`marker-${i}\n`));
  assert.deepEqual(lost, [], 'appends acknowledged but not in the file');
  for (let round = 0; round < 5; round++) {
    const r = await a.callTool({ name: 'read_note', arguments: { path: 'race/real.md' } });
    const hash = (r.structuredContent as { hash: string }).hash;
    const [x, y] = await Promise.all([
      a.callTool({
        name: 'write_note',
        arguments: { path: 'race/real.md', mode: 'overwrite', content: `# x${round}\n`, expected_hash: hash },
      }),
      b.callTool({
        name: 'write_note',
        arguments: { path: 'race/link.md', mode: 'overwrite', content: `# y${round}\n`, expected_hash: hash },
      }),
    ]);
    assert.equal([x, y].filter((w) => w.isError !== true).length, 1, `round ${round}: ${text(x)} ${text(y)}`);
    assert.match(text(x.isError ? x : y), /NOTES_E_NOTE_CONFLICT|changed since/);
  }
});

test('a path through a symlinked folder names the note at its real place, which search and history know', async (t) => {
  // Found from outside: write_note "linkdir/new.md" (linkdir -> realdir) said indexed: true
  // under linkdir/, which search never returned (the scanner does not enter symlinked
  // folders); the note surfaced later as realdir/new.md, whose history was empty.
  const notes = tempDir(t);
  writeNotes(notes, { 'realdir/base.md': '# Base\n\nin realdir\n' });
  symlinkSync('realdir', join(notes, 'linkdir'));
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const w = await c.callTool({
    name: 'write_note',
    arguments: { path: 'linkdir/new.md', content: '# New\n\nzqxvialink\n' },
  });
  assert.notEqual(w.isError, true, text(w));
  assert.equal((w.structuredContent as { path: string }).path, 'realdir/new.md');
  const s = await c.callTool({ name: 'search_notes', arguments: { query: 'zqxvialink' } });
  const hits = (s.structuredContent as { results: Array<{ path: string }> }).results.map((h) => h.path);
  assert.equal(hits[0], 'realdir/new.md');
  assert.equal(hits.filter((p) => p.startsWith('linkdir/')).length, 0, JSON.stringify(hits));
  const e = await c.callTool({
    name: 'edit_note',
    arguments: { path: 'linkdir/new.md', operations: [{ op: 'replace', old: 'zqxvialink', new: 'zqxedited' }] },
  });
  assert.notEqual(e.isError, true, text(e));
  const h = await c.callTool({ name: 'note_history', arguments: { path: 'realdir/new.md' } });
  assert.equal((h.structuredContent as { changes: unknown[] }).changes.length, 2, text(h));
  const r = await c.callTool({ name: 'read_note', arguments: { path: 'linkdir/base.md' } });
  assert.equal((r.structuredContent as { path: string }).path, 'realdir/base.md');
  assert.equal(existsSync(join(notes, 'realdir', 'new.md')), true);
});

test('a folder filter through a symlinked folder lists and searches the notes at its real place', async (t) => {
  // Found from outside: list_notes { folder: "linkdir" } returned nothing while read_note
  // followed the link; a folder out of the notes folder is refused, as a note path is.
  const notes = tempDir(t);
  const outside = tempDir(t);
  writeNotes(notes, { 'realdir/base.md': '# Base\n\nzqfolderlink\n', 'other/o.md': '# O\n\nzqfolderlink\n' });
  writeNotes(outside, { 'x.md': '# X\n\nzqfolderlink\n' });
  symlinkSync('realdir', join(notes, 'linkdir'));
  symlinkSync(outside, join(notes, 'away'));
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const listed = async (folder: string): Promise<string[]> => {
    const r = await c.callTool({ name: 'list_notes', arguments: { folder } });
    assert.notEqual(r.isError, true, text(r));
    return (r.structuredContent as { notes: Array<{ path: string }> }).notes.map((n) => n.path);
  };
  const searched = async (folder: string): Promise<string[]> => {
    const r = await c.callTool({ name: 'search_notes', arguments: { query: 'zqfolderlink', mode: 'bm25', folder } });
    assert.notEqual(r.isError, true, text(r));
    return (r.structuredContent as { results: Array<{ path: string }> }).results.map((h) => h.path);
  };
  assert.deepEqual(await listed('linkdir'), ['realdir/base.md']);
  assert.deepEqual(await listed('linkdir/'), ['realdir/base.md']);
  assert.deepEqual(await searched('linkdir'), ['realdir/base.md']);
  assert.deepEqual(await listed('realdir'), ['realdir/base.md']);
  assert.deepEqual(await listed('other/../realdir'), ['realdir/base.md']);
  assert.deepEqual(await listed('nosuchdir'), []);
  // Out of the notes folder: refused with the reason, never listed (nor an empty answer).
  for (const folder of ['away', '../', 'linkdir/../..']) {
    for (const name of ['list_notes', 'search_notes']) {
      const r = await c.callTool({ name, arguments: { folder, query: 'zqfolderlink' } });
      assert.equal(r.isError, true, `${name} ${folder}: ${text(r)}`);
      assert.match(text(r), /outside the notes folder/);
      assert.doesNotMatch(text(r), /zqfolderlink|x\.md/);
    }
  }
});

test('an edit that keeps the size and mtime is indexed once the watcher sees it', async (t) => {
  // Found from outside: cp -p, rsync -a and sync tools carry the old mtime; an edit of the same
  // length (a typo, a checkbox) then passed for unchanged, and search kept the old text, marked
  // not stale, while read_note showed the new one.
  const notes = tempDir(t);
  writeNotes(notes, { 'mt/a.md': '# A\n\nzqaaaa1x\n', 'mt/b.md': '# B\n\nzqbbbb1x\n' });
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const found = async (q: string): Promise<string[]> => {
    const r = await c.callTool({ name: 'search_notes', arguments: { query: q, mode: 'bm25' } });
    return (r.structuredContent as { results: Array<{ path: string }> }).results.map((h) => h.path);
  };
  const a = join(notes, 'mt', 'a.md');
  const b = join(notes, 'mt', 'b.md');
  // touch -r copies the times to the nanosecond, as those tools do (utimes from JS rounds).
  const refs = tempDir(t);
  execFileSync('cp', ['-p', a, join(refs, 'a')]);
  execFileSync('cp', ['-p', b, join(refs, 'b')]);
  // In place, mtime set back; and a new file of the same size and mtime renamed over the note.
  writeFileSync(a, '# A\n\nzqaaaa2x\n');
  execFileSync('touch', ['-r', join(refs, 'a'), a]);
  writeFileSync(join(notes, 'mt', '.new'), '# B\n\nzqbbbb2x\n');
  execFileSync('touch', ['-r', join(refs, 'b'), join(notes, 'mt', '.new')]);
  renameSync(join(notes, 'mt', '.new'), b);
  assert.equal(statSync(a).mtimeMs, statSync(join(refs, 'a')).mtimeMs);
  let got: string[][] = [];
  for (let i = 0; i < 50; i++) {
    got = await Promise.all(['zqaaaa2x', 'zqbbbb2x', 'zqaaaa1x', 'zqbbbb1x'].map(found));
    if (JSON.stringify(got) === JSON.stringify([['mt/a.md'], ['mt/b.md'], [], []])) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(got, [['mt/a.md'], ['mt/b.md'], [], []]);
});

test('deleting one of two NFC/NFD twins leaves the other searchable', async (t) => {
  // Found from outside: the watcher's unlink of the NFC name removed the note, though the NFD
  // file (the same name to notes-mcp) was still there: readable, but not searched or listed.
  const notes = tempDir(t);
  const nfc = 'caf\u00e9.md';
  const nfd = 'cafe\u0301.md';
  mkdirSync(join(notes, 'twin'));
  writeFileSync(join(notes, 'twin', nfc), '# nfc\n\nzqnfcx\n');
  writeFileSync(join(notes, 'twin', nfd), '# nfd\n\nzqnfdx\n');
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const found = async (q: string): Promise<string[]> => {
    const r = await c.callTool({ name: 'search_notes', arguments: { query: q, mode: 'bm25' } });
    return (r.structuredContent as { results: Array<{ path: string }> }).results.map((h) => h.path);
  };
  assert.deepEqual(await found('zqnfcx'), [`twin/${nfc}`]);
  const del = await c.callTool({ name: 'delete_note', arguments: { path: `twin/${nfc}` } });
  assert.notEqual(del.isError, true, text(del));
  // After the watcher's own batch for the unlink, too (it comes a debounce later).
  await new Promise((r) => setTimeout(r, 2_500));
  assert.deepEqual(await found('zqnfdx'), [`twin/${nfc}`]);
  assert.deepEqual(await found('zqnfcx'), []);
});

test('read_note of a note that is one long line pages inside the line instead of returning it whole', async (t) => {
  // A 1 MB one-line note came back whole (ten times the page size) in one reply.
  const notes = tempDir(t);
  const line = Array.from({ length: 40_000 }, (_, i) => `w${i}😀`).join(' ');
  writeNotes(notes, { 'one.md': `# One\n${line}\nlast\n` });
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  type Page = { content: string; truncated: boolean; next_start_line?: number; next_start_char?: number };
  let args: Record<string, unknown> = { path: 'one.md' };
  let read = '';
  for (let calls = 0; calls < 20; calls++) {
    const r = await c.callTool({ name: 'read_note', arguments: args });
    assert.notEqual(r.isError, true, text(r));
    const p = r.structuredContent as Page;
    assert.ok(p.content.length <= 100_000, `a page of ${p.content.length} characters`);
    read += args.start_char === undefined && read !== '' ? `\n${p.content}` : p.content;
    if (!p.truncated) break;
    args = {
      path: 'one.md',
      start_line: p.next_start_line,
      ...(p.next_start_char ? { start_char: p.next_start_char } : {}),
    };
  }
  assert.equal(read, `# One\n${line}\nlast`);
  const past = await c.callTool({ name: 'read_note', arguments: { path: 'one.md', start_line: 3, start_char: 9 } });
  assert.equal(past.isError, true);
  assert.match(text(past), /start_char 9 is past the end of line 3/);
});

test('a top-level note whose name starts with "note:" is used by its path; note:// stays a URI', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'note: ideas.md': '# Ideas\n\nquillwort\n', 'other.md': '# Other\n' });
  const d = await startTestDaemon(t, notes);
  const c = await connectV2(t, d.url);
  for (const path of ['note: ideas.md', 'note://note%3A%20ideas.md']) {
    const r = await c.callTool({ name: 'read_note', arguments: { path } });
    assert.notEqual(r.isError, true, `${path}: ${text(r)}`);
    assert.equal((r.structuredContent as { path: string }).path, 'note: ideas.md');
  }
  const w = await c.callTool({ name: 'write_note', arguments: { path: 'note:2026.md', content: '# Year\n' } });
  assert.notEqual(w.isError, true, text(w));
  assert.equal(readFileSync(join(notes, 'note:2026.md'), 'utf8'), '# Year\n');
  const bad = await c.callTool({ name: 'read_note', arguments: { path: 'note://%zz' } });
  assert.equal(bad.isError, true);
  assert.match(text(bad), /not a valid note:\/\/ URI/);
});
