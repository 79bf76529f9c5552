import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { nginxSite, resolveLayout } from '../../src/ops/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import {
  call,
  freePort,
  nginxTest,
  type Reply,
  runVerify,
  startFakeDaemon,
  startNginx,
  writeNginx,
} from './helpers.ts';

/** A refusal nginx made itself: JSON with the daemon's error shape, never an HTML page. */
function assertRefusal(r: Reply, code: string, retryAfter: string | undefined): void {
  assert.match(String(r.headers['content-type']), /^application\/json/, r.body);
  const body = JSON.parse(r.body) as { error?: { data?: { code?: string; status?: number } } };
  assert.equal(body.error?.data?.code, code);
  assert.equal(body.error?.data?.status, r.status);
  assert.equal(r.headers['retry-after'], retryAfter);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', 'the security headers are kept');
}

// Debian's nginx checks and runs the generated configuration: `nginx -t` on several instances
// side by side, then a real nginx in front of a stand-in daemon (fixtures/fake-daemon.mjs) for
// TLS, redirects, ACME, SSE pass-through, rate limiting and verify.sh. The same checks against
// the real daemon belong with `notes-mcp serve`.

const TOKEN = 'verify-token-0123456789abcdef0123456789';

/**
 * A client that opens a TLS connection and trickles its request: the headers then one body byte
 * every 3 s (`body`), or half a header line and then nothing (`headers`). Resolves when nginx
 * closes the connection, with what it answered; gives up (destroying the socket) after 15 s.
 */
function slowClient(
  port: number,
  host: string,
  stall: 'body' | 'headers',
): Promise<{ closedAfterMs: number; response: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const sock = tlsConnect({ host: '127.0.0.1', port, servername: host, rejectUnauthorized: false }, () => {
      if (stall === 'headers') {
        sock.write(`POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bea`);
        return;
      }
      sock.write(
        `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n` +
          'Accept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n{',
      );
      timer = setInterval(() => sock.write(' '), 3000);
    });
    let response = '';
    sock.on('data', (d: Buffer) => (response += d.toString()));
    sock.on('error', () => undefined);
    const bound = setTimeout(() => sock.destroy(), 15_000);
    sock.on('close', () => {
      clearInterval(timer);
      clearTimeout(bound);
      resolve({ closedAfterMs: Date.now() - started, response });
    });
  });
}

/**
 * Send `request` over TLS (SNI `servername`, at least `minVersion`), then wait: what came back
 * by the time nginx closed the connection or `waitMs` passed, and the TLS version spoken.
 */
