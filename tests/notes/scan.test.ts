import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { readNote, scanNotes, TEMP_PREFIX } from '../../src/notes/index.ts';
import { tempDir, unpackCorpus } from '../helpers/tmp.ts';

function put(root: string, rel: string, text = `# ${rel}\n`): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

const ALL = { include: [], exclude: [] };

test('scanNotes finds notes and skips hidden folders, node_modules, skipDirs and non-notes', async (t) => {
  const base = tempDir(t);
  const root = join(base, 'vault');
  for (const rel of [
    'a.md',
    'b.markdown',
    'UPPER.MD',
    'dir/c.md',
    'dir/deeper/d.md',
    '..md',
    'dir/.hidden-note.md',
    '%.md',
    '[[.md',
    'space name/x y.md',
  ]) {
    put(root, rel);
  }
  for (const rel of [
    '.git/x.md',
    '.obsidian/y.md',
    '.trash/z.md',
    'dir/.cache/w.md',
    'node_modules/pkg/readme.md',
    'dir/node_modules/r.md',
    'state/index.md',
    'notes.txt',
    'image.png',
    'dir/.notes-mcp-tmp-123-abc',
  ]) {
    put(root, rel);
  }
  mkdirSync(join(root, 'empty'));
  const found = await scanNotes(root, { ...ALL, skipDirs: [join(root, 'state')] });
  assert.deepEqual(
    found.map((n) => n.path),
    [
      '%.md',
      '..md',
      'UPPER.MD',
      '[[.md',
      'a.md',
      'b.markdown',
      'dir/.hidden-note.md',
      'dir/c.md',
      'dir/deeper/d.md',
      'space name/x y.md',
    ],
  );
  const a = found.find((n) => n.path === 'a.md')!;
  assert.equal(a.absPath, join(root, 'a.md'));
  assert.equal(a.size, '# a.md\n'.length);
  assert.ok(a.mtimeMs > 0);

  // skipDirs may also be relative, and the state folder reached through a symlinked root.
  symlinkSync(root, join(base, 'link'));
  const viaLink = await scanNotes(join(base, 'link'), { ...ALL, skipDirs: [join(root, 'state')] });
  assert.equal(viaLink.length, found.length);
  const rel = await scanNotes(root, { ...ALL, skipDirs: ['dir'] });
  assert.ok(!rel.some((n) => n.path.startsWith('dir/')));
});

test('include and exclude globs', async (t) => {
  const root = tempDir(t);
  for (const rel of ['journal/2024/a.md', 'journal/b.md', 'work/c.md', 'work/drafts/d.md', 'top.md']) put(root, rel);
  const paths = async (include: string[], exclude: string[]) =>
    (await scanNotes(root, { include, exclude })).map((n) => n.path);
  assert.deepEqual(await paths(['journal/**'], []), ['journal/2024/a.md', 'journal/b.md']);
  assert.deepEqual(await paths([], ['**/drafts/**', 'top.md']), ['journal/2024/a.md', 'journal/b.md', 'work/c.md']);
  assert.deepEqual(await paths(['*.md'], []), ['top.md']);
  assert.deepEqual(await paths(['**/*.txt'], []), [], 'only Markdown files are notes, whatever the globs');
});

test('symlinks: folders are never entered, files count only when they stay inside', async (t) => {
  const base = tempDir(t);
  const root = join(base, 'vault');
  const outside = join(base, 'outside');
  put(root, 'real/a.md');
  put(outside, 'secret.md');
  symlinkSync(outside, join(root, 'out-dir'));
  symlinkSync(join(outside, 'secret.md'), join(root, 'out.md'));
  symlinkSync(join(root, 'real'), join(root, 'alias-dir'));
  symlinkSync(join(root, 'real', 'a.md'), join(root, 'alias.md'));
  symlinkSync(root, join(root, 'real', 'loop'));
  symlinkSync(join(base, 'nowhere.md'), join(root, 'broken.md'));
  const found = await scanNotes(root, ALL);
  assert.deepEqual(
    found.map((n) => n.path),
    ['alias.md', 'real/a.md'],
  );
});

