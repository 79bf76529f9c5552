import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { TokenStore } from '../../src/auth/tokens.ts';
import { connectV1, connectV2, startTestDaemon, TEST_TOKEN } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request, so headers (Host, Origin) are exactly what the test says. */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; path?: string },
): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: opts.path ?? u.pathname,
        method: opts.method ?? 'POST',
        headers: opts.headers,
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function vault(t: { after: (fn: () => unknown) => void }): string {
  const notes = tempDir(t, 'notes-mcp-sec-');
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n', 'sub/b.md': '# B\n\nbeta\n' });
  return notes;
}

test('auth, scope, Host and Origin negatives', async (t) => {
  const d = await startTestDaemon(t, vault(t));
  const auth = { Authorization: `Bearer ${TEST_TOKEN}` };

  const none = await raw(d.url, { headers: JSON_HEADERS, body: INIT });
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Bearer/);
  const bad = await raw(d.url, { headers: { ...JSON_HEADERS, Authorization: 'Bearer wrong-token' }, body: INIT });
  assert.equal(bad.status, 401);
  assert.match(String(bad.headers['www-authenticate']), /invalid_token/);
  const inQuery = await raw(d.url, { path: `/mcp?access_token=${TEST_TOKEN}`, headers: JSON_HEADERS, body: INIT });
  assert.equal(inQuery.status, 400, 'tokens in the URL are refused');
  // No OAuth discovery metadata is published (clients would then ignore the static header).
  assert.equal((await raw(d.url, { method: 'GET', path: '/.well-known/oauth-protected-resource' })).status, 404);

  const evilHost = await raw(d.url, { headers: { ...JSON_HEADERS, ...auth, Host: 'evil.example' }, body: INIT });
  assert.equal(evilHost.status, 403);
  const evilOrigin = await raw(d.url, {
    headers: { ...JSON_HEADERS, ...auth, Origin: 'https://evil.example' },
    body: INIT,
  });
  assert.equal(evilOrigin.status, 403);
  const ok = await raw(d.url, { headers: { ...JSON_HEADERS, ...auth, Origin: 'http://localhost:6274' }, body: INIT });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], 'http://localhost:6274');
  assert.match(String(ok.headers['access-control-expose-headers']), /mcp-session-id/);
  assert.equal(ok.headers['x-accel-buffering'], 'no');

  const preflight = await raw(d.url, {
    method: 'OPTIONS',
    headers: { Origin: 'http://localhost:6274', 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(preflight.status, 204);
  assert.match(String(preflight.headers['access-control-allow-headers']), /mcp-protocol-version/);
  const badPreflight = await raw(d.url, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } });
  assert.equal(badPreflight.status, 403);

  // A read token can search but not write, over both revisions: it is not shown the write
  // tools, and calling one anyway is an isError result naming the scope (the README promises
  // isError results; an HTTP 403 made the SDK clients throw). Revocation is immediate.
  const store = new TokenStore(d.index.config.tokenStoreFile);
  const reader = store.create('reader', 'read');
  const c = await connectV1(t, d.url, reader.token);
  const listed = (await c.listTools()).tools.map((x) => x.name).sort();
  const READ_TOOLS = ['list_notes', 'note_history', 'read_note', 'related_notes', 'search_notes'];
  assert.deepEqual(listed, READ_TOOLS);
  const s = await c.callTool({ name: 'search_notes', arguments: { query: 'alpha' } });
  assert.ok(!s.isError);
  for (const [name, args] of [
    ['write_note', { path: 'x.md', content: 'x' }],
    ['reindex', {}],
    ['edit_note', { path: 'a.md', operations: [{ op: 'append', text: 'x' }] }],
    ['move_note', { from: 'a.md', to: 'x.md' }],
    ['delete_note', { path: 'a.md' }],
    ['restore_note', { path: 'a.md' }],
  ] as const) {
    const w = await c.callTool({ name, arguments: args });
    assert.equal(w.isError, true, name);
    assert.match(JSON.stringify(w.content), /scope \\"write\\"/);
  }
  assert.equal(existsSync(join(d.index.config.notesDir, 'x.md')), false);
  store.revoke(reader.record.id);
  await assert.rejects(c.callTool({ name: 'search_notes', arguments: { query: 'alpha' } }), /401|nauthorized|invalid/);

  // The 2026 lane enforces the same scope, the same way.
  const reader2 = store.create('reader2', 'read');
  const c2 = await connectV2(t, d.url, reader2.token);
  assert.deepEqual((await c2.listTools()).tools.map((x) => x.name).sort(), READ_TOOLS);
  const w2 = await c2.callTool({ name: 'write_note', arguments: { path: 'y.md', content: 'y' } });
  assert.equal(w2.isError, true);
  assert.match(JSON.stringify(w2.content), /scope \\"write\\"/);
  assert.equal(existsSync(join(d.index.config.notesDir, 'y.md')), false);
  // A write token still sees and calls everything.
  const writer = await connectV2(t, d.url);
  assert.equal((await writer.listTools()).tools.length, 11);
});

