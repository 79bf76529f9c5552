import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ChangeRecorder, finishInterruptedMoves, History, pageEntries, restoreNote } from '../../src/history/index.ts';
import { silentLogger } from '../../src/log.ts';
import { contentHash } from '../../src/notes/index.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';

const who = { transport: 'http' as const, tokenId: 'abcd1234', tokenName: 'laptop' };
const b = (s: string) => Buffer.from(s);

function blobFiles(dir: string): string[] {
  const root = join(dir, 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
}

test('a change keeps both versions once (content-addressed) and a journal line with who, when, tool, hashes', async (t) => {
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30 });
  const e1 = await h.record({ tool: 'write_note', path: 'a.md', before: null, after: b('one\n'), who });
  const e2 = await h.record({ tool: 'edit_note', path: 'a.md', before: b('one\n'), after: b('two\n'), who });
  await h.record({ tool: 'write_note', path: 'b.md', before: null, after: b('one\n'), who });
  assert.equal(blobFiles(dir).length, 2, 'one\\n and two\\n, each kept once');
  const v = await h.versions('a.md');
  assert.deepEqual(
    v.map((e) => [e.tool, e.before, e.after]),
    [
      ['edit_note', contentHash('one\n'), contentHash('two\n')],
      ['write_note', null, contentHash('one\n')],
    ],
  );
  assert.deepEqual(v[0]!.who, { transport: 'http', tokenId: 'abcd1234', tokenName: 'laptop', user: undefined });
  assert.ok(e1.id < e2.id, 'ids sort by time');
  const two = await h.blob(contentHash('two\n'));
  assert.equal(two.ok && two.data.toString(), 'two\n');
  assert.deepEqual(await h.blob('0'.repeat(64)), { ok: false, why: 'missing' });
  // A kept copy changed on disk is reported as damaged, not handed back as that version.
  const twoHash = contentHash('two\n');
  writeFileSync(join(dir, 'blobs', twoHash.slice(0, 2), twoHash), 'tampered\n');
  assert.deepEqual(await h.blob(contentHash('two\n')), { ok: false, why: 'damaged' });
  const line = JSON.parse(readFileSync(join(dir, 'journal.jsonl'), 'utf8').split('\n')[1]!);
  assert.deepEqual(Object.keys(line), ['v', 'id', 'at', 'tool', 'path', 'before', 'after', 'who']);
  assert.ok(!JSON.stringify(line).includes('one'), 'no note text in the journal');
});

test('an aborted change is not listed; a torn last line (crash mid-append) is skipped and the next starts fresh', async (t) => {
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30 });
  const e = await h.record({ tool: 'write_note', path: 'a.md', before: null, after: b('x'), who });
  await h.abort(e.id);
  assert.deepEqual(await h.versions('a.md'), []);
  await h.record({ tool: 'write_note', path: 'a.md', before: null, after: b('y'), who });
  appendFileSync(join(dir, 'journal.jsonl'), '{"v":1,"id":"torn","at":"20');
  await h.record({ tool: 'edit_note', path: 'a.md', before: b('y'), after: b('z'), who });
  // A second reader (another process) sees the same.
  const other = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30 });
  for (const r of [h, other]) {
    assert.deepEqual(
      (await r.versions('a.md')).map((x) => x.tool),
      ['edit_note', 'write_note'],
    );
  }
});

test('retention: entries past the age bound go, then the oldest while kept versions exceed the size bound', async (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2026-01-01T00:00:00Z');
  const day = 86_400_000;
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 2500, now: () => now, autoPrune: false });
  const big = (c: string) => b(c.repeat(1000));
  await h.record({ tool: 'write_note', path: 'old.md', before: null, after: big('o'), who });
  now += 40 * day;
  await h.record({ tool: 'write_note', path: 'a.md', before: null, after: big('a'), who });
  now += day;
  await h.record({ tool: 'edit_note', path: 'a.md', before: big('a'), after: big('b'), who });
  now += day;
  await h.record({ tool: 'edit_note', path: 'a.md', before: big('b'), after: big('c'), who });
  const s = await h.prune();
  // old.md is past 30 days; of a.md's three versions (3000 bytes) only the newest change's two fit.
  assert.equal(s.entries, 3);
  assert.deepEqual(
    (await h.recent(10)).map((e) => [e.path, e.after]),
    [['a.md', contentHash(big('c'))]],
  );
  assert.equal(blobFiles(dir).length, 2);
  assert.deepEqual(await h.blob(contentHash(big('o'))), { ok: false, why: 'missing' });
  assert.equal((await h.blob(contentHash(big('b')))).ok, true);
  assert.ok(s.keptBytes <= 2500);
});

