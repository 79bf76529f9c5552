import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TokenStore } from '../../src/auth/tokens.ts';
import { MAX_PIPELINED } from '../../src/daemon/connections.ts';
import { TEST_TOKEN } from '../helpers/daemon.ts';
import { BIN, tempDir } from '../helpers/tmp.ts';
import { tldrVault, writeNotes } from '../helpers/vault.ts';
import { freePort } from '../helpers/spawn.ts';

// The daemon, spawned for real and attacked from outside: odd files and greedy clients must
// never freeze it or let one client lock out another.

interface Spawned {
  child: ChildProcess;
  port: number;
  url: string;
  stderr: () => string;
}

async function spawnDaemon(
  t: { after: (fn: () => void) => void },
  notes: string,
  state: string,
  env: Record<string, string> = {},
  opts: { fdLimit?: number } = {},
): Promise<Spawned> {
  const port = await freePort();
  const args = [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'];
  // With a file-descriptor limit (launchd's default soft limit is 256): set by the shell, then exec.
  const [cmd, argv] =
    opts.fdLimit === undefined
      ? [process.execPath, args]
      : ['sh', ['-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, process.execPath, ...args]];
  const child = spawn(cmd, argv, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: TEST_TOKEN, NOTES_MCP_LOG_LEVEL: 'warn', ...env },
  });
  t.after(() => child.kill('SIGKILL'));
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`daemon exited: ${err}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) {
        const h = (await r.json()) as { index?: { syncing?: boolean; last_sync_at?: string | null } };
        if (h.index?.syncing === false && h.index.last_sync_at) break;
      }
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port, url: `http://127.0.0.1:${port}/mcp`, stderr: () => err };
}

/**
 * /health every 50 ms, each within 1 s, until stop(), which resolves to the number of probes
 * (and rethrows the first one that failed). The worst time goes to the test's diagnostics, so
 * a CI log shows the margin left under the bound.
 */
function pollHealth(t: { diagnostic: (m: string) => void }, port: number): { stop: () => Promise<number> } {
  let stop = false;
  let probes = 0;
  let worst = 0;
  const poll = (async () => {
    while (!stop) {
      worst = Math.max(worst, await healthWithin(port, 1_000));
      probes++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  // Rethrown by stop(); a test that fails before calling it must not leave a rejection behind.
  poll.catch(() => undefined);
  return {
    stop: async () => {
      stop = true;
      await poll;
      t.diagnostic(`worst /health ${worst.toFixed(0)} ms over ${probes} probes`);
      return probes;
    },
  };
}

/** The daemon's resident memory (Linux /proc, where the suite runs). */
function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** /health, timed; fails the test when it takes longer than `ms`. */
async function healthWithin(port: number, ms: number): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(ms) });
  assert.equal(r.status, 200);
  await r.text();
  return performance.now() - t0;
}

async function client(url: string, token = TEST_TOKEN): Promise<ClientV1> {
  const c = new ClientV1({ name: 'hostile-test', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
  );
  return c;
}

test('a note swapped for a FIFO in a tight loop during re-indexing and watching: /health answers within 1 s throughout', {
  timeout: 120_000,
}, async (t) => {
  const notes = tldrVault(t, { common: 150 });
  const state = tempDir(t);
  const d = await spawnDaemon(t, notes, state);
  const c = await client(d.url);
  t.after(() => c.close());
  const victims = readdirSync(join(notes, 'common'))
    .slice(0, 5)
    .map((n) => join(notes, 'common', n));
  let stop = false;
  const swapper = (async () => {
    let i = 0;
    while (!stop && i < 400) {
      const v = victims[i % victims.length]!;
      const keep = `${v}.keep`;
      renameSync(v, keep);
      try {
        execFileSync('mkfifo', [v]);
        await new Promise((r) => setTimeout(r, 5));
      } finally {
        rmSync(v, { force: true });
        renameSync(keep, v);
      }
      i++;
    }
  })();
  const reindexes = (async () => {
    for (let i = 0; i < 4 && !stop; i++) await c.callTool({ name: 'reindex', arguments: { full: true } });
  })();
  const worst: number[] = [];
  const deadline = Date.now() + 8_000;
  while (Date.now() < deadline) {
    worst.push(await healthWithin(d.port, 1_000));
    await new Promise((r) => setTimeout(r, 50));
  }
  stop = true;
  await swapper;
  await reindexes;
  assert.ok(worst.length > 20, 'health was polled');
  t.diagnostic(`worst /health ${Math.max(...worst).toFixed(0)} ms over ${worst.length} probes`);
  // The daemon is still whole: searches work and the swapped notes are indexed again.
  const s = await c.callTool({ name: 'reindex', arguments: {} });
  assert.notEqual(s.isError, true);
  assert.ok(d.child.exitCode === null, d.stderr());
});

/** A raw request that sends its headers, then trickles its body one byte every `gapMs`. */
function trickle(port: number, gapMs: number, headers: string): { socket: Socket; closed: Promise<number> } {
  const socket = connect(port, '127.0.0.1');
  const t0 = Date.now();
  socket.on('error', () => undefined);
  socket.write(
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n${headers}\r\n`,
  );
  const timer = setInterval(() => socket.write('x'), gapMs);
  const closed = new Promise<number>((resolve) => {
    socket.on('close', () => {
      clearInterval(timer);
      resolve(Date.now() - t0);
    });
  });
  socket.resume();
  return { socket, closed };
}

test('slow request bodies are cut after the request timeout, also after a 401, while others are served', {
  timeout: 60_000,
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha beta\n' });
  const state = tempDir(t);
  writeFileSync(join(state, 'cfg.json'), JSON.stringify({ requestTimeoutMs: 2000 }));
  const e = await spawnDaemon(t, notes, state, { NOTES_MCP_CONFIG: join(state, 'cfg.json') });
  const anonymous = Array.from({ length: 30 }, () => trickle(e.port, 300, ''));
  const withToken = Array.from({ length: 10 }, () => trickle(e.port, 300, `Authorization: Bearer ${TEST_TOKEN}\r\n`));
  // Meanwhile a normal client is served.
  const c = await client(e.url);
  t.after(() => c.close());
  const r = await c.callTool({ name: 'search_notes', arguments: { query: 'alpha' } });
  assert.notEqual(r.isError, true);
  await healthWithin(e.port, 1_000);
  const times = await Promise.all([...anonymous, ...withToken].map((x) => x.closed));
  for (const ms of times) assert.ok(ms < 6_000, `a trickling socket stayed open ${ms} ms`);
  // Refused early (no token: 401 before the body), the socket is not kept waiting for the body.
  const refusedFast = times.slice(0, 30);
  assert.ok(Math.max(...refusedFast) < 3_000, `401 sockets closed after ${Math.max(...refusedFast)} ms`);
});

test('one token cannot take every session or stream: another token is still served', { timeout: 60_000 }, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const state = tempDir(t);
  writeFileSync(join(state, 'cfg.json'), JSON.stringify({ maxSessions: 12, maxSessionsPerToken: 4 }));
  const other = new TokenStore(join(state, 'tokens.json')).create('other', 'read');
  const d = await spawnDaemon(t, notes, state, { NOTES_MCP_CONFIG: join(state, 'cfg.json') });
  const hog: ClientV1[] = [];
  t.after(async () => {
    for (const h of hog) await h.close().catch(() => undefined);
  });
  for (let i = 0; i < 4; i++) hog.push(await client(d.url));
  await assert.rejects(client(d.url), /429|already holds/);
  const fair = await client(d.url, other.token);
  t.after(() => fair.close());
  const r = await fair.callTool({ name: 'search_notes', arguments: { query: 'alpha' } });
  assert.notEqual(r.isError, true);

  // 2026 listen streams: the same per-token bound, as an HTTP refusal with a declared code.
  const listen = (token: string) =>
    fetch(d.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscriptions/listen',
        params: { notifications: { resourcesListChanged: true }, _meta: {} },
      }),
    });
  const open: Response[] = [];
  for (let i = 0; i < 4; i++) {
    const s = await listen(TEST_TOKEN);
    assert.equal(s.status, 200);
    open.push(s);
  }
  const refused = await listen(TEST_TOKEN);
  assert.equal(refused.status, 429);
  assert.match(await refused.text(), /NOTES_E_TOKEN_STREAMS/);
  const ok = await listen(other.token);
  assert.equal(ok.status, 200);
  for (const s of [...open, ok]) await s.body?.cancel();
});

test('JSON nested thousands deep is a 400 with a declared code, never a 500 with a stack trace', async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const d = await spawnDaemon(t, notes, tempDir(t));
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  const body = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_notes","arguments":${deep}}}`;
  const r = await fetch(d.url, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${TEST_TOKEN}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body,
  });
  assert.equal(r.status, 400);
  const text = await r.text();
  assert.match(text, /NOTES_E_JSON_INVALID/);
  assert.doesNotMatch(text, /at .*\.js:\d+/);
});

test('temp files left by a killed writer are removed at the next start', { timeout: 60_000 }, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  // As a writer with pid 2^22+777 (gone) left them, seconds ago.
  const stray = join(notes, '.notes-mcp-tmp-4195081-abcdef012345');
  writeFileSync(stray, 'half a note');
  const d = await spawnDaemon(t, notes, tempDir(t));
  void d;
  assert.equal(existsSync(stray), false);
});

