import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenStore } from '../../src/auth/tokens.ts';
import { isNotesError } from '../../src/errors.ts';
import { tempDir } from '../helpers/tmp.ts';

test('tokens are stored hashed, verified by digest, revocable at once', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'tokens.json');
  const store = new TokenStore(file);
  assert.equal(store.hasAny(), false);
  const a = store.create('laptop', 'write');
  const b = store.create('reader', 'read');
  assert.match(a.token, /^nmcp_[A-Za-z0-9_-]{43}$/);
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes(a.token) && !text.includes(b.token), 'plaintext token must not be stored');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(store.verify(a.token), { id: a.record.id, name: 'laptop', scope: 'write' });
  assert.equal(store.verify(b.token)?.scope, 'read');
  assert.equal(store.verify(`${a.token}x`), undefined);
  assert.equal(store.verify(''), undefined);

  // A second store (another process: the CLI) revokes; the first sees it on the next check.
  new TokenStore(file).revoke('laptop');
  assert.equal(store.verify(a.token), undefined);
  assert.equal(store.verify(b.token)?.id, b.record.id);
  assert.throws(
    () => store.revoke('nope'),
    (e: unknown) => isNotesError(e, 'NOTES_E_TOKEN_NOT_FOUND'),
  );
});

test('the extra token from the environment has write scope', (t) => {
  const dir = tempDir(t);
  const store = new TokenStore(join(dir, 'tokens.json'), 'env-token-0123456789');
  assert.equal(store.hasAny(), true);
  assert.equal(store.verify('env-token-0123456789')?.scope, 'write');
  assert.equal(store.verify('env-token-012345678'), undefined);
});

test('a corrupt token file is a clear error, not a crash', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'tokens.json');
  writeFileSync(file, '{"version":1,"tokens":[{"id":"x"}]}');
  // Commands that manage tokens stop with the code; a request being checked is refused (no
  // token matches) and the operator hears about it once, not once per request.
  assert.throws(
    () => new TokenStore(file).list(),
    (e: unknown) => isNotesError(e, 'NOTES_E_STATE_CORRUPT'),
  );
  const reported: unknown[] = [];
  const store = new TokenStore(file, 'env-token-0123456789', (e) => reported.push(e));
  assert.equal(store.verify('abc'), undefined);
  assert.equal(store.verify('abc'), undefined);
  assert.equal(store.verify('env-token-0123456789')?.id, 'env');
  assert.equal(reported.length, 1);
  assert.ok(isNotesError(reported[0], 'NOTES_E_STATE_CORRUPT'));
  // A refused token may be a good one the server cannot check: the HTTP layer asks this.
  assert.equal(store.unreadable(), true);
  writeFileSync(file, '{"version":1,"tokens":[]}');
  assert.equal(store.verify('abc'), undefined);
  assert.equal(store.unreadable(), false);
});