test('retention counts the journal, and keeps the newest change even when it alone is over the bound', async (t) => {
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 4000, autoPrune: false });
  // Moves keep no new version: before, 200 of them grew the journal past any bound.
  const note = b('# Moved\n');
  for (let i = 0; i < 200; i++) {
    await h.record({ tool: 'move_note', path: `m${i}.md`, to: `m${i + 1}.md`, before: note, after: note, who });
  }
  const s = await h.prune();
  assert.ok(s.entries > 150, `entries dropped: ${s.entries}`);
  assert.ok(s.keptBytes <= 4000, `kept ${s.keptBytes} bytes`);
  assert.ok(readFileSync(join(dir, 'journal.jsonl')).length <= 4000);
  // One change bigger than the whole bound: still undoable after the next prune.
  const huge = b('x'.repeat(10_000));
  const e = await h.record({ tool: 'write_note', path: 'big.md', before: null, after: huge, who });
  await h.prune();
  assert.deepEqual(
    (await h.recent(5)).map((x) => x.id),
    [e.id],
  );
  assert.equal((await h.blob(contentHash(huge))).ok, true);
});

test('retention removes trash files only with their entries', async (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2026-01-01T00:00:00Z');
  const h = new History({ dir, maxAgeDays: 1, maxBytes: 1 << 30, now: () => now, autoPrune: false });
  for (const name of ['old', 'new']) {
    const id = h.newId();
    const trash = `${id}.md`;
    await h.record({ id, tool: 'delete_note', path: `${name}.md`, before: b(name), after: null, who, trash });
    mkdirSync(h.trashDir, { recursive: true });
    writeFileSync(h.trashFile(trash), name);
    now += 2 * 86_400_000;
  }
  now -= 86_400_000;
  await h.prune();
  assert.deepEqual(
    readdirSync(h.trashDir).map((f) => readFileSync(join(h.trashDir, f), 'utf8')),
    ['new'],
  );
});

test('two processes recording while a third prunes: every change is kept (the journal lock)', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const mod = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'history', 'index.js')).href;
  const script = `
    const { History } = await import(${JSON.stringify(mod)});
    const h = new History({ dir: process.argv[1], maxAgeDays: 30, maxBytes: 2 ** 40 });
    for (let i = 0; i < 60; i++) {
      await h.record({ tool: 'write_note', path: process.argv[2] + '-' + i + '.md', before: null,
        after: Buffer.from(process.argv[2] + i), who: { transport: 'cli' } });
    }`;
  const kids = ['p', 'q'].map((name) =>
    spawn(process.execPath, ['--input-type=module', '-e', script, dir, name], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  const errs = kids.map((k) => {
    let e = '';
    k.stderr.on('data', (d: Buffer) => {
      e += d.toString();
    });
    return () => e;
  });
  const pruner = new History({ dir, maxAgeDays: 30, maxBytes: 2 ** 40 });
  const exits = kids.map((k) => once(k, 'exit'));
  let done = false;
  void Promise.all(exits).then(() => {
    done = true;
  });
  let prunes = 0;
  while (!done && prunes < 500) {
    await pruner.prune();
    prunes++;
  }
  const codes = (await Promise.all(exits)).map(([c]) => c);
  assert.deepEqual(codes, [0, 0], errs.map((e) => e()).join('\n'));
  assert.ok(prunes > 1, 'pruning ran while they recorded');
  const entries = await new History({ dir, maxAgeDays: 30, maxBytes: 2 ** 40 }).recent(1000);
  assert.equal(entries.length, 120);
  assert.equal(blobFiles(dir).length, 120);
});

test('history retention is configured by age and size; the defaults keep at least 30 days', async (t) => {
  const { loadConfig, HISTORY_DEFAULTS } = await import('../../src/config/index.ts');
  const dir = tempDir(t);
  const base = { env: {}, flags: { notes: join(dir, 'n'), state: join(dir, 's') } };
  const d = loadConfig(base);
  assert.ok(d.historyMaxAgeDays >= 30);
  assert.equal(d.historyMaxAgeDays, HISTORY_DEFAULTS.maxAgeDays);
  assert.equal(d.historyMaxBytes, HISTORY_DEFAULTS.maxBytes);
  assert.equal(d.historyDir, join(dir, 's', 'history', d.indexDir.slice(d.indexDir.lastIndexOf('/') + 1)));
  const env = loadConfig({ ...base, env: { NOTES_MCP_HISTORY_DAYS: '45', NOTES_MCP_HISTORY_MAX_BYTES: '10485760' } });
  assert.equal(env.historyMaxAgeDays, 45);
  assert.equal(env.historyMaxBytes, 10_485_760);
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ historyMaxAgeDays: 7 }));
  assert.equal(loadConfig({ ...base, configFile: file }).historyMaxAgeDays, 7);
  assert.throws(() => loadConfig({ ...base, env: { NOTES_MCP_HISTORY_DAYS: '0' } }), /historyMaxAgeDays/);
  assert.throws(() => loadConfig({ ...base, env: { NOTES_MCP_HISTORY_MAX_BYTES: '12' } }), /historyMaxBytes/);
});