test('body limit, batches and rate limit', async (t) => {
  const d = await startTestDaemon(t, vault(t), { maxBodyBytes: 4096, rateLimitPerMinute: 20 });
  const headers = { ...JSON_HEADERS, Authorization: `Bearer ${TEST_TOKEN}` };
  const big = await raw(d.url, {
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { x: 'y'.repeat(10_000) } }),
  });
  assert.equal(big.status, 413);
  const batch = await raw(d.url, { headers, body: JSON.stringify([JSON.parse(INIT)]) });
  assert.equal(batch.status, 400);
  assert.match(batch.body, /batches are not supported/);
  let limited: Raw | undefined;
  for (let i = 0; i < 40 && !limited; i++) {
    const r = await raw(d.url, { headers, body: INIT });
    if (r.status === 429) limited = r;
  }
  assert.ok(limited, 'the per-token rate limit answers 429');
  assert.ok(limited.headers['retry-after']);
});

test('path escapes are rejected by write_note, read_note and note:// URIs; nothing lands outside the root', async (t) => {
  const base = tempDir(t, 'notes-mcp-escape-');
  const notes = join(base, 'notes');
  const outside = join(base, 'outside');
  mkdirSync(outside);
  writeNotes(notes, { 'a.md': '# A\n' });
  writeFileSync(join(outside, 'secret.md'), 'secret\n');
  symlinkSync(outside, join(notes, 'link-out'));
  symlinkSync(join(outside, 'secret.md'), join(notes, 'secret-link.md'));
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);

  const attempts = [
    '../x.md',
    'a/../../x.md',
    '/etc/x.md',
    '/tmp/x.md',
    'a\\..\\..\\x.md',
    '..\\x.md',
    'C:\\x.md',
    'x\u0000.md',
    'link-out/x.md',
    'link-out/secret.md',
    'secret-link.md',
    '.git/config.md',
    'note://../x.md',
    'note://%2e%2e/x.md',
    'note://a%2F..%2F..%2Fx.md',
  ];
  for (const p of attempts) {
    const w = await c.callTool({ name: 'write_note', arguments: { path: p, content: 'pwned', mode: 'overwrite' } });
    assert.equal(w.isError, true, `write ${JSON.stringify(p)} must fail`);
    assert.doesNotMatch(JSON.stringify(w.content), /at .*\.js:\d+/, 'no stack traces');
    const r = await c.callTool({ name: 'read_note', arguments: p.startsWith('note:') ? { uri: p } : { path: p } });
    assert.equal(r.isError, true, `read ${JSON.stringify(p)} must fail`);
    assert.doesNotMatch(JSON.stringify(r.content), /secret\n/);
  }
  for (const uri of [
    'note://../x.md',
    'note://%2e%2e/outside/secret.md',
    'note://link-out/secret.md',
    'note://secret-link.md',
  ]) {
    await assert.rejects(c.readResource({ uri }), uri);
  }
  // Plain paths are literal (`%.md` is a real note name): this one stays inside the root.
  const literal = await c.callTool({ name: 'write_note', arguments: { path: '%2e%2e/x.md', content: 'fine' } });
  assert.ok(!literal.isError, JSON.stringify(literal.content));
  assert.equal(existsSync(join(notes, '%2e%2e', 'x.md')), true);
  assert.deepEqual(readdirSync(outside), ['secret.md'], 'nothing written outside the notes folder');
  assert.deepEqual(readdirSync(base).sort(), ['notes', 'outside']);
  assert.equal(existsSync('/tmp/x.md'), false);
});

