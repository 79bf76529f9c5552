import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';

// Folders the daemon's user may not write: the notes layer run as `nobody` (root writes
// anywhere), over files root prepared. Found from outside: restore_note said "internal error"
// though the note was back (the trashed copy could not be removed), and a move whose old name
// could not be removed left the note under both names while reporting failure.

const NOBODY = 65534;

test('a restore is done once the note is back; a move that cannot remove the old name moves nothing', {
  skip: process.getuid?.() !== 0 ? 'needs root, to run the notes layer as nobody' : false,
}, (t) => {
  const base = tempDir(t);
  chmodSync(base, 0o755);
  const notes = join(base, 'notes');
  const trash = join(base, 'trash');
  mkdirSync(join(notes, 'ro'), { recursive: true });
  mkdirSync(trash);
  writeFileSync(join(trash, 't.md'), '# Trashed\n');
  writeFileSync(join(notes, 'ro', 'x.md'), '# X\n');
  for (const p of [notes, join(notes, 'ro'), trash, join(trash, 't.md'), join(notes, 'ro', 'x.md')]) {
    chownSync(p, NOBODY, NOBODY);
  }
  chmodSync(trash, 0o555);
  chmodSync(join(notes, 'ro'), 0o555);
  const lib = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'notes', 'index.js')).href;
  const script = `
    const { untrashNote, moveNote } = await import(${JSON.stringify(lib)});
    // Loaded as root (a clone in a 0700 folder is out of nobody's reach), then run as nobody.
    process.setgid(${NOBODY});
    process.setuid(${NOBODY});
    const out = {};
    try { out.restore = await untrashNote(${JSON.stringify(notes)}, 'back.md', ${JSON.stringify(join(trash, 't.md'))}); }
    catch (e) { out.restore = { error: e.code ?? e.message }; }
    try { out.move = await moveNote(${JSON.stringify(notes)}, 'ro/x.md', 'moved.md'); }
    catch (e) { out.move = { error: e.code ?? e.message }; }
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    }),
  ) as { restore: { path?: string; error?: string }; move: { error?: string } };
  assert.equal(out.restore.path, 'back.md', JSON.stringify(out.restore));
  assert.equal(existsSync(join(notes, 'back.md')), true);
  assert.equal(out.move.error, 'NOTES_E_WRITE_FAILED', JSON.stringify(out.move));
  assert.equal(existsSync(join(notes, 'moved.md')), false, 'an error means nothing moved');
  assert.equal(existsSync(join(notes, 'ro', 'x.md')), true);
});