test('the tools that change notes declare it, and the destructive ones say so', async () => {
  const { TOOLS } = await import('../../src/mcp/index.ts');
  const hints = Object.fromEntries(TOOLS.map((t) => [t.name, t.annotations]));
  for (const name of ['edit_note', 'move_note', 'delete_note', 'restore_note', 'write_note']) {
    assert.equal(hints[name]?.readOnlyHint, false, name);
    assert.equal(hints[name]?.idempotentHint, false, name);
  }
  for (const name of ['delete_note', 'restore_note', 'write_note', 'edit_note'])
    assert.equal(hints[name]?.destructiveHint, true);
  assert.equal(hints['move_note']?.destructiveHint, false, 'a move never overwrites');
  for (const name of ['note_history', 'related_notes', 'read_note']) {
    assert.deepEqual(hints[name], {
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: false,
    });
  }
});

test('a journal lock left by a killed process is taken over at once; a live holder makes others wait', async (t) => {
  const dir = tempDir(t);
  const dead = spawn(process.execPath, ['-e', '0']);
  await once(dead, 'exit');
  writeFileSync(join(dir, 'lock'), String(dead.pid));
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30, autoPrune: false });
  const t0 = Date.now();
  await h.record({ tool: 'write_note', path: 'a.md', before: null, after: b('x'), who });
  assert.ok(Date.now() - t0 < 2000, 'no wait for a dead holder');
  assert.equal(existsSync(join(dir, 'lock')), false, 'released');
  // A live holder (this process's parent shell stands in for another daemon) is waited for.
  writeFileSync(join(dir, 'lock'), String(process.ppid));
  const waiting = h.record({ tool: 'edit_note', path: 'a.md', before: b('x'), after: b('y'), who });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await h.versions('a.md')).length, 1, 'not recorded while the lock is held');
  rmSync(join(dir, 'lock'));
  await waiting;
  assert.equal((await h.versions('a.md')).length, 2);
});

