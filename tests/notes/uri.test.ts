import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noteUri, parseNoteUri, scanNotes } from '../../src/notes/index.ts';
import { tempDir, unpackCorpus } from '../helpers/tmp.ts';

test('noteUri encodes everything but unreserved characters and /', () => {
  assert.equal(noteUri('a/b.md'), 'note://a/b.md');
  assert.equal(noteUri('%.md'), 'note://%25.md');
  assert.equal(noteUri('[[.md'), 'note://%5B%5B.md');
  assert.equal(noteUri("dir name/it's (1)!*.md"), 'note://dir%20name/it%27s%20%281%29%21%2A.md');
  assert.equal(noteUri('c#/q?.md'), 'note://c%23/q%3F.md');
  assert.equal(noteUri('c++.md'), 'note://c%2B%2B.md');
  assert.equal(noteUri('caf\u00e9.md'), 'note://caf%C3%A9.md');
  assert.equal(noteUri('cafe\u0301.md'), 'note://caf%C3%A9.md', 'NFC before encoding');
  assert.equal(noteUri('~a_b-c.d.md'), 'note://~a_b-c.d.md');
});

test('parseNoteUri decodes exactly once and applies the path checks', () => {
  assert.equal(parseNoteUri('note://a/b.md'), 'a/b.md');
  assert.equal(parseNoteUri('NOTE://a/b.md'), 'a/b.md');
  assert.equal(parseNoteUri('note://%25.md'), '%.md');
  assert.equal(parseNoteUri('note://%252e%252e/x.md'), '%2e%2e/x.md', 'decoded once, not twice');
  assert.equal(parseNoteUri('note://Inbox/idea'), 'Inbox/idea.md');
  assert.equal(parseNoteUri('note://c#.md'), 'c#.md', 'unencoded reserved characters are literal');
  for (const bad of [
    'note://%2e%2e/x.md',
    'note://a/%2E%2E/%2E%2E/x.md',
    'note://../x.md',
    'note:///etc/passwd.md',
    'note://%2Fetc%2Fx.md',
    'note://a%5C..%5Cx.md',
    'note://x%00.md',
    'note://%E0%A4%A.md',
    'note://%',
    'note://',
    'note://.git/x.md',
    'file:///etc/x.md',
    'notes://a.md',
    'a.md',
  ]) {
    assert.equal(parseNoteUri(bad), null, bad);
  }
});

test('every file name in tldr-all round-trips through noteUri and parseNoteUri', { timeout: 120_000 }, async (t) => {
  const root = unpackCorpus('tldr-all', tempDir(t));
  const notes = await scanNotes(root, { include: [], exclude: [] });
  assert.ok(notes.length > 38_000);
  const odd = ['%.md', '!.md', '$.md', '[[.md', 'g[.md', 'c++.md', 'mklost+found.md', '..md'];
  const names = new Set(notes.map((n) => n.path.split('/').pop()));
  for (const o of odd) assert.ok(names.has(o), `corpus has ${o}`);
  for (const n of notes) {
    const uri = noteUri(n.path);
    assert.match(uri, /^note:\/\/[A-Za-z0-9\-._~/%]+$/, uri);
    assert.equal(parseNoteUri(uri), n.path, uri);
  }
});
