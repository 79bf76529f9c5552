import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowedHostnames, bearerToken, checkHost, checkOrigin, hostnameOf } from '../../src/auth/guards.ts';

test('hostnameOf strips ports and lower-cases, rejects junk', () => {
  assert.equal(hostnameOf('LocalHost:8765'), 'localhost');
  assert.equal(hostnameOf('[::1]:80'), '[::1]');
  assert.equal(hostnameOf('notes.example.com'), 'notes.example.com');
  assert.equal(hostnameOf('evil.com@good.com'), undefined);
  assert.equal(hostnameOf('[::1]x'), undefined);
  assert.equal(hostnameOf(''), undefined);
});

test('Host check: loopback and configured names pass, others are 403', () => {
  const allowed = allowedHostnames('127.0.0.1', ['notes.example.com', 'https://other.example/']);
  for (const h of [
    '127.0.0.1:8765',
    'localhost',
    'LOCALHOST:1',
    '[::1]:8765',
    'notes.example.com',
    'other.example:443',
  ]) {
    assert.deepEqual(checkHost(h, allowed), { ok: true }, h);
  }
  for (const h of ['evil.example', 'notes.example.com.evil.example', '127.0.0.2', '0.0.0.0']) {
    const r = checkHost(h, allowed);
    assert.equal(r.ok, false, h);
    if (!r.ok) assert.equal(r.status, 403);
  }
  const missing = checkHost(undefined, allowed);
  assert.equal(missing.ok, false);
});

test('binding to all interfaces does not allow every Host', () => {
  const allowed = allowedHostnames('0.0.0.0', []);
  assert.equal(checkHost('0.0.0.0:8765', allowed).ok, false);
  assert.equal(checkHost('192.168.1.5', allowed).ok, false);
  assert.equal(checkHost('localhost', allowed).ok, true);
});

test('Origin check: absent passes, loopback passes, foreign and null are 403', () => {
  assert.equal(checkOrigin(undefined, []).ok, true);
  assert.equal(checkOrigin('http://localhost:6274', []).ok, true);
  assert.equal(checkOrigin('http://127.0.0.1:3000', []).ok, true);
  assert.equal(checkOrigin('https://evil.example', []).ok, false);
  assert.equal(checkOrigin('null', []).ok, false);
  assert.equal(checkOrigin('file://', []).ok, false);
  assert.equal(checkOrigin('not a url', []).ok, false);
  assert.equal(checkOrigin('https://app.example.com', ['https://app.example.com']).ok, true);
  assert.equal(checkOrigin('https://app.example.com', ['app.example.com']).ok, true);
  assert.equal(checkOrigin('http://app.example.com', ['https://app.example.com']).ok, false);
});

test('bearer tokens only from a well-formed Authorization header', () => {
  assert.equal(bearerToken('Bearer abc.def-123'), 'abc.def-123');
  assert.equal(bearerToken('bearer   abc'), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken('Bearer'), undefined);
  assert.equal(bearerToken('Bearer a b'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});
