import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nginxSite, resolveLayout } from '../../src/ops/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { call, FIXTURES, freePort, nginxTest, skipNoNginx, startNginx, writeNginx, runVerify } from './helpers.ts';

// Debian's nginx checks and runs the generated configuration: `nginx -t` on several instances
// side by side, then a real nginx in front of a stand-in daemon (fixtures/fake-daemon.mjs) for
// TLS, redirects, ACME, SSE pass-through, rate limiting and verify.sh. The same checks against
// the real daemon belong with `notes-mcp serve`.

const TOKEN = 'verify-token-0123456789abcdef0123456789';

test('nginx -t accepts the generated main config with several instances side by side', { skip: skipNoNginx }, (t) => {
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
    { httpPort: 80 },
  );
  const r = nginxTest(root, conf);
  assert.ok(r.ok, r.output);
  assert.match(r.output, /syntax is ok/);
});

test('nginx -t rejects a broken site, so provision.sh can trust the check', { skip: skipNoNginx }, (t) => {
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

function startFakeDaemon(env: Record<string, string>): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [join(FIXTURES, 'fake-daemon.mjs')], {
    env: { ...process.env, FAKE_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.stdout?.once('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve({ proc, port: Number(m[1]) });
      else reject(new Error(`fake daemon said ${d}`));
    });
    proc.once('exit', (code) => reject(new Error(`fake daemon exited ${code}`)));
  });
}

test('real nginx in front of a stand-in daemon: TLS, redirects, ACME, SSE, limits, verify.sh', {
  skip: skipNoNginx,
}, async (t) => {
  const root = tempDir(t);
  // nginx workers drop to nobody when the test runs as root: they must reach the ACME webroot.
  chmodSync(root, 0o755);
  const alpha = await startFakeDaemon({ FAKE_ALLOWED_HOSTS: 'notes.test', FAKE_PING_MS: '400' });
  const beta = await startFakeDaemon({ FAKE_ALLOWED_HOSTS: 'limited.test' });
  t.after(() => {
    alpha.proc.kill('SIGKILL');
    beta.proc.kill('SIGKILL');
  });
  const httpPort = await freePort();
  const httpsPort = await freePort();
  const base = { root, mode: 'daemon' as const, arch: 'arm64' as const };
  const ports = { httpPort, httpsPort, ipv6: false };
  const alphaLayout = resolveLayout({ ...base, instance: 'alpha', port: alpha.port });
  const conf = writeNginx(
    [
      { layout: alphaLayout, site: { serverName: 'notes.test', readTimeout: '2s', ...ports } },
      {
        layout: resolveLayout({ ...base, instance: 'beta', port: beta.port }),
        site: { serverName: 'limited.test', rate: '1r/m', burst: 1, metricsAllow: ['10.9.9.9'], ...ports },
      },
    ],
    { httpPort },
  );
  assert.ok(nginxTest(root, conf).ok, nginxTest(root, conf).output);
  const https = { https: true, port: httpsPort };
  await startNginx(t, root, conf, { port: httpsPort, host: 'notes.test' });

  // /health passes through with the public Host the daemon's DNS-rebinding check expects.
  const health = await call({ ...https, host: 'notes.test', path: '/health' });
  const h = JSON.parse(health.body) as { host: string; forwardedProto: string; forwardedFor: string };
  assert.equal(h.host, 'notes.test');
  assert.equal(h.forwardedProto, 'https');
  assert.equal(h.forwardedFor, '127.0.0.1');
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

  // Body size limit and rate limit (beta: 1 request per minute, burst 1).
  const big = Buffer.alloc(5 * 1024 * 1024, 'x');
  assert.equal(
    (await call({ ...https, host: 'notes.test', path: '/mcp', method: 'POST', headers: auth, body: big })).status,
    413,
  );
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await call({ ...https, host: 'limited.test', path: '/health' })).status);
  assert.ok(statuses.includes(429), `no 429 in ${statuses}`);
  assert.equal(
    (await call({ ...https, host: 'notes.test', path: '/metrics' })).status,
    200,
    'loopback may read /metrics',
  );
  assert.equal((await call({ ...https, host: 'limited.test', path: '/metrics' })).status, 403, 'others may not');

  // verify.sh passes through nginx, records a baseline, compares with it, and fails once the daemon is gone.
  const tokenFile = join(root, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const baseline = join(root, 'baseline.env');
  const verify = () => runVerify(httpsPort, tokenFile, root, ['--baseline', baseline, '--tolerance', '1000']);
  const v1 = verify();
  assert.equal(v1.status, 0, `${v1.stdout}${v1.stderr}`);
  assert.match(v1.stdout, /^verify: PASS /m);
  assert.match(v1.stdout, /PASS baseline +recorded p95/);
  assert.match(readFileSync(baseline, 'utf8'), /^p95_ms=\d/m);
  const v2 = verify();
  assert.equal(v2.status, 0, `${v2.stdout}${v2.stderr}`);
  assert.match(v2.stdout, /PASS baseline +p95 .* <= /);
  assert.doesNotMatch(`${v1.stdout}${v2.stdout}`, new RegExp(TOKEN), 'verify.sh must not print the token');
  alpha.proc.kill('SIGTERM');
  await new Promise((r) => alpha.proc.once('exit', r));
  const v3 = verify();
  assert.equal(v3.status, 1, v3.stdout);
  assert.match(v3.stdout, /^FAIL health +GET .* -> 502/m);
  assert.match(v3.stdout, /^verify: FAIL .*health.*initialize/m);
});
