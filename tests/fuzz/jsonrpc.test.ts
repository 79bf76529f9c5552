import assert from 'node:assert/strict';
import { request } from 'node:http';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { ERRORS } from '../../src/errors.ts';
import { connectV1, startTestDaemon, TEST_TOKEN } from '../helpers/daemon.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';
import { hostileJson, hostileNumber, hostileString, leaks, SEED } from './arbitraries.ts';

// Raw HTTP at /mcp: random methods, ids, params, nesting, bodies and headers, on fresh
// connections. Whatever arrives, the daemon answers below 500, with either the one refusal
// shape of src/http/refuse.ts (its declared code and status) or a JSON-RPC answer, and shows
// no stack frame or server path.

const RUNS = 1000;

const METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
  'server/discover',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  '__proto__',
  'constructor',
  'tools/call/',
  '',
];
const TOOLS = ['search_notes', 'read_note', 'write_note', 'list_notes', 'reindex', 'edit_note', 'nope', '__proto__'];
const VERSIONS = ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '1999-01-01', 'latest', ''];

const Refusal = z
  .object({
    jsonrpc: z.literal('2.0'),
    id: z.null(),
    error: z
      .object({
        code: z.number().int(),
        message: z.string(),
        data: z.object({ code: z.string(), status: z.number().int(), fix: z.string() }).strict(),
      })
      .strict(),
  })
  .strict();
const Id = z.union([z.string(), z.number(), z.null()]);
const RpcError = z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() });
const Response = z.union([
  z.object({ jsonrpc: z.literal('2.0'), id: Id, result: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ jsonrpc: z.literal('2.0'), id: Id, error: RpcError }).strict(),
]);
// What an event stream may carry besides responses: notifications and requests to the client.
const Message = z.union([
  Response,
  z.object({ jsonrpc: z.literal('2.0'), method: z.string(), params: z.unknown().optional(), id: Id.optional() }),
]);

interface Answer {
  status: number;
  type: string;
  body: string;
}

const HUGE = '<a body of 4,300,000 bytes>';
const hugeBody = () => `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"${'z'.repeat(4_300_000)}"}}`;