test('a multi-megabyte note saved and edited: /health keeps answering within 1 s (parsing runs off the main thread)', {
  timeout: 120_000,
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const d = await spawnDaemon(t, notes, tempDir(t));
  const c = await client(d.url);
  t.after(() => c.close());
  const lines = ['# Big'];
  for (let i = 0; i < 60_000; i++) lines.push(`- item ${i}: **bold** and \`code\` and [a link](x${i % 50}.md) text`);
  const big = `${lines.join('\n')}\n`;
  assert.ok(big.length > 3_000_000);
  const health = pollHealth(t, d.port);
  writeFileSync(join(notes, 'big.md'), big);
  // Saved by an editor: the watcher indexes it; then an agent appends to it.
  for (let i = 0; i < 100; i++) {
    const s = await c.callTool({ name: 'search_notes', arguments: { query: 'item 59999', mode: 'bm25', k: 1 } });
    if (JSON.stringify(s.structuredContent).includes('big.md')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const e = await c.callTool({
    name: 'edit_note',
    arguments: { path: 'big.md', operations: [{ op: 'append', text: '- the last zqxfinal line' }] },
  });
  assert.notEqual(e.isError, true, JSON.stringify(e.content));
  assert.ok((await health.stop()) > 10);
});

// Greedy clients as an outsider writes them: raw sockets with a 4 KiB receive buffer (which
// Node cannot set), each sending one resources/read. For 3 s each reads only its status line
// (the replies begun at once); then nothing for HOLD seconds; then each drains what is left
// (20 s in all, at least one read each), to tell a reply cut by the daemon (ends short) from one
// still held. Prints a JSON line: per socket [status, bytes, ended, began within 3 s].
const UNREAD_CLIENTS = String.raw`
import json, socket, sys, time
port, token, uri, n, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
meta = {'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': {'name': 'unread', 'version': '1'}, 'io.modelcontextprotocol/clientCapabilities': {}}
body = json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'resources/read', 'params': {'uri': uri, '_meta': meta}}).encode()
head = ('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n'
        'Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: resources/read\r\n'
        'Mcp-Name: %s\r\nContent-Length: %d\r\n\r\n' % (port, token, uri, len(body))).encode()
socks = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(('127.0.0.1', port))
    s.sendall(head + body)
    socks.append(s)
out = [['', 0, False, False] for _ in socks]
def read(i, s, size):
    try:
        d = s.recv(size)
    except ConnectionResetError:
        out[i][2] = True
        return False
    if not d:
        out[i][2] = True
        return False
    if out[i][1] < 12:
        out[i][0] = (out[i][0] + d.decode('latin1'))[:12]
    out[i][1] += len(d)
    return True
until = time.time() + 3
for i, s in enumerate(socks):
    s.settimeout(max(0.01, until - time.time()))
    try:
        if read(i, s, 12):
            out[i][3] = True
    except socket.timeout:
        pass
print('sent', flush=True)
time.sleep(hold)
deadline = time.time() + 20
for i, s in enumerate(socks):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:
        while not out[i][2]:
            s.settimeout(max(0.1, min(2, deadline - time.time())))
            if not read(i, s, 1 << 20) or time.time() > deadline:
                break
    except socket.timeout:
        pass
    s.close()
print(json.dumps(out), flush=True)
`;

/**
 * A 1 MB note whose JSON is 5.6 MB: control characters past the 64 KiB text sample, each
 * escaped in six bytes.
 */
function controlCharNote(): string {
  const sample = 'plain text line for the sample\n'.repeat(2_200);
  return `# c\n${sample}${`${'\u0001'.repeat(99)}\n`.repeat((1_000_000 - sample.length) / 100)}`;
}

test('clients that never read their replies: resources/read is capped, one token gets 64 requests in flight and 32 MiB of replies unread, unread ones are cut after 30 s, another token is served', {
  timeout: 150_000,
}, async (t) => {
  // Found from outside: 200 raw sockets each asked resources/read for an 8 MB note of quotes
  // (16 MB of JSON) and never read: RSS went from 0.5 to 6.8 GB and stayed there, and nothing
  // ever closed those connections. Here the 1 MB note is one whose JSON is 5.6 MB.
  const notes = tempDir(t);
  const ctl = controlCharNote();
  writeNotes(notes, {
    'a.md': '# A\n\nalpha\n',
    'ctl.md': ctl,
    'big.md': `# big\n${'long line of text\n'.repeat(120_000)}`,
  });
  const state = tempDir(t);
  const other = new TokenStore(join(state, 'tokens.json')).create('other', 'read');
  const d = await spawnDaemon(t, notes, state);
  const fair = await client(d.url, other.token);
  t.after(() => fair.close());

  // A note past the cap is refused with what to do instead; read_note pages it.
  await assert.rejects(fair.readResource({ uri: 'note://big.md' }), /larger than the 1048576 bytes resources\/read/);
  const paged = await fair.callTool({ name: 'read_note', arguments: { path: 'big.md' } });
  assert.equal((paged.structuredContent as { truncated?: boolean }).truncated, true);
  const whole = JSON.stringify({ result: await fair.readResource({ uri: 'note://ctl.md' }) }).length;
  assert.ok(whole > 5_000_000, `${whole} bytes of JSON`);

  const greedy = spawn('python3', ['-c', UNREAD_CLIENTS, String(d.port), TEST_TOKEN, 'note://ctl.md', '100', '38'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => greedy.kill('SIGKILL'));
  let out = '';
  greedy.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const done = new Promise<number | null>((resolve) => greedy.on('close', resolve));
  // Meanwhile another token is served and /health answers within 1 s.
  let worst = 0;
  const startMb = rssMb(d.child.pid ?? 0);
  let peakMb = startMb;
  while (!out.includes('\n[')) {
    assert.equal(greedy.exitCode, null, `the greedy clients failed: ${out}`);
    worst = Math.max(worst, await healthWithin(d.port, 1_000));
    peakMb = Math.max(peakMb, rssMb(d.child.pid ?? 0));
    const r = await fair.callTool({ name: 'search_notes', arguments: { query: 'alpha', k: 1 } });
    assert.notEqual(r.isError, true);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(await done, 0);
  t.diagnostic(`worst /health ${worst.toFixed(0)} ms; RSS ${startMb.toFixed(0)} -> peak ${peakMb.toFixed(0)} MB`);
  // 64 unread replies of 5.6 MB took RSS from 490 to 1,198 MB; now a token's replies wait
  // while its unread bytes are past 32 MiB.
  assert.ok(peakMb - startMb < 400, `RSS grew ${(peakMb - startMb).toFixed(0)} MB for one token's unread replies`);
  const sockets = JSON.parse(out.slice(out.indexOf('['))) as Array<[string, number, boolean, boolean]>;
  const busy = sockets.filter(([s]) => s === 'HTTP/1.1 429');
  const early = sockets.filter(([s, , , began]) => began && s === 'HTTP/1.1 200');
  assert.equal(busy.length, 100 - 64, JSON.stringify(sockets.slice(0, 3)));
  // Replies begun at once fill the token's unread budget (32 MiB; the kernel takes a little of
  // each), and the rest wait for room instead of all 64 being built.
  t.diagnostic(`${early.length} replies begun at once`);
  assert.ok(early.length >= 1 && early.length <= 16, `${early.length} replies begun at once for one token`);
  // Each of those, unread for 30 s, was cut: its socket ended long before the whole reply.
  for (const [, bytes, ended] of early) {
    assert.ok(ended && bytes < whole, `a reply never read was kept (${bytes} bytes read, connection ended: ${ended})`);
  }
  assert.ok(d.child.exitCode === null, d.stderr());
});

test('a client reading 12 large replies in parallel, slowly but steadily, gets every one whole (the unread budget waits, never cuts)', {
  timeout: 90_000,
}, async (t) => {
  // Found in review: cutting the newest reply past the token's 32 MiB of unread bytes also cut
  // clients that read, only slowly (a remote agent behind nginx, which passes replies at the
  // client's pace): 2 of 8 parallel reads of 5.6 MB replies ended in a socket error.
  const notes = tempDir(t);
  const ctl = controlCharNote();
  writeNotes(notes, { 'ctl.md': ctl });
  const d = await spawnDaemon(t, notes, tempDir(t));
  const read = async (id: number): Promise<number> => {
    const r = await fetch(d.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${TEST_TOKEN}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': '2026-07-28',
        'Mcp-Method': 'resources/read',
        'Mcp-Name': 'note://ctl.md',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'resources/read',
        params: {
          uri: 'note://ctl.md',
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'slow', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    assert.equal(r.status, 200);
    const reader = r.body!.getReader();
    const parts: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const text = Buffer.concat(parts).toString('utf8');
    const json = JSON.parse(text.startsWith('{') ? text : text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)) as {
      result?: { contents?: Array<{ text?: string }> };
    };
    return json.result?.contents?.[0]?.text?.length ?? 0;
  };
  const lengths = await Promise.all(Array.from({ length: 12 }, (_, i) => read(i + 1)));
  assert.deepEqual(lengths, Array(12).fill(ctl.length));
  assert.ok(d.child.exitCode === null, d.stderr());
});

test('read_note of a 2 MB note of backtick runs: /health answers within 1 s (link extraction is linear)', {
  timeout: 60_000,
}, async (t) => {
  // Found from outside: read_note extracts the links of the whole note on the main thread, and
  // unmatched backtick runs made that quadratic: one call froze /health for 4 s.
  const notes = tempDir(t);
  const parts = ['# t\n\n[[a]] '];
  for (let i = 1; i <= 2_000; i++) parts.push(`${'`'.repeat(i)}x`);
  writeNotes(notes, { 'a.md': '# A\n', 'ticks.md': `${parts.join('')}\n` });
  const d = await spawnDaemon(t, notes, tempDir(t));
  const c = await client(d.url);
  t.after(() => c.close());
  const health = pollHealth(t, d.port);
  for (let i = 0; i < 3; i++) {
    const r = await c.callTool({ name: 'read_note', arguments: { path: 'ticks.md', end_line: 1 } });
    assert.notEqual(r.isError, true);
  }
  assert.ok((await health.stop()) > 0);
});

test('idle keep-alive connections without a token cannot use up the file descriptors: another client is still served', {
  timeout: 60_000,
  // Under a 256-descriptor limit (launchd's default), 240 connections that each sent one
  // GET /health (no token needed) and then idled were kept for keepAliveTimeout (65 s), and
  // search_notes and write_note failed (EMFILE). Connections are now capped below the limit,
  // and idle ones are closed near the cap.
}, async (t) => {
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n\nalpha\n' });
  const d = await spawnDaemon(t, notes, tempDir(t), {}, { fdLimit: 256 });
  const idle: Socket[] = [];
  t.after(() => {
    for (const s of idle) s.destroy();
  });
  for (let i = 0; i < 240; i++) {
    const s = connect(d.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\n\r\n`);
    s.resume();
    idle.push(s);
  }
  await new Promise((r) => setTimeout(r, 2_000));
  const c = await client(d.url);
  t.after(() => c.close());
  const r = await c.callTool({ name: 'search_notes', arguments: { query: 'alpha' } });
  assert.notEqual(r.isError, true);
  const w = await c.callTool({ name: 'write_note', arguments: { path: 'b.md', content: '# B\n' } });
  assert.notEqual(w.isError, true, JSON.stringify(w.content));
});

/** A note of 170k lines and as many links (8 MB), and a daemon serving it. */
async function linkHeavyDaemon(
  t: { after: (fn: () => void) => void },
  env: Record<string, string> = {},
): Promise<Spawned & { state: string }> {
  const notes = tempDir(t);
  const state = tempDir(t);
  const line = 'lorem ipsum [[link]] dolor sit amet consectetur\n';
  writeNotes(notes, { 'a.md': '# A\n', 'links.md': `# big\n${line.repeat(170_000)}` });
  return { ...(await spawnDaemon(t, notes, state, env)), state };
}

function readNoteRequest(port: number, id: number): string {
  const b = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'read_note',
      arguments: { path: 'links.md' },
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'pipe', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  return (
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n` +
    'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
    `MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: read_note\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`
  );
}

test('connections pipelining 100 requests each are closed: /health answers within 1 s, another client is served', {
  timeout: 90_000,
}, async (t) => {
  // Found from outside: Node dispatches every request of a chunk at once, so 20 connections
  // each pipelining 100 read_note calls were 2,000 requests in one turn of the event loop, and
  // /health waited up to a second (it failed CI once). No MCP client or proxy pipelines: more
  // than a few requests ahead of their answers close the connection. The per-minute limit is
  // raised: its refusals close connections too, and this is about the pipelining bound.
  const d = await linkHeavyDaemon(t, { NOTES_MCP_RATE_LIMIT: '1000000' });
  // Once the daemon has settled: for a few seconds after its first index it embeds the words
  // of every chunk in the background, and an attack landing then also meets that work (the
  // worst /health was 210-530 ms then, against 90-140 ms after). This test is about the bound.
  await new Promise((r) => setTimeout(r, 4_000));
  const sockets: Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  let closed = 0;
  const answers: number[] = [];
  for (let c = 0; c < 20; c++) {
    const s = connect(d.port, '127.0.0.1');
    s.on('error', () => undefined);
    // Replies counted by their status lines (the note holds none); a status line is 13 characters, so the last 12 of a chunk can never hold one already counted.
    let replies = 0;
    let tail = '';
    s.on('data', (b: Buffer) => {
      const text = tail + b.toString('latin1');
      replies += text.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
      tail = text.slice(-12);
    });
    s.once('close', () => {
      closed++;
      answers.push(replies);
    });
    s.write(Array.from({ length: 100 }, (_, i) => readNoteRequest(d.port, i + 1)).join(''));
    sockets.push(s);
  }
  const health = pollHealth(t, d.port);
  // A connection whose first read held at most 4 requests is paced by its replies instead,
  // which is no harm; in one write of 100, nearly all arrive at once.
  for (const until = Date.now() + 10_000; closed < 20 && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(closed >= 10, `${closed} of 20 pipelining connections closed`);
  for (const n of answers)
    assert.ok(n <= MAX_PIPELINED, `a connection pipelining 100 requests had ${n} of them answered`);
  const other = new TokenStore(join(d.state, 'tokens.json')).create('other', 'read');
  const c = await client(d.url, other.token);
  t.after(() => c.close());
  const r = await c.callTool({ name: 'read_note', arguments: { path: 'links.md', end_line: 3 } });
  assert.notEqual(r.isError, true);
  assert.equal((r.structuredContent as { links_total?: unknown }).links_total, 5_000);
  assert.ok((await health.stop()) > 0);
  assert.ok(d.child.exitCode === null, d.stderr());
});

test('a refusal before the body (401, 403) is read by a client sending a large body at full speed, not reset', async (t) => {
  // Found from outside, behind nginx: the daemon closed the socket with the body unread, the
  // kernel sent a reset, and nginx answered 502 instead of the 401. Here, raw: 7-8 of 20
  // requests with a 1 MB or 3 MB body saw the reset on the build before (a daemon process of its own:
  // in the test's process the timing hid it).
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const { port } = await spawnDaemon(t, notes, tempDir(t));
  const attempt = (size: number, header: string): Promise<string> =>
    new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (b: Buffer) => {
        got += b.toString('latin1');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(/^HTTP\/1\.1 \d+/.exec(got)?.[0] ?? `error ${e.code}`));
      s.on('close', () => resolve(/^HTTP\/1\.1 \d+/.exec(got)?.[0] ?? 'closed with nothing'));
      s.write(
        `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n${header}\r\n\r\n`,
      );
      s.write(Buffer.alloc(size, 0x20));
    });
  const seen: Record<string, number> = {};
  for (const size of [1024 * 1024, 3 * 1024 * 1024]) {
    for (let i = 0; i < 10; i++) {
      for (const header of [
        'Authorization: Bearer wrong-token-0123456789',
        `Authorization: Bearer ${TEST_TOKEN}\r\nOrigin: https://evil.example`,
      ]) {
        const r = await attempt(size, header);
        seen[r] = (seen[r] ?? 0) + 1;
      }
    }
  }
  assert.deepEqual(seen, { 'HTTP/1.1 401': 20, 'HTTP/1.1 403': 20 });
});

test('Expect: 100-continue: a refused client hears its 401 or 403 without sending its body; an accepted one gets 100 Continue', async (t) => {
  // Found from outside: Node sent "100 Continue" before any check ran, so a client with a bad
  // token uploaded its whole body (up to the 4 MB limit) before hearing 401.
  const notes = tempDir(t);
  writeNotes(notes, { 'a.md': '# A\n' });
  const { port } = await spawnDaemon(t, notes, tempDir(t));
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
  });
  // Sends the headers only, then the body once (and only if) "100 Continue" comes.
  const attempt = (header: string): Promise<{ first: string; all: string; sentBody: boolean }> =>
    new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      let sentBody = false;
      const done = (): void => {
        clearTimeout(timer);
        resolve({ first: /^HTTP\/1\.1 \d+[^\r]*/.exec(got)?.[0] ?? 'nothing', all: got, sentBody });
      };
      const timer = setTimeout(() => s.destroy(), 5_000);
      s.on('data', (b: Buffer) => {
        got += b.toString('latin1');
        if (!sentBody && got.startsWith('HTTP/1.1 100')) {
          sentBody = true;
          s.write(body);
        }
        if (/\r\n\r\n[\s\S]*\}\s*$/.test(got.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, ''))) s.end();
      });
      s.on('error', done);
      s.on('close', done);
      s.write(
        `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n${header}\r\n\r\n`,
      );
    });
  const bad = await attempt('Authorization: Bearer wrong-token-0123456789');
  assert.equal(bad.first, 'HTTP/1.1 401 Unauthorized', bad.all);
  assert.equal(bad.sentBody, false, 'the refused client was never told to send its body');
  assert.match(bad.all, /NOTES_E_AUTH_INVALID/);
  const foreign = await attempt(`Authorization: Bearer ${TEST_TOKEN}\r\nOrigin: https://evil.example`);
  assert.equal(foreign.first, 'HTTP/1.1 403 Forbidden', foreign.all);
  assert.equal(foreign.sentBody, false);
  // A declared length over the limit: 413 at once, not "100 Continue" and then the whole body
  // read (found from outside: 1 GiB uploaded before the 413, with a valid token).
  const huge = await new Promise<string>((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => sock.destroy(), 5_000);
    sock.on('data', (b: Buffer) => {
      got += b.toString('latin1');
      if (got.includes('\r\n\r\n')) sock.destroy();
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(/^HTTP\/1\.1 \d+[^\r]*/.exec(got)?.[0] ?? 'nothing');
    });
    sock.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${2 ** 30}\r\nExpect: 100-continue\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n\r\n`,
    );
  });
  assert.equal(huge, 'HTTP/1.1 413 Payload Too Large');
  const good = await attempt(`Authorization: Bearer ${TEST_TOKEN}`);
  assert.equal(good.first, 'HTTP/1.1 100 Continue', good.all);
  assert.equal(good.sentBody, true);
  assert.match(good.all, /HTTP\/1\.1 200 OK[\s\S]*"protocolVersion"/);
});
