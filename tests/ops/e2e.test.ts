import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { instanceConfig, instancePlistObject, resolveLayout } from '../../src/ops/index.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { call, freePort, nginxTest, spawnLikeLaunchd, startNginx, waitFor, writeNginx, runVerify } from './helpers.ts';

// The whole chain on loopback: the real daemon started from its generated plist, behind a real
// nginx with the generated TLS configuration. MCP over HTTPS through the proxy (verify.sh:
// initialize, tools/list, search_notes, 401/403), an SSE stream that outlives the proxy's idle
// timeout thanks to the daemon's keep-alives, and verify.sh failing once the daemon is gone.

const TOKEN = 'e2e-token-0123456789abcdef0123456789';
// Above the daemon's SSE keep-alive period (15 s), so only keep-alives keep the stream open.
const READ_TIMEOUT_S = 17;

test('real daemon behind real nginx over HTTPS: MCP, SSE past the idle timeout, verify.sh', {
  timeout: 120_000,
}, async (t) => {
  const root = tempDir(t);
  chmodSync(root, 0o755);
  const port = await freePort();
  const httpsPort = await freePort();
  const layout = resolveLayout({
    root,
    instance: 'e2e',
    app: REPO_ROOT,
    node: process.execPath,
    port,
    model: 'bundled',
    serverName: 'notes.test',
    // launchd starts the job as UserName: here whoever runs the tests.
    user: userInfo().username,
  });
  for (const d of [layout.notes, layout.state, layout.logs, layout.etcDir]) mkdirSync(d, { recursive: true });
  writeFileSync(layout.tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(layout.configFile, instanceConfig(layout));
  writeFileSync(
    join(layout.notes, 'nginx.md'),
    '# nginx\n\nThe proxy in front of notes-mcp keeps SSE streams unbuffered.\n',
  );

  const daemon: ChildProcess = spawnLikeLaunchd(instancePlistObject(layout));
  t.after(() => daemon.kill('SIGKILL'));
  const stderr = () => (existsSync(layout.stderrLog) ? readFileSync(layout.stderrLog, 'utf8') : '');
  await waitFor(
    async () => {
      if (daemon.exitCode !== null) throw new Error(stderr());
      const r = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
      return r?.ok;
    },
    90_000,
    'the daemon /health',
  );

  const conf = writeNginx([
    {
      layout,
      site: {
        serverName: 'notes.test',
        httpPort: await freePort(),
        httpsPort,
        ipv6: false,
        readTimeout: `${READ_TIMEOUT_S}s`,
        rate: '100r/s',
      },
    },
  ]);
  const check = nginxTest(root, conf);
  assert.ok(check.ok, check.output);
  await startNginx(t, root, conf, { port: httpsPort, host: 'notes.test' });

  const tokenFile = join(root, 'client.token');
  writeFileSync(tokenFile, TOKEN);
  const verify = () => runVerify(httpsPort, tokenFile, root, ['--no-baseline', '--query', 'proxy']);
  const v1 = verify();
  assert.equal(v1.status, 0, `${v1.stdout}${v1.stderr}`);
  for (const check of ['health', 'initialize', 'tools/list', 'search_notes', 'no-token', 'foreign-origin']) {
    assert.match(v1.stdout, new RegExp(`^PASS ${check.replace('/', '\\/')} `, 'm'));
  }

  // A 2025-11-25 session's GET stream, kept open past nginx's proxy_read_timeout.
  const https = { https: true, port: httpsPort, host: 'notes.test' };
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    authorization: `Bearer ${TOKEN}`,
  };
  const init = await call({
    ...https,
    path: '/mcp',
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } },
    }),
  });
  assert.equal(init.status, 200, init.body);
  const session = init.headers['mcp-session-id'];
  assert.equal(typeof session, 'string', 'a 2025-11-25 initialize opens a session');
  const withSession = { ...headers, 'mcp-session-id': String(session) };
  const note = await call({
    ...https,
    path: '/mcp',
    method: 'POST',
    headers: withSession,
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  assert.ok(note.status === 202 || note.status === 200, `notifications/initialized -> ${note.status}`);
  const holdMs = (READ_TIMEOUT_S + 3) * 1000;
  const stream = await call({
    ...https,
    path: '/mcp',
    headers: { ...withSession, accept: 'text/event-stream' },
    stopAfterMs: holdMs,
  });
  assert.equal(stream.status, 200, stream.body);
  assert.ok(
    stream.ended === false,
    `nginx closed the stream after ${stream.chunks.at(-1)?.at ?? 0} ms (proxy_read_timeout ${READ_TIMEOUT_S}s)`,
  );
  assert.ok(stream.chunks.length > 0, 'the daemon sent keep-alives through the proxy');

  daemon.kill('SIGTERM');
  await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r)));
  const v2 = verify();
  assert.equal(v2.status, 1, v2.stdout);
  assert.match(v2.stdout, /^FAIL health +GET .* -> 502/m);
  assert.match(v2.stdout, /^verify: FAIL /m);
});