/** One request on its own connection; an event stream is read for at most `streamMs`. */
function send(
  port: number,
  r: { method: string; path: string; headers: Record<string, string>; body: string | undefined },
  streamMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = r.body === HUGE ? hugeBody() : r.body;
    const headers = { ...r.headers };
    // Well framed, so the daemon (not Node's HTTP parser) answers: Node sends a GET or DELETE
    // body with neither a length nor chunks unless told.
    if (body !== undefined && headers['transfer-encoding'] === undefined && headers['content-length'] === undefined)
      headers['content-length'] = String(Buffer.byteLength(body));
    const req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent: false });
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer in 15 s to ${r.method} ${r.path}`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Refused before the body arrived, the server closes the connection (refuse.ts) and the
      // rest of a large body cannot be written: a cut, seen as status 0.
      if (r.body === HUGE && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
        resolve({ status: 0, type: '', body: '' });
      else reject(err);
    });
    req.on('response', (res) => {
      const type = String(res.headers['content-type'] ?? '');
      let body = '';
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        res.destroy();
        resolve({ status: res.statusCode ?? 0, type, body });
      };
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
      if (type.startsWith('text/event-stream')) timer = setTimeout(done, streamMs);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** `{"a":{"a":...}}` or `[[...]]`, `depth` levels. */
function nested(depth: number, array: boolean): string {
  return array ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function arbitraries(sessionId: string) {
  const headerText = fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ''));
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
  const id = fc.oneof(
    fc.integer(),
    fc.string({ maxLength: 20 }),
    fc.constant(null),
    hostileNumber,
    hostileString(20),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const params = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    hostileJson,
    fc.record(
      {
        name: fc.oneof(fc.constantFrom(...TOOLS), hostileString(20)),
        arguments: opt(hostileJson),
        _meta: opt(hostileJson),
      },
      { requiredKeys: ['name'] },
    ),
    fc.record({
      uri: fc.oneof(
        hostileString(60),
        hostileString(40).map((s) => `note://${s}`),
      ),
    }),
    fc.record({
      protocolVersion: fc.oneof(fc.constantFrom(...VERSIONS), hostileString(20)),
      capabilities: fc.oneof(fc.constant({}), hostileJson),
      clientInfo: fc.oneof(fc.constant({ name: 'fuzz', version: '1' }), hostileJson),
    }),
    fc.record({
      notifications: fc.oneof(
        hostileJson,
        fc.record(
          {
            resourcesListChanged: fc.oneof(fc.boolean(), hostileJson),
            resourceSubscriptions: fc.array(fc.oneof(hostileString(30), fc.constant('note://a.md')), { maxLength: 5 }),
          },
          { requiredKeys: [] },
        ),
      ),
      _meta: opt(hostileJson),
    }),
  );
  const message = fc.record(
    {
      jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: hostileJson }),
      id,
      method: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...METHODS) },
        { weight: 1, arbitrary: hostileString(30) },
      ),
      params,
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    { weight: 10, arbitrary: message.map((m) => JSON.stringify(m)) },
    { weight: 1, arbitrary: fc.array(message, { maxLength: 3 }).map((m) => JSON.stringify(m)) },
    { weight: 1, arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? 'null') },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 30, max: 6000 }), fc.boolean())
        .map(
          ([n, arr]) =>
            `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_notes","arguments":${nested(n, arr)}}}`,
        ),
    },
    { weight: 1, arbitrary: hostileString(60) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '{"jsonrpc":"2.0",',
        'null',
        '[]',
        '"x"',
        '1e999',
        '\u0000',
        '{"__proto__":{"x":1}}',
      ),
    },
    // Just past the 4 MiB limit; written out when sent, so a counterexample prints short.
    { weight: 1, arbitrary: fc.constant(HUGE) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  // Each header present about as often as a real client would send it, absent otherwise.
  const sometimes = <T>(a: fc.Arbitrary<T>, present: number, absent: number) =>
    fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary: a });
  const headers = fc
    .record({
      authorization: sometimes(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant(`Bearer ${TEST_TOKEN}`) },
          { weight: 1, arbitrary: headerText },
          { weight: 1, arbitrary: headerText.map((s) => `Bearer ${s}`) },
        ),
        12,
        1,
      ),
      'content-type': sometimes(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant('application/json') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'text/plain',
              'application/json; charset=latin1',
              'application/x-www-form-urlencoded',
              'application/vnd.x+json',
            ),
          },
          { weight: 1, arbitrary: headerText },
        ),
        12,
        1,
      ),
      accept: sometimes(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant('application/json, text/event-stream') },
          { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/event-stream', '*/*') },
          { weight: 1, arbitrary: headerText },
        ),
        12,
        1,
      ),
      'mcp-protocol-version': sometimes(
        fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VERSIONS) }, { weight: 1, arbitrary: headerText }),
        1,
        1,
      ),
      'mcp-session-id': sometimes(fc.oneof(fc.constant(sessionId), fc.uuid(), headerText), 1, 2),
      'mcp-method': sometimes(fc.oneof(fc.constantFrom(...METHODS), headerText), 1, 2),
      'mcp-name': sometimes(fc.oneof(fc.constantFrom(...TOOLS), headerText), 1, 4),
      origin: sometimes(
        fc.constantFrom('http://127.0.0.1', 'https://evil.example', 'null', 'http://localhost:1'),
        1,
        12,
      ),
      host: sometimes(fc.constantFrom('evil.example', 'localhost', '127.0.0.1:1', '[::1]'), 1, 12),
      'last-event-id': sometimes(headerText, 1, 8),
      'transfer-encoding': sometimes(fc.constant('chunked'), 1, 12),
    })
    .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>);
  // A client that gets the HTTP part right and only its JSON-RPC wrong: it reaches the lanes.
  const polite = fc
    .tuple(message, fc.constantFrom('2026-07-28', '2025-11-25', undefined), fc.constantFrom(sessionId, undefined))
    .map(([m, version, sid]) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${TEST_TOKEN}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      };
      if (version !== undefined) headers['mcp-protocol-version'] = version;
      if (version === '2026-07-28' && typeof m.method === 'string')
        headers['mcp-method'] = m.method.replace(/[^\x20-\x7e]/g, '');
      const name = (m.params as { name?: unknown } | null | undefined)?.name;
      if (version === '2026-07-28' && typeof name === 'string') headers['mcp-name'] = name.replace(/[^\x20-\x7e]/g, '');
      if (version === '2025-11-25' && sid !== undefined) headers['mcp-session-id'] = sid;
      return { method: 'POST', path: '/mcp', headers, body: JSON.stringify(m) as string | undefined };
    });
  const wild = fc.record({
    method: fc.oneof(
      { weight: 12, arbitrary: fc.constant('POST') },
      { weight: 2, arbitrary: fc.constantFrom('GET', 'DELETE') },
      { weight: 1, arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND') },
    ),
    path: fc.oneof(
      { weight: 12, arbitrary: fc.constant('/mcp') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/mcp/',
          '/mcp?x=1',
          '/MCP',
          '/mcp/../mcp',
          '/unknown',
          '/mcp?access_token=x',
          '/%2e%2e/mcp',
          '//mcp',
        ),
      },
    ),
    headers,
    body,
  });
  return fc.oneof(wild, polite);
}

test('raw JSON-RPC over HTTP, hostile in every part: never a 5xx, always the refusal shape or a JSON-RPC answer', {
  timeout: 180_000,
}, async (t) => {
  const notes = tempDir(t, 'notes-mcp-fuzz-rpc-');
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const d = await startTestDaemon(t, notes, { rateLimitPerMinute: 100_000_000 });
  const port = Number(new URL(d.url).port);
  // A live 2025 session, so some requests reach a session's transport.
  const v1 = await connectV1(t, d.url);
  const sessionId = (v1.transport as { sessionId?: string } | undefined)?.sessionId ?? 'none';
  const state = d.index.config.stateDir;
  const secrets = [...new Set([notes, realpathSync(notes), state, realpathSync(state), REPO_ROOT])];
  const statuses = new Map<number, number>();
  const kinds = { refusal: 0, answer: 0, stream: 0, empty: 0 };

  await fc.assert(
    fc.asyncProperty(arbitraries(sessionId), async (r) => {
      const where = `${r.method} ${r.path} ${JSON.stringify(r.headers)} ${(r.body ?? '').slice(0, 200)}`;
      const a = await send(port, r, 300);
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      if (a.status === 0) return;
      assert.ok(a.status >= 200 && a.status < 500, `HTTP ${a.status} for ${where}: ${a.body.slice(0, 300)}`);
      const leak = leaks(a.body, secrets, r.body ?? '');
      assert.equal(leak, undefined, `the answer shows ${leak}: ${where}`);
      if (a.body === '') {
        // No body: a notification accepted, a preflight, a HEAD, a session ended.
        assert.ok(a.status < 300 || r.method === 'HEAD', `an empty ${a.status} for ${where}`);
        kinds.empty++;
        return;
      }
      if (a.type.startsWith('text/event-stream')) {
        assert.ok(a.status < 300, `an event stream with ${a.status}`);
        kinds.stream++;
        for (const line of a.body.split('\n')) {
          if (!line.startsWith('data:')) continue;
          const m = Message.safeParse(JSON.parse(line.slice(5)));
          assert.ok(m.success, `an event that is not JSON-RPC: ${line.slice(0, 300)} (${where})`);
        }
        return;
      }
      assert.match(a.type, /^application\/json/, `HTTP ${a.status} answered ${a.type}: ${a.body.slice(0, 200)}`);
      const json: unknown = JSON.parse(a.body);
      const refusal = Refusal.safeParse(json);
      if (refusal.success) {
        const declared = ERRORS[refusal.data.error.data.code as keyof typeof ERRORS];
        assert.ok(declared, `undeclared code ${refusal.data.error.data.code}`);
        assert.equal(refusal.data.error.data.status, a.status, `${refusal.data.error.data.code} with HTTP ${a.status}`);
        assert.equal(declared.status, a.status);
        kinds.refusal++;
        return;
      }
      kinds.answer++;
      assert.ok(
        Response.safeParse(json).success,
        `neither a refusal nor a JSON-RPC answer: ${a.body.slice(0, 300)} (${where})`,
      );
    }),
    { seed: SEED, numRuns: RUNS, endOnFailure: true },
  );
  // The requests got past the guards to the MCP layer, not only refused at the door.
  const report = `statuses ${JSON.stringify([...statuses])}, kinds ${JSON.stringify(kinds)}`;
  assert.ok(kinds.answer + kinds.stream > RUNS / 4, report);
  assert.ok(kinds.stream > 10 && kinds.refusal > RUNS / 10, report);
  const r = await v1.callTool({ name: 'search_notes', arguments: { query: 'alpha' } });
  assert.notEqual(r.isError, true);
  const h = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(h.status, 200);
});

// Inputs the fuzz found, pinned so they never come back unnoticed.
test('a body over the limit that is not JSON: a 413 (or the connection cut), never a 500 or a crash', async (t) => {
  const notes = tempDir(t, 'notes-mcp-fuzz-rpc-');
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const d = await startTestDaemon(t, notes);
  const port = Number(new URL(d.url).port);
  const framings: Array<Record<string, string>> = [
    { 'content-length': String(Buffer.byteLength(hugeBody())) },
    { 'transfer-encoding': 'chunked' },
  ];
  for (const framing of framings) {
    for (const type of [undefined, 'text/plain', '#^#']) {
      const headers: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}`, ...framing };
      if (type !== undefined) headers['content-type'] = type;
      const a = await send(port, { method: 'POST', path: '/mcp', headers, body: HUGE }, 300);
      assert.ok(
        a.status === 0 || a.status === 413,
        `${type} ${JSON.stringify(framing)}: HTTP ${a.status} ${a.body.slice(0, 200)}`,
      );
      if (a.status === 413) assert.ok(Refusal.safeParse(JSON.parse(a.body)).success, a.body);
      // The daemon is still there (an uncaught error in a refusal used to end the process).
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    }
  }
});
