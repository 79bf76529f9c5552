import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkNotePathSyntax, resolveNotePath } from '../../src/notes/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const ACCEPTED: [string, string][] = [
  ['a.md', 'a.md'],
  ['folder/sub/note.md', 'folder/sub/note.md'],
  ['Notes.MARKDOWN', 'Notes.MARKDOWN'],
  ['%.md', '%.md'],
  ['%2e%2e/x.md', '%2e%2e/x.md'], // plain paths are never decoded: a folder literally named so
  ['[[.md', '[[.md'],
  ['c++.md', 'c++.md'],
  ['..md', '..md'], // tldr's page for `.`; a hidden-looking note name, not a folder
  ['.hidden.md', '.hidden.md'],
  ['a..b.md', 'a..b.md'],
  ['with space/and #hash?.md', 'with space/and #hash?.md'],
  ['Inbox/idea', 'Inbox/idea.md'],
  ['2024.01.05', '2024.01.05.md'],
  ['e\u0301te\u0301.md', '\u00e9t\u00e9.md'], // NFD in, NFC out
  ['日本語/ノート.md', '日本語/ノート.md'],
];

const REJECTED: [string, RegExp][] = [
  ['', /empty/],
  ['   ', /empty/],
  ['/etc/passwd.md', /absolute/],
  ['/x', /absolute/],
  ['C:\\x.md', /backslash/],
  ['C:/x.md', /absolute/],
  ['\\\\server\\share\\x.md', /backslash/],
  ['a\\..\\x.md', /backslash/],
  ['../x.md', /'\.\.'/],
  ['a/../../x.md', /'\.\.'/],
  ['a/../b.md', /'\.\.'/],
  ['./a.md', /'\.'/],
  ['a/./b.md', /'\.'/],
  ['..', /'\.\.'/],
  ['a//b.md', /'\/\/'/],
  ['a/', /folder/],
  ['x\0.md', /NUL/],
  ['x\n.md', /control/],
  ['x\u001b.md', /control/],
  ['x\u007f.md', /control/],
  ['.git/config.md', /hidden folder/],
  ['notes/.obsidian/x.md', /hidden folder/],
  ['.trash/old.md', /hidden folder/],
  ['photo.png', /Markdown/],
  ['.env', /Markdown/],
  ['x.txt', /Markdown/],
  [`${'a'.repeat(256)}.md`, /255 bytes/],
  [`${'é'.repeat(127)}.md`, /255 bytes/],
  ['a/'.repeat(600), /longer than/],
];

test('checkNotePathSyntax accepts real note names and returns NFC paths', () => {
  for (const [input, rel] of ACCEPTED) {
    const r = checkNotePathSyntax(input);
    assert.ok(r.ok, `${JSON.stringify(input)} accepted: ${r.ok ? '' : r.reason}`);
    assert.equal(r.rel, rel);
    assert.deepEqual(checkNotePathSyntax(input, { forWrite: true }), r, 'reads and writes agree');
  }
});

test('checkNotePathSyntax rejects escapes and non-notes with a reason', () => {
  for (const [input, reason] of REJECTED) {
    for (const forWrite of [false, true]) {
      const r = checkNotePathSyntax(input, { forWrite });
      assert.equal(r.ok, false, `${JSON.stringify(input)} rejected`);
      if (!r.ok) {
        assert.equal(r.code, 'NOTES_E_PATH_INVALID');
        assert.match(r.reason, reason, JSON.stringify(input));
      }
    }
  }
});

function layout(t: { after: (fn: () => void) => void }) {
  const base = tempDir(t);
  const root = join(base, 'notes');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'inner'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'inner', 'a.md'), 'a');
  writeFileSync(join(outside, 'secret.md'), 'secret');
  symlinkSync(outside, join(root, 'out-dir'));
  symlinkSync(join(outside, 'secret.md'), join(root, 'out-file.md'));
  symlinkSync(join(root, 'inner'), join(root, 'in-dir'));
  symlinkSync(join(root, 'inner', 'a.md'), join(root, 'in-file.md'));
  symlinkSync(join(base, 'missing.md'), join(root, 'dangling.md'));
  writeFileSync(join(root, 'file.md'), 'f');
  mkdirSync(join(root, 'dir.md'));
  return { base, root, outside };
}

test('resolveNotePath follows symlinks and refuses what lands outside the root', async (t) => {
  const { root, base } = layout(t);
  const cases: [string, boolean, 'ok' | 'NOTES_E_PATH_OUTSIDE' | 'NOTES_E_PATH_INVALID'][] = [
    ['inner/a.md', false, 'ok'],
    ['inner/new.md', true, 'ok'],
    ['new/deep/x.md', true, 'ok'],
    ['in-dir/a.md', false, 'ok'],
    ['in-file.md', false, 'ok'],
    ['out-dir/secret.md', false, 'NOTES_E_PATH_OUTSIDE'],
    ['out-dir/new.md', true, 'NOTES_E_PATH_OUTSIDE'],
    ['out-dir/deeper/new.md', true, 'NOTES_E_PATH_OUTSIDE'],
    ['out-file.md', false, 'NOTES_E_PATH_OUTSIDE'],
    ['out-file.md', true, 'NOTES_E_PATH_OUTSIDE'],
    ['dangling.md', true, 'NOTES_E_PATH_OUTSIDE'],
    ['file.md/x.md', true, 'NOTES_E_PATH_INVALID'],
    ['dir.md', false, 'NOTES_E_PATH_INVALID'],
    ['../outside/secret.md', false, 'NOTES_E_PATH_INVALID'],
  ];
  for (const [input, forWrite, expected] of cases) {
    const r = await resolveNotePath(root, input, { forWrite });
    if (expected === 'ok') {
      assert.ok(r.ok, `${input}: ${r.ok ? '' : r.reason}`);
      assert.ok(r.abs.startsWith(root));
    } else {
      assert.equal(r.ok, false, `${input} refused`);
      if (!r.ok) assert.equal(r.code, expected, `${input}: ${r.reason}`);
    }
  }
  // The root itself may be reached through a symlink.
  symlinkSync(root, join(base, 'root-link'));
  const via = await resolveNotePath(join(base, 'root-link'), 'inner/a.md');
  assert.ok(via.ok);
  const missing = await resolveNotePath(join(base, 'nope'), 'a.md');
  assert.equal(missing.ok, false);
});

test('NFC and NFD spellings of a name find the same file', async (t) => {
  const root = tempDir(t);
  const nfdDir = 'Re\u0301sume\u0301'; // as macOS may store it
  mkdirSync(join(root, nfdDir));
  writeFileSync(join(root, nfdDir, 'cafe\u0301.md'), 'x');
  for (const input of [
    'R\u00e9sum\u00e9/caf\u00e9.md',
    'Re\u0301sume\u0301/cafe\u0301.md',
    'R\u00e9sum\u00e9/cafe\u0301.md',
  ]) {
    const r = await resolveNotePath(root, input);
    assert.ok(r.ok, input);
    assert.equal(r.rel, 'R\u00e9sum\u00e9/caf\u00e9.md', 'identity is NFC');
    assert.equal(r.abs, join(root, nfdDir, 'cafe\u0301.md'), 'abs is the disk spelling');
  }
  const created = await resolveNotePath(root, 'R\u00e9sum\u00e9/new.md', { forWrite: true });
  assert.ok(created.ok);
  assert.equal(created.abs, join(root, nfdDir, 'new.md'), 'a new note goes into the existing folder');
});
