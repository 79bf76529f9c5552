import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRORS, NotesError } from '../src/errors.ts';
import { REPO_ROOT } from './helpers/tmp.ts';

test('docs/errors.md lists every declared error code with its status, exit code and fix, and nothing else', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, { status: number; exit: number; fix: string }>();
  for (const m of doc.matchAll(/^\| `(NOTES_E_[A-Z0-9_]+)` \| (\d+) \| (\d+) \| .*? \| (.*) \|$/gm)) {
    rows.set(m[1]!, { status: Number(m[2]), exit: Number(m[3]), fix: m[4]! });
  }
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERRORS).sort());
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.deepEqual(rows.get(code), { status: spec.status, exit: spec.exit, fix: spec.fix }, code);
  }
});

test('messages are filled from their arguments', () => {
  const e = new NotesError('NOTES_E_STATE_LOCKED', ['/s/index/x', 42]);
  assert.equal(e.message, 'state folder /s/index/x is already in use by pid 42');
  assert.equal(e.status, 409);
});