test('NFD names on disk are reported as NFC paths, once', async (t) => {
  const root = tempDir(t);
  put(root, 'Re\u0301sume\u0301/cafe\u0301.md');
  const found = await scanNotes(root, ALL);
  assert.deepEqual(
    found.map((n) => n.path),
    ['R\u00e9sum\u00e9/caf\u00e9.md'],
  );
  assert.equal(found[0]!.absPath, join(root, 'Re\u0301sume\u0301', 'cafe\u0301.md'));
  // Both spellings side by side (possible on Linux): one note.
  put(root, 'R\u00e9sum\u00e9/caf\u00e9.md');
  assert.equal((await scanNotes(root, ALL)).length, 1);
});

test('twin names in NFC and NFD: the NFC file is the note, as read_note resolves it, in either order', async (t) => {
  for (const first of ['nfc', 'nfd'] as const) {
    const root = tempDir(t);
    const write = (form: 'nfc' | 'nfd') =>
      writeFileSync(join(root, form === 'nfc' ? 'caf\u00e9.md' : 'cafe\u0301.md'), `# ${form}\n`);
    write(first);
    write(first === 'nfc' ? 'nfd' : 'nfc');
    const found = await scanNotes(root, ALL);
    assert.deepEqual(
      found.map((n) => [n.path, n.absPath]),
      [['caf\u00e9.md', join(root, 'caf\u00e9.md')]],
    );
    assert.equal((await readNote(root, 'caf\u00e9.md')).content, '# nfc\n');
  }
});

test('tldr-all: every page found', { timeout: 120_000 }, async (t) => {
  const root = unpackCorpus('tldr-all', tempDir(t));
  const expected = execFileSync('find', [root, '-name', '*.md', '-type', 'f'], { maxBuffer: 64 << 20 })
    .toString()
    .trim()
    .split('\n').length;
  const found = await scanNotes(root, ALL);
  assert.equal(found.length, expected);
  assert.ok(found.length > 38_000);
});

test("temp files a killed write left behind are removed by the indexer's scan once stale, fresh ones kept", async (t) => {
  const root = tempDir(t);
  put(root, 'a.md');
  const stale = join(root, 'dir', `${TEMP_PREFIX}4242-0123456789ab`);
  // A fresh temp of a writer that still runs (the test runner is one): kept. A dead writer's
  // temp goes at once, old or not (tests/daemon/hostile.test.ts).
  const fresh = join(root, `${TEMP_PREFIX}${process.ppid}-ba9876543210`);
  const lookalike = join(root, 'dir', 'notes-mcp-tmp-not-ours');
  put(root, `dir/${TEMP_PREFIX}4242-0123456789ab`, 'half a note');
  put(root, `${TEMP_PREFIX}${process.ppid}-ba9876543210`, 'a write in progress');
  put(root, 'dir/notes-mcp-tmp-not-ours', 'user file');
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(stale, hourAgo, hourAgo);
  utimesSync(lookalike, hourAgo, hourAgo);
  await scanNotes(root, ALL);
  assert.equal(existsSync(stale), true, 'a plain scan (doctor) deletes nothing');
  const notes = await scanNotes(root, ALL, { removeStrayTemps: true });
  assert.deepEqual(
    notes.map((n) => n.path),
    ['a.md'],
  );
  assert.equal(existsSync(stale), false, 'stale temp file removed');
  assert.equal(existsSync(fresh), true, 'a temp file of a write that may be in progress is kept');
  assert.equal(existsSync(lookalike), true, 'only our own prefix is touched');
});

test('a folder chain past PATH_MAX is skipped; the rest of the vault is scanned', async (t) => {
  // Found from outside: readdir's ENAMETOOLONG escaped the scan, so a fresh index of the vault
  // served no note at all, and an existing one never caught up with changes made while down.
  const root = join(tempDir(t), 'vault');
  put(root, 'top.md');
  put(root, 'deep/shallow.md');
  const seg = 'd'.repeat(200);
  // Made one relative step at a time (as a sync tool or a deep git checkout can): no absolute
  // path that long can be named.
  const make = `process.chdir(process.argv[1]); for (let i = 0; i < 22; i++) { require('fs').mkdirSync('${seg}'); process.chdir('${seg}'); } require('fs').writeFileSync('far.md', '# x');`;
  execFileSync(process.execPath, ['-e', make, join(root, 'deep')]);
  const notes = await scanNotes(root, ALL);
  assert.deepEqual(
    notes.map((n) => n.path),
    ['deep/shallow.md', 'top.md'],
  );
});