test('an unreadable journal is reported without its absolute path', {
  skip: process.getuid?.() !== 0 ? 'needs root, to read as nobody' : false,
}, async (t) => {
  // Found from outside: "state file <state>/…/journal.jsonl is unreadable: permission denied,
  // open '/abs/state/…/journal.jsonl'" reached the client of restore_note.
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30 });
  await h.record({ tool: 'write_note', path: 'a.md', before: null, after: b('one\n'), who });
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  execFileSync('chmod', ['000', join(dir, 'journal.jsonl')]);
  const lib = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'history', 'index.js')).href;
  const script = `
    const { History } = await import(${JSON.stringify(lib)});
    process.setgid(65534);
    process.setuid(65534);
    try { await new History({ dir: ${JSON.stringify(dir)}, maxAgeDays: 30, maxBytes: 2 ** 30 }).entries(); console.log('read'); }
    catch (e) { console.log(e.message); }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim();
  assert.match(out, /unreadable: permission denied/);
  assert.ok(!out.includes(dir), out);
});

test('history pages: each entry once across pages, also within one millisecond; a bogus cursor is refused', () => {
  // Ten entries of one millisecond, their random suffixes in no order, then older ones.
  const mk = (id: string) => ({ id, at: '', tool: 'edit_note' as const, path: 'a.md', before: null, after: null, who });
  const suffixes = ['9f', '01', 'c3', '44', 'ee', '10', '7a', '02', 'b5', '66'];
  const all = [
    ...suffixes.map((s) => mk(`00000000b-${s.padStart(8, '0')}`)),
    ...['3', '2', '1'].map((s) => mk(`00000000${s}-00000000`)),
  ];
  for (const limit of [1, 3, 4, 13, 20]) {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const p = pageEntries(all, cursor, limit);
      seen.push(...p.page.map((e) => e.id));
      if (p.next === undefined) break;
      cursor = p.next;
    }
    assert.deepEqual(
      seen,
      all.map((e) => e.id),
      `limit ${limit}: every entry once, in order`,
    );
  }
  // A cursor of an entry pruned since goes on from its time.
  assert.deepEqual(
    pageEntries(all, '000000002-ffffffff', 5).page.map((e) => e.id),
    ['000000001-00000000'],
  );
  for (const bogus of ['', 'zzz', '../x', '00000000b-0000000g'])
    assert.throws(() => pageEntries(all, bogus, 5), /invalid cursor/, JSON.stringify(bogus));
});

/** The journal entry of Topic.md moved to moved/Topic.md, as move_note records it. */
function recordTopicMove(h: History) {
  return h.record({
    tool: 'move_note',
    path: 'Topic.md',
    to: 'moved/Topic.md',
    before: b('# Topic\n'),
    after: b('# Topic\n'),
    who,
  });
}

test('move plans left by a crash: carried out only for a move that happened, on notes unchanged since; damaged ones go', async (t) => {
  const notes = tempDir(t);
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30, autoPrune: false });
  const link = '# L\n\nSee [t](Topic.md).\n';
  writeFileSync(join(notes, 'l1.md'), link);
  writeFileSync(join(notes, 'l2.md'), '# L2 edited since\n');
  mkdirSync(join(notes, 'moved'));
  writeFileSync(join(notes, 'moved', 'Topic.md'), '# Topic\n');
  const edit = { start: link.indexOf('Topic.md'), end: link.indexOf('Topic.md') + 8, text: 'moved/Topic.md' };
  const move = await recordTopicMove(h);
  await h.movePlans.save({
    id: move.id,
    from: 'Topic.md',
    to: 'moved/Topic.md',
    who,
    rewrites: [
      { path: 'l1.md', hash: contentHash(link), edits: [edit] },
      { path: 'l2.md', hash: contentHash(link), edits: [edit] },
    ],
  });
  // A plan whose move never happened (its entry was taken back): nothing is rewritten.
  await h.movePlans.save({ id: 'zzzzzzzzz-00000000', from: 'l1.md', to: 'elsewhere.md', who, rewrites: [] });
  writeFileSync(join(dir, 'moves', 'broken.json'), '{"v":1');
  assert.equal(await finishInterruptedMoves(h, notes, silentLogger()), 1);
  assert.equal(readFileSync(join(notes, 'l1.md'), 'utf8'), '# L\n\nSee [t](moved/Topic.md).\n');
  assert.equal(readFileSync(join(notes, 'l2.md'), 'utf8'), '# L2 edited since\n');
  assert.deepEqual(readdirSync(join(dir, 'moves')), []);
  const rewrite = (await h.recent(1))[0]!;
  assert.deepEqual([rewrite.tool, rewrite.path, rewrite.call], ['move_note', 'l1.md', move.id]);
});

test('undoing a move whose rewrite of a note was recorded twice (a kill, then the restart) restores it once, listed once', async (t) => {
  const notes = tempDir(t);
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30, autoPrune: false });
  const [was, now] = ['See [t](Topic.md).\n', 'See [t](moved/Topic.md).\n'];
  mkdirSync(join(notes, 'moved'));
  writeFileSync(join(notes, 'moved', 'Topic.md'), '# Topic\n');
  writeFileSync(join(notes, 'l1.md'), now);
  const move = await recordTopicMove(h);
  for (let i = 0; i < 2; i++) {
    await h.record({ tool: 'move_note', path: 'l1.md', before: b(was), after: b(now), who, call: move.id });
  }
  const r = await restoreNote(notes, h, { path: 'moved/Topic.md' }, new ChangeRecorder(h, 'restore_note', who));
  assert.deepEqual(r.linksNotRestored, []);
  assert.deepEqual(
    r.linksRestored?.map((l) => l.path),
    ['l1.md'],
  );
  assert.equal(readFileSync(join(notes, 'l1.md'), 'utf8'), was);
  assert.equal(existsSync(join(notes, 'Topic.md')), true);
});

test('at start, a change recorded but never written (killed in between) is taken back; a written one stays', async (t) => {
  const notes = tempDir(t);
  const dir = tempDir(t);
  const h = new History({ dir, maxAgeDays: 30, maxBytes: 1 << 30, autoPrune: false });
  writeFileSync(join(notes, 'a.md'), 'A\n');
  writeFileSync(join(notes, 'b.md'), 'B2\n');
  const phantom = await h.record({ tool: 'edit_note', path: 'a.md', before: b('A\n'), after: b('A2\n'), who });
  const real = await h.record({ tool: 'edit_note', path: 'b.md', before: b('B\n'), after: b('B2\n'), who });
  await finishInterruptedMoves(h, notes, silentLogger());
  const ids = (await h.recent(10)).map((e) => e.id);
  assert.ok(!ids.includes(phantom.id), 'the unwritten change is no longer listed');
  assert.ok(ids.includes(real.id));
});