test('path escapes are rejected by every tool that edits, moves, deletes, restores or lists history', async (t) => {
  const base = tempDir(t, 'notes-mcp-escape-');
  const notes = join(base, 'notes');
  const outside = join(base, 'outside');
  mkdirSync(outside);
  writeNotes(notes, { 'a.md': '# A\n\nSee [secret](../outside/secret.md) and [[secret]].\n' });
  writeFileSync(join(outside, 'secret.md'), 'secret\n');
  symlinkSync(outside, join(notes, 'link-out'));
  symlinkSync(join(outside, 'secret.md'), join(notes, 'secret-link.md'));
  symlinkSync(join(notes, 'a.md'), join(notes, 'inner-link.md'));
  const d = await startTestDaemon(t, notes);
  const c = await connectV1(t, d.url);
  const attempts = [
    '../x.md',
    'a/../../x.md',
    '/etc/x.md',
    '/tmp/x.md',
    'a\\..\\..\\x.md',
    'C:\\x.md',
    'x\u0000.md',
    'link-out/x.md',
    'link-out/secret.md',
    'secret-link.md',
    '.git/config.md',
    'note://../x.md',
    'note://%2e%2e/x.md',
    'note://a%2F..%2F..%2Fx.md',
  ];
  const calls = (p: string): Array<[string, Record<string, unknown>]> => [
    ['edit_note', { path: p, operations: [{ op: 'append', text: 'pwned' }] }],
    ['move_note', { from: p, to: 'moved.md' }],
    ['move_note', { from: 'a.md', to: p }],
    ['delete_note', { path: p }],
    ['restore_note', { path: p }],
    ['note_history', { path: p }],
    ['related_notes', p.startsWith('note:') ? { uri: p } : { path: p }],
  ];
  for (const p of attempts) {
    for (const [name, args] of calls(p)) {
      const r = await c.callTool({ name, arguments: args });
      assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} must fail`);
      assert.doesNotMatch(JSON.stringify(r.content), /at .*\.js:\d+|secret\\n/, 'no stack traces, no outside text');
    }
  }
  // A symbolic link inside the root is refused by move and delete (it would move the link, not the note).
  for (const [name, args] of [
    ['move_note', { from: 'inner-link.md', to: 'moved.md' }],
    ['delete_note', { path: 'inner-link.md' }],
  ] as const) {
    const r = await c.callTool({ name, arguments: args });
    assert.equal(r.isError, true, name);
    assert.match(JSON.stringify(r.content), /symbolic link/);
  }
  // A link leading out of the notes folder resolves to nothing, and a move never follows it.
  const read = await c.callTool({ name: 'read_note', arguments: { path: 'a.md' } });
  const links = (read.structuredContent as { links: Array<{ status: string }> }).links;
  assert.deepEqual(
    links.map((l) => l.status),
    ['unresolved', 'unresolved'],
  );
  const moved = await c.callTool({ name: 'move_note', arguments: { from: 'a.md', to: 'deep/er/a.md' } });
  assert.notEqual(moved.isError, true, JSON.stringify(moved.content));
  assert.deepEqual(readdirSync(outside), ['secret.md'], 'nothing written outside the notes folder');
  assert.deepEqual(readdirSync(base).sort(), ['notes', 'outside']);
  assert.equal(existsSync('/tmp/x.md'), false);
  assert.equal(existsSync(join(notes, 'moved.md')), false);
  const h = await c.callTool({ name: 'note_history', arguments: {} });
  assert.deepEqual(
    (h.structuredContent as { changes: Array<{ tool: string; path: string }> }).changes.map((x) => [x.tool, x.path]),
    [['move_note', 'a.md']],
    'only the one real change is in the history',
  );
});

test('every HTTP refusal has one body shape: a JSON-RPC error naming a declared code, with its declared status', async (t) => {
  const { ERRORS } = await import('../../src/errors.ts');
  const d = await startTestDaemon(t, vault(t), { maxBodyBytes: 4096 });
  const auth = { Authorization: `Bearer ${TEST_TOKEN}` };
  const cases: Array<[string, Promise<Raw>, string]> = [
    ['no token', raw(d.url, { headers: JSON_HEADERS, body: INIT }), 'NOTES_E_AUTH_MISSING'],
    [
      'bad token',
      raw(d.url, { headers: { ...JSON_HEADERS, Authorization: 'Bearer nope' }, body: INIT }),
      'NOTES_E_AUTH_INVALID',
    ],
    [
      'evil Host',
      raw(d.url, { headers: { ...JSON_HEADERS, ...auth, Host: 'evil.example' }, body: INIT }),
      'NOTES_E_HOST_DENIED',
    ],
    [
      'evil Origin',
      raw(d.url, { headers: { ...JSON_HEADERS, ...auth, Origin: 'https://evil.example' }, body: INIT }),
      'NOTES_E_ORIGIN_DENIED',
    ],
    [
      'token in URL',
      raw(d.url, { path: `/mcp?token=${TEST_TOKEN}`, headers: JSON_HEADERS, body: INIT }),
      'NOTES_E_USAGE',
    ],
    ['batch', raw(d.url, { headers: { ...JSON_HEADERS, ...auth }, body: `[${INIT}]` }), 'NOTES_E_BATCH_UNSUPPORTED'],
    ['bad JSON', raw(d.url, { headers: { ...JSON_HEADERS, ...auth }, body: '{"jsonrpc":' }), 'NOTES_E_JSON_INVALID'],
    [
      'too large',
      raw(d.url, { headers: { ...JSON_HEADERS, ...auth }, body: JSON.stringify({ x: 'y'.repeat(10_000) }) }),
      'NOTES_E_BODY_TOO_LARGE',
    ],
    [
      'PUT /mcp',
      raw(d.url, { method: 'PUT', headers: { ...JSON_HEADERS, ...auth }, body: INIT }),
      'NOTES_E_METHOD_NOT_ALLOWED',
    ],
    [
      'unknown session stream',
      raw(d.url, { method: 'GET', headers: { ...auth, accept: 'text/event-stream', 'mcp-session-id': 'nope' } }),
      'NOTES_E_SESSION_NOT_FOUND',
    ],
    [
      'GET without session',
      raw(d.url, { method: 'GET', headers: { ...auth, accept: 'text/event-stream' } }),
      'NOTES_E_SESSION_REQUIRED',
    ],
    ['unknown route', raw(d.url, { method: 'GET', path: '/nope', headers: {} }), 'NOTES_E_ROUTE_NOT_FOUND'],
  ];
  for (const [what, p, code] of cases) {
    const r = await p;
    const spec = ERRORS[code as keyof typeof ERRORS];
    assert.equal(r.status, spec.status, `${what}: status`);
    const body = JSON.parse(r.body) as {
      jsonrpc: string;
      id: null;
      error: { code: number; message: string; data: { code: string; status: number; fix: string } };
    };
    assert.equal(body.jsonrpc, '2.0', what);
    assert.equal(body.id, null, what);
    assert.equal(body.error.data.code, code, what);
    assert.equal(body.error.data.status, spec.status, what);
    assert.equal(body.error.code, spec.rpc, what);
    assert.equal(body.error.data.fix, spec.fix, what);
    assert.ok(body.error.message.length > 0, what);
  }
  const put = await raw(d.url, { method: 'PUT', headers: { ...JSON_HEADERS, ...auth }, body: INIT });
  assert.match(String(put.headers.allow), /POST/);
});

test('a token the server cannot check (tokens.json damaged) is 503, not "invalid or revoked"', async (t) => {
  const d = await startTestDaemon(t, vault(t));
  const store = new TokenStore(d.index.config.tokenStoreFile);
  const stored = store.create('laptop', 'write');
  const auth = (token: string) => ({ ...JSON_HEADERS, Authorization: `Bearer ${token}` });
  assert.equal((await raw(d.url, { headers: auth(stored.token), body: INIT })).status, 200);
  const good = readFileSync(d.index.config.tokenStoreFile, 'utf8');
  // A 401 tells a client its token is wrong: hosts drop it or ask the person for a new one,
  // though the token is fine and the fault is on the server.
  writeFileSync(d.index.config.tokenStoreFile, '{"version":1,"tokens":[{"id":');
  const broken = await raw(d.url, { headers: auth(stored.token), body: INIT });
  assert.equal(broken.status, 503);
  assert.match(broken.body, /NOTES_E_TOKEN_STORE_UNREADABLE/);
  assert.equal(broken.headers['www-authenticate'], undefined);
  // The token from the environment is checked without the file.
  assert.equal((await raw(d.url, { headers: auth(TEST_TOKEN), body: INIT })).status, 200);
  // Repaired: the stored token works again, and a wrong one is 401 as before.
  writeFileSync(d.index.config.tokenStoreFile, good);
  assert.equal((await raw(d.url, { headers: auth(stored.token), body: INIT })).status, 200);
  assert.equal((await raw(d.url, { headers: auth('wrong-token'), body: INIT })).status, 401);
});