function tlsExchange(
  port: number,
  servername: string,
  request: string,
  opts: { waitMs?: number; minVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<{ response: string; closed: boolean; protocol: string | null }> {
  return new Promise((resolve) => {
    let protocol: string | null = null;
    let response = '';
    const sock = tlsConnect(
      { host: '127.0.0.1', port, servername, rejectUnauthorized: false, minVersion: opts.minVersion ?? 'TLSv1.2' },
      () => {
        protocol = sock.getProtocol();
        sock.write(request);
      },
    );
    sock.on('data', (d: Buffer) => (response += d.toString()));
    sock.on('error', () => undefined);
    const bound = setTimeout(() => {
      sock.destroy();
      resolve({ response, closed: false, protocol });
    }, opts.waitMs ?? 3_000);
    sock.on('close', () => {
      clearTimeout(bound);
      resolve({ response, closed: true, protocol });
    });
  });
}

async function fakeStats(port: number): Promise<{ mcpRequests: number }> {
  const r = await fetch(`http://127.0.0.1:${port}/fake-stats`);
  return (await r.json()) as { mcpRequests: number };
}

test('nginx -t accepts the generated main config with several instances side by side', (t) => {
  const root = tempDir(t);
  const base = { root, arch: 'arm64' as const, mode: 'daemon' as const };
  const conf = writeNginx(
    [
      {
        layout: resolveLayout({ ...base, instance: 'default', port: 8765 }),
        site: { serverName: 'notes.example.com' },
      },
      { layout: resolveLayout({ ...base, instance: 'alice', port: 8766 }), site: { serverName: 'alice.example.com' } },
      // An IP address has no SNI: its server is the default one for its own HTTPS port.
      {
        layout: resolveLayout({ ...base, instance: 'ip-only', port: 8767 }),
        site: { serverName: '203.0.113.7', httpsPort: 8443 },
      },
    ],
    // The production main file: catch-alls on :80 and :443 (the IP instance owns :8443).
    { httpPort: 80, httpsPorts: [443] },
  );
  const r = nginxTest(root, conf);
  assert.ok(r.ok, r.output);
  assert.match(r.output, /syntax is ok/);
});

test('nginx -t rejects a broken site, so provision.sh can trust the check', (t) => {
  const root = tempDir(t);
  const layout = resolveLayout({ root, instance: 'default' });
  const conf = writeNginx([{ layout, site: { serverName: 'notes.example.com' } }]);
  writeFileSync(
    layout.nginx.siteFile,
    nginxSite(layout, { serverName: 'notes.example.com', cert: `${root}/missing.pem` }),
  );
  const r = nginxTest(root, conf);
  assert.equal(r.ok, false, 'nginx -t should fail on a missing certificate');
  assert.match(r.output, /missing\.pem/);
});

test('real nginx in front of a stand-in daemon: TLS, redirects, ACME, SSE, limits, verify.sh', async (t) => {
  const root = tempDir(t);
  // nginx workers drop to nobody when the test runs as root: they must reach the ACME webroot.
  chmodSync(root, 0o755);
  const alpha = await startFakeDaemon(TOKEN, { FAKE_ALLOWED_HOSTS: 'notes.test', FAKE_PING_MS: '400' });
  const beta = await startFakeDaemon(TOKEN, { FAKE_ALLOWED_HOSTS: 'limited.test' });
  const gamma = await startFakeDaemon(TOKEN, { FAKE_ALLOWED_HOSTS: 'conn.test', FAKE_PING_MS: '200' });
  t.after(() => {
    for (const d of [alpha, beta, gamma]) d.proc.kill('SIGKILL');
  });
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const base = { root, mode: 'daemon' as const, arch: 'arm64' as const };
  const ports = { httpPort, httpsPort, ipv6: false };
  const alphaLayout = resolveLayout({ ...base, instance: 'alpha', port: alpha.port });
  const conf = writeNginx(
    [
      {
        layout: alphaLayout,
        // 50 requests/s: verify.sh's 100+ calls run into the limit and are paced, not failed.
        site: { serverName: 'notes.test', readTimeout: '2s', bodyTimeout: '2s', rate: '50r/s', ...ports },
      },
      {
        layout: resolveLayout({ ...base, instance: 'beta', port: beta.port }),
        site: { serverName: 'limited.test', rate: '1r/m', burst: 1, metricsAllow: ['10.9.9.9'], ...ports },
      },
      {
        layout: resolveLayout({ ...base, instance: 'gamma', port: gamma.port }),
        site: { serverName: 'conn.test', connLimit: 2, ...ports },
      },
    ],
    { httpPort, httpsPorts: [httpsPort], headerTimeout: '2s' },
  );
  assert.ok(nginxTest(root, conf).ok, nginxTest(root, conf).output);
  const https = { https: true, port: httpsPort };
  await startNginx(t, root, conf, { port: httpsPort, host: 'notes.test' });

  // /health passes through with the public Host the daemon's DNS-rebinding check expects, and
  // an X-Forwarded-For that is the peer address whatever the client claims (the daemon answers
  // a forwarded /health with the status only).
  // TLS 1.3 is offered with the TLS catch-all as the port's default server (nginx before
  // 1.23.4 took the versions from it, and refused 1.3).
  const v13 = await tlsExchange(
    httpsPort,
    'notes.test',
    'GET /health HTTP/1.1\r\nHost: notes.test\r\nConnection: close\r\n\r\n',
    {
      minVersion: 'TLSv1.3',
    },
  );
  assert.equal(v13.protocol, 'TLSv1.3');
  assert.match(v13.response, /^HTTP\/1\.1 200/);
  // A Host no instance serves, after an instance's handshake: closed, not nginx's own files.
  const otherHost = await tlsExchange(httpsPort, 'notes.test', 'GET / HTTP/1.1\r\nHost: other.test\r\n\r\n');
  assert.deepEqual([otherHost.closed, otherHost.response], [true, '']);
  // No bearer token: refused before the body is read (nothing buffered to disk, nothing reaches
  // the daemon), with the daemon's JSON and WWW-Authenticate; a CORS preflight still passes.
  const reached = (await fakeStats(alpha.port)).mcpRequests;
  const anon = await tlsExchange(
    httpsPort,
    'notes.test',
    'POST /mcp HTTP/1.1\r\nHost: notes.test\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n{"x":',
  );
  assert.match(anon.response, /^HTTP\/1\.1 401/);
  assert.match(anon.response, /WWW-Authenticate: Bearer realm="notes-mcp"/i);
  assert.match(anon.response, /"code":"NOTES_E_AUTH_MISSING"/);
  for (const auth of ['Basic dXNlcjpwYXNz', 'Bearer short']) {
    const r = await call({
      ...https,
      host: 'notes.test',
      path: '/mcp',
      method: 'POST',
      headers: { authorization: auth },
      body: '{}',
    });
    assert.equal(r.status, 401, auth);
  }
  assert.equal((await fakeStats(alpha.port)).mcpRequests, reached, 'no anonymous request reached the daemon');
  const preflight = await call({
    ...https,
    host: 'notes.test',
    path: '/mcp',
    method: 'OPTIONS',
    headers: { origin: 'https://x.example' },
  });
  assert.notEqual(preflight.status, 401);

  // A token in the URL is refused by nginx itself, before anything could log its request line.
  const inUrl = await call({ ...https, host: 'notes.test', path: '/mcp?access_token=query-secret-123' });
  assert.equal(inUrl.status, 400);
  assert.equal(JSON.parse(inUrl.body).error.data.code, 'NOTES_E_USAGE');
  const health = await call({
    ...https,
    host: 'notes.test',
    path: '/health?x=query-secret-123',
    headers: { 'x-forwarded-for': '6.6.6.6' },
  });
  const h = JSON.parse(health.body) as { host: string; forwardedProto: string; forwardedFor: string };
  assert.equal(h.host, 'notes.test');
  assert.equal(h.forwardedProto, 'https');
  assert.equal(h.forwardedFor, '127.0.0.1');
  const plain = JSON.parse((await call({ ...https, host: 'notes.test', path: '/health' })).body) as typeof h;
  assert.equal(plain.forwardedFor, '127.0.0.1', 'X-Forwarded-For is set on every request');

  // TLS for an unknown name, or no name at all (a bare IP), is refused at the handshake: no
  // instance's certificate is shown and nothing reaches a daemon.
  await assert.rejects(call({ ...https, host: 'unknown.test', path: '/health' }), /alert|handshake|EPROTO|reset/i);
  await assert.rejects(call({ ...https, host: '127.0.0.1', path: '/health' }), /alert|handshake|EPROTO|reset/i);
  assert.match(String(health.headers['strict-transport-security']), /max-age=63072000/);
  assert.equal(health.headers['x-content-type-options'], 'nosniff');
  assert.equal(health.headers.server, 'nginx', 'server_tokens off hides the version');

  // Plain HTTP: redirect to HTTPS, except the ACME challenge; unknown names get nothing.
  const redirect = await call({ https: false, port: httpPort, host: 'notes.test', path: '/mcp?x=1' });
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, `https://notes.test:${httpsPort}/mcp?x=1`);
  mkdirSync(join(alphaLayout.nginx.acmeRoot, '.well-known', 'acme-challenge'), { recursive: true });
  writeFileSync(join(alphaLayout.nginx.acmeRoot, '.well-known', 'acme-challenge', 'tok123'), 'tok123.key');
  const acme = await call({
    https: false,
    port: httpPort,
    host: 'notes.test',
    path: '/.well-known/acme-challenge/tok123',
  });
  assert.equal(acme.status, 200);
  assert.equal(acme.body, 'tok123.key');
  await assert.rejects(
    call({ https: false, port: httpPort, host: 'unknown.test', path: '/' }),
    'catch-all closes the connection (444)',
  );
  assert.equal((await call({ ...https, host: 'notes.test', path: '/elsewhere' })).status, 404);

  // /mcp: auth and Origin answers come from the daemon, untouched.
  const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
  assert.equal(
    (await call({ ...https, host: 'notes.test', path: '/mcp', method: 'POST', headers: mcpHeaders, body: init }))
      .status,
    401,
  );
  const auth = { ...mcpHeaders, authorization: `Bearer ${TOKEN}` };
  const initOk = await call({ ...https, host: 'notes.test', path: '/mcp', method: 'POST', headers: auth, body: init });
  assert.equal(initOk.status, 200);
  assert.equal(initOk.headers['mcp-session-id'], 'fake-session-1');
  assert.match(initOk.body, /^event: message\ndata: /);

  // SSE is not buffered: the progress event arrives well before the result (sent 400 ms later).
  const callBody = JSON.stringify({
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'search_notes', arguments: {} },
  });
  const streamed = await call({
    ...https,
    host: 'notes.test',
    path: '/mcp',
    method: 'POST',
    headers: auth,
    body: callBody,
  });
  assert.equal(streamed.status, 200);
  const first = streamed.chunks.find((c) => c.text.includes('notifications/progress'));
  const last = streamed.chunks.find((c) => c.text.includes('"id":2'));
  assert.ok(first && last, streamed.body);
  assert.ok(last.at - first.at >= 250, `events arrived ${last.at - first.at} ms apart: nginx buffered the stream`);

  // A GET stream lives past proxy_read_timeout (2 s here) while events keep flowing.
  const stream = await call({
    ...https,
    host: 'notes.test',
    path: '/mcp',
    headers: { ...auth, accept: 'text/event-stream' },
    stopAfterMs: 3500,
  });
  assert.equal(stream.status, 200);
  const events = stream.body.split('\n\n').filter((e) => e.includes('data:'));
  assert.ok(events.length >= 6, `only ${events.length} events in 3.5 s`);
  assert.ok((stream.chunks.at(-1)?.at ?? 0) > 2500, 'stream ended before 2.5 s');

  // Slow clients are cut by nginx (2 s timeouts here) while another client is served; the
  // stalled body never reaches the daemon, because nginx buffers the body before proxying.
  const before = await fakeStats(alpha.port);
  const slowBody = slowClient(httpsPort, 'notes.test', 'body');
  const slowHeaders = slowClient(httpsPort, 'notes.test', 'headers');
  await new Promise((r) => setTimeout(r, 500));
  const servedAt = Date.now();
  const served = await call({ ...https, host: 'notes.test', path: '/mcp', method: 'POST', headers: auth, body: init });
  assert.equal(served.status, 200, 'another client is served while the slow ones stall');
  assert.ok(Date.now() - servedAt < 1000, `the other client waited ${Date.now() - servedAt} ms`);
  const [cutBody, cutHeaders] = await Promise.all([slowBody, slowHeaders]);
  assert.ok(cutBody.closedAfterMs < 7000, `slow body held the connection ${cutBody.closedAfterMs} ms`);
  // nginx drops a timed-out body without an answer (it logs 408, checked below).
  assert.doesNotMatch(cutBody.response, /^HTTP\/1\.1 2/, `slow body answered: ${cutBody.response.slice(0, 80)}`);
  assert.ok(cutHeaders.closedAfterMs < 7000, `slow headers held the connection ${cutHeaders.closedAfterMs} ms`);
  assert.equal(
    (await fakeStats(alpha.port)).mcpRequests - before.mcpRequests,
    1,
    'only the served request reached the daemon',
  );

  // Connections per client address (gamma: 2): two open streams, then 429 until one closes.
  const streams = [0, 1].map(() =>
    call({
      ...https,
      host: 'conn.test',
      path: '/mcp',
      headers: { ...auth, accept: 'text/event-stream' },
      stopAfterMs: 1500,
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(
    (await call({ ...https, host: 'conn.test', path: '/health' })).status,
    429,
    'a third connection is refused',
  );
  for (const s of await Promise.all(streams)) assert.equal(s.status, 200);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(
    (await call({ ...https, host: 'conn.test', path: '/health' })).status,
    200,
    'served again once one closed',
  );

  // Body size limit and rate limit (beta: 1 request per minute, burst 1).
  // nginx's own refusals come in the daemon's JSON shape, with Retry-After where waiting helps.
  const big = Buffer.alloc(5 * 1024 * 1024, 'x');
  const tooLarge = await call({ ...https, host: 'notes.test', path: '/mcp', method: 'POST', headers: auth, body: big });
  assert.equal(tooLarge.status, 413);
  assertRefusal(tooLarge, 'NOTES_E_BODY_TOO_LARGE', undefined);
  const limited: Reply[] = [];
  for (let i = 0; i < 4; i++) limited.push(await call({ ...https, host: 'limited.test', path: '/health' }));
  const refused = limited.find((r) => r.status === 429);
  assert.ok(refused, `no 429 in ${limited.map((r) => r.status)}`);
  assertRefusal(refused, 'NOTES_E_RATE_LIMITED', '5');
  assert.equal(
    (await call({ ...https, host: 'notes.test', path: '/metrics' })).status,
    200,
    'loopback may read /metrics',
  );
  assert.equal((await call({ ...https, host: 'limited.test', path: '/metrics' })).status, 403, 'others may not');

  // The access log names paths but never query strings (tokens pasted into URLs stay out of it).
  const access = readFileSync(join(alphaLayout.nginx.logs, 'access.log'), 'utf8');
  assert.match(access, /"GET \/health HTTP\/1\.1"/);
  assert.doesNotMatch(access, /query-secret-123/);
  assert.doesNotMatch(readFileSync(join(alphaLayout.nginx.logs, 'error.log'), 'utf8'), /query-secret-123/);
  assert.match(access, /"POST \/mcp HTTP\/1\.1" 408 /, 'the stalled body was timed out (408)');

  // verify.sh passes through nginx, records a baseline, compares with it, and fails once the daemon is gone.
  const tokenFile = join(root, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const baseline = join(root, 'baseline.json');
  const verify = () => runVerify(httpsPort, tokenFile, root, ['--baseline', baseline, '--tolerance', '1000']);
  const v1 = verify();
  assert.equal(v1.status, 0, `${v1.stdout}${v1.stderr}`);
  assert.match(v1.stdout, /^verify: PASS /m);
  assert.match(v1.stdout, /PASS baseline +recorded p50 [\d.]+ ms, p95 [\d.]+ ms/);
  assert.match(
    v1.stdout,
    /^PASS tools\/list +100 calls after 5 warm-up on 1 connection\(s\), \d+ answered 429 .*: p50 /m,
  );
  const recorded = JSON.parse(readFileSync(baseline, 'utf8')) as { p50_ms: number; p95_ms: number };
  assert.ok(recorded.p50_ms > 0 && recorded.p95_ms >= recorded.p50_ms, JSON.stringify(recorded));
  const v2 = verify();
  assert.equal(v2.status, 0, `${v2.stdout}${v2.stderr}`);
  assert.match(v2.stdout, /PASS baseline +p50 [\d.]+ <= [\d.]+ ms, p95 [\d.]+ <= [\d.]+ ms/);
  assert.doesNotMatch(`${v1.stdout}${v2.stdout}`, new RegExp(TOKEN), 'verify.sh must not print the token');
  alpha.proc.kill('SIGTERM');
  await new Promise((r) => alpha.proc.once('exit', r));
  const v3 = verify();
  assert.equal(v3.status, 1, v3.stdout);
  assert.match(v3.stdout, /^FAIL health +GET .* -> 502/m);
  const down = await call({ ...https, host: 'notes.test', path: '/mcp', method: 'POST', headers: auth, body: init });
  assert.equal(down.status, 502);
  assertRefusal(down, 'NOTES_E_UPSTREAM_DOWN', '5');
  assert.match(v3.stdout, /^verify: FAIL .*health.*initialize/m);
});
