#!/usr/bin/env node
// The HTTP half of verify.sh: /health, the certificate, MCP initialize, tools/list latency on ONE
// kept-alive connection, search_notes, the auth and Origin negatives, the baseline comparison,
// then the report (lines or --json) and the record (--record, written atomically).
// Node built-ins only: it runs from a release checkout before (or without) npm dependencies.
// Secrets never come through argv: the token is read from --token-file.
//
// Exit status: 0 every check passed, 1 a check failed, 2 bad usage.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { limitFor, percentile, readBaseline, round, writeAtomic } from './verify/figures.mjs';
import { client, reply, short } from './verify/http.mjs';

const PROTOCOL = '2025-11-25';
const TOOLS = ['search_notes', 'read_note', 'write_note', 'list_notes', 'reindex'];
const MIN_SAMPLES = 100;
const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': PROTOCOL,
};
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'notes-mcp-verify', version: '2' } },
};

function usageError(message) {
  process.stderr.write(`verify-client: ${message}\n`);
  process.exit(2);
}

// Flag -> [option key, kind]: 'flag' takes no value, 'text' a string, a number is the minimum.
const FLAGS = {
  '--url': ['url', 'text'],
  '--token-file': ['tokenFile', 'text'],
  '--resolve-ip': ['resolveIp', 'text'],
  '--insecure': ['insecure', 'flag'],
  '--cacert': ['cacert', 'text'],
  '--samples': ['samples', MIN_SAMPLES],
  '--warmup': ['warmup', 0],
  '--query': ['query', 'text'],
  '--timeout': ['timeoutS', 1],
  '--health-url': ['healthUrl', 'text'],
  '--min-cert-days': ['minCertDays', 0],
  '--checks': ['checks', 'text'],
  '--baseline': ['baseline', 'text'],
  '--no-baseline': ['noBaseline', 'flag'],
  '--update-baseline': ['updateBaseline', 'flag'],
  '--tolerance': ['tolerancePct', 0],
  '--tolerance-ms': ['toleranceMs', 0],
  '--record': ['record', 'text'],
  '--json': ['json', 'flag'],
  '--wait': ['waitS', 0],
};

function parseArgs(argv) {
  const o = {
    ...{ url: '', tokenFile: '', resolveIp: '', insecure: false, cacert: '', query: 'notes', healthUrl: '' },
    ...{ samples: 200, warmup: 20, timeoutS: 15, minCertDays: 14, checks: '', record: '', json: false, waitS: 0 },
    ...{ baseline: '', noBaseline: false, updateBaseline: false, tolerancePct: 50, toleranceMs: 5 },
  };
  for (let i = 0; i < argv.length; i++) {
    const spec = FLAGS[argv[i]];
    if (!spec) usageError(`unknown option ${argv[i]}`);
    const [key, kind] = spec;
    if (kind === 'flag') {
      o[key] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) usageError(`${argv[i - 1]} needs a value`);
    if (kind === 'text') o[key] = value;
    else if (!(Number(value) >= kind)) usageError(`${argv[i - 1]} must be a number >= ${kind}`);
    else o[key] = Number(value);
  }
  o.url = o.url.replace(/\/+$/, '').replace(/\/mcp$/, '');
  if (!/^https?:\/\/[^/]+$/.test(o.url)) usageError('--url must look like https://host[:port]');
  return o;
}

/** After a boot the daemon may still be loading: wait (bounded) until its /health answers. */
async function waitForHealth(o) {
  const target = new URL(o.healthUrl || `${o.url}/health`);
  const deadline = Date.now() + o.waitS * 1000;
  while (Date.now() < deadline) {
    const c = client({ ...o, url: target.origin, resolveIp: o.healthUrl ? '' : o.resolveIp }, { keepAlive: false });
    const r = await c.send('GET', target.pathname).catch(() => undefined);
    c.close();
    if (r?.status === 200) return;
    await new Promise((done) => setTimeout(done, 1000));
  }
}

/** /health through the endpoint (status only when it goes through nginx); with --health-url the
 * daemon's full body on loopback as well, for the counts. */
async function checkHealth(c, o, add) {
  try {
    const h = await c.send('GET', '/health');
    let body;
    try {
      body = JSON.parse(h.body);
    } catch {
      body = undefined;
    }
    if (h.status !== 200 || !body?.status) throw new Error(`${h.status} ${short(h.body)}`);
    let detail = `status ${body.status}`;
    if (o.healthUrl) {
      const url = new URL(o.healthUrl);
      const local = client({ ...o, url: url.origin, resolveIp: '' }, { keepAlive: false });
      try {
        const full = JSON.parse((await local.send('GET', url.pathname)).body);
        detail += `; daemon ${full.version ?? '?'}: ${full.notes ?? '?'} notes, ${full.chunks ?? '?'} chunks, model ${full.model ?? '?'}`;
      } finally {
        local.close();
      }
    }
    add('PASS', 'health', detail);
  } catch (err) {
    add('FAIL', 'health', `GET ${o.url}/health -> ${err.message}`);
  }
}

/** Fails within --min-cert-days, or within a sixth of the lifetime of a short-lived certificate
 * (Let's Encrypt's 6-day IP certificates renew every 3 days: 1 day). */
function checkCertificate(c, o, add) {
  if (!o.url.startsWith('https:')) return;
  const cert = c.peerCert();
  if (!cert?.valid_to) {
    add('FAIL', 'certificate', `no TLS certificate from ${o.url}`);
    return;
  }
  const end = Date.parse(cert.valid_to);
  const lifetimeDays = (end - Date.parse(cert.valid_from)) / 86_400_000;
  const left = (end - Date.now()) / 86_400_000;
  const min = Math.min(o.minCertDays, lifetimeDays / 6);
  const what = `expires ${new Date(end).toISOString()} (${left.toFixed(1)} days left of ${Math.round(lifetimeDays)})`;
  if (left >= min) add('PASS', 'certificate', what);
  else add('FAIL', 'certificate', `${what}: less than ${min.toFixed(1)} days: check the renewal job (RUNBOOK.md)`);
}

/** initialize, then warm-up + timed tools/list calls and a search_notes call, all on c's one
 * connection. Returns the figures (undefined when nothing could be timed). */
async function checkMcp(c, o, auth, add) {
  let session = '';
  const post = (body) =>
    c.send('POST', '/mcp', {
      headers: { ...MCP_HEADERS, ...auth, ...(session ? { 'mcp-session-id': session } : {}) },
      body: JSON.stringify(body),
    });
  try {
    const r = await post(INITIALIZE);
    const m = reply(r, 1);
    if (r.status !== 200 || !m?.result) throw new Error(`${r.status} ${short(r.body)}`);
    session = String(r.headers['mcp-session-id'] ?? '');
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const info = m.result.serverInfo ?? {};
    add('PASS', 'initialize', `${info.name} ${info.version}, protocol ${m.result.protocolVersion}`);
  } catch (err) {
    add('FAIL', 'initialize', `POST ${o.url}/mcp -> ${err.message}`);
    add('SKIP', 'tools/list', 'initialize failed');
    add('SKIP', 'search_notes', 'initialize failed');
    return undefined;
  }
  const figures = await timeToolsList(c, o, post, add);
  try {
    const r = await post({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'search_notes', arguments: { query: o.query } },
    });
    const m = reply(r, 2);
    if (r.status !== 200 || !m) throw new Error(`${r.status} ${short(r.body)}`);
    if (m.error) throw new Error(`error ${short(JSON.stringify(m.error))}`);
    if (m.result?.isError) throw new Error(`isError ${short(JSON.stringify(m.result.content))}`);
    add(
      'PASS',
      'search_notes',
      `"${o.query}": ${(m.result?.content ?? []).length} content item(s) in ${round(r.ms)} ms`,
    );
  } catch (err) {
    add('FAIL', 'search_notes', err.message);
  }
  if (session) await c.send('DELETE', '/mcp', { headers: { ...auth, 'mcp-session-id': session } }).catch(() => {});
  return figures;
}

async function timeToolsList(c, o, post, add) {
  const lat = [];
  let names = '';
  const before = c.sockets.size;
  for (let i = 0; i < o.warmup + o.samples; i++) {
    const id = 100 + i;
    try {
      const r = await post({ jsonrpc: '2.0', id, method: 'tools/list' });
      const m = reply(r, id);
      if (r.status !== 200 || !m?.result?.tools) throw new Error(`${r.status} ${short(r.body)}`);
      if (i >= o.warmup) lat.push(r.ms);
      names = m.result.tools
        .map((t) => t.name)
        .sort()
        .join(',');
    } catch (err) {
      add('FAIL', 'tools/list', `call ${i + 1} -> ${err.message}`);
      return undefined;
    }
  }
  const connections = c.sockets.size - before + 1;
  lat.sort((a, b) => a - b);
  const [p50, p95, p99] = [0.5, 0.95, 0.99].map((q) => round(percentile(lat, q)));
  const missing = TOOLS.filter((t) => !`,${names},`.includes(`,${t},`));
  const paced = c.throttled() ? `, ${c.throttled()} answered 429 by the proxy's rate limit and sent again` : '';
  const text = `${o.samples} calls after ${o.warmup} warm-up on ${connections} connection(s)${paced}: p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms`;
  if (missing.length) add('FAIL', 'tools/list', `missing tools: ${missing.join(' ')} (have: ${names})`);
  else if (connections !== 1)
    add('FAIL', 'tools/list', `${text}: the connection was not kept alive, so handshakes were timed`);
  else add('PASS', 'tools/list', `${text} (${names})`);
  return { p50, p95, p99, connections };
}

/** No token, and a foreign page's Origin, each on a connection of its own. */
async function checkNegatives(o, auth, add) {
  const body = JSON.stringify(INITIALIZE);
  for (const [name, headers, want, what] of [
    ['no-token', MCP_HEADERS, 401, 'without a bearer token'],
    [
      'foreign-origin',
      { ...MCP_HEADERS, ...auth, origin: 'https://evil.example' },
      403,
      'for Origin https://evil.example',
    ],
  ]) {
    const n = client(o, { keepAlive: false });
    try {
      const r = await n.send('POST', '/mcp', { headers, body });
      if (r.status === want) add('PASS', name, `${want} ${what}`);
      else add('FAIL', name, `expected ${want} ${what}, got ${r.status}`);
    } catch (err) {
      add('FAIL', name, `expected ${want} ${what}: ${err.message}`);
    } finally {
      n.close();
    }
  }
}

/** Compare p50 and p95 with the baseline; record one when there is none (and all else passed). */
function checkBaseline(o, f, checks, add) {
  if (o.noBaseline || !f) {
    add('SKIP', 'baseline', o.noBaseline ? '--no-baseline' : 'no latency measured');
    return null;
  }
  const stored = o.baseline && !o.updateBaseline ? readBaseline(o.baseline) : undefined;
  if (stored) {
    const [l50, l95] = [limitFor(stored.p50_ms, o), limitFor(stored.p95_ms, o)];
    const rule = `baseline p50 ${stored.p50_ms} ms, p95 ${stored.p95_ms} ms + ${o.tolerancePct}% (at least +${o.toleranceMs} ms)`;
    if (f.p50 <= l50 && f.p95 <= l95)
      add('PASS', 'baseline', `p50 ${f.p50} <= ${l50} ms, p95 ${f.p95} <= ${l95} ms (${rule})`);
    else
      add(
        'FAIL',
        'baseline',
        `p50 ${f.p50} ms (limit ${l50}), p95 ${f.p95} ms (limit ${l95}): slower than the ${rule}`,
      );
    return { p50_ms: stored.p50_ms, p95_ms: stored.p95_ms, at: stored.at ?? null };
  }
  if (!o.baseline) add('SKIP', 'baseline', 'no --baseline file');
  else if (checks.some((x) => x.status === 'FAIL'))
    add('SKIP', 'baseline', `not recorded in ${o.baseline}: other checks failed`);
  else {
    const b = {
      at: new Date().toISOString(),
      url: o.url,
      samples: o.samples,
      p50_ms: f.p50,
      p95_ms: f.p95,
      p99_ms: f.p99,
    };
    writeAtomic(o.baseline, `${JSON.stringify(b, null, 2)}\n`);
    add('PASS', 'baseline', `recorded p50 ${f.p50} ms, p95 ${f.p95} ms in ${o.baseline}`);
  }
  return null;
}

async function verify(o) {
  const checks = [];
  const add = (status, name, detail = '') => checks.push({ name, status, detail });
  // Checks only the Mac itself can make (launchd, nginx -t), from verify.sh.
  for (const line of o.checks ? readFileSync(o.checks, 'utf8').split('\n') : []) {
    const [status, name, ...rest] = line.split('\t');
    if (status && name) add(status, name, rest.join('\t'));
  }
  const token = o.tokenFile ? readFileSync(o.tokenFile, 'utf8').trim() : '';
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  if (o.waitS > 0) await waitForHealth(o);
  const c = client(o, { keepAlive: true });
  let figures;
  try {
    await checkHealth(c, o, add);
    checkCertificate(c, o, add);
    figures = await checkMcp(c, o, auth, add);
  } finally {
    c.close();
  }
  await checkNegatives(o, auth, add);
  const baseline = checkBaseline(o, figures, checks, add);
  const failed = checks.filter((x) => x.status === 'FAIL');
  return {
    at: new Date().toISOString(),
    ok: failed.length === 0,
    url: o.url,
    samples: figures ? o.samples : 0,
    warmup: o.warmup,
    connections: figures?.connections ?? 0,
    p50_ms: figures?.p50 ?? null,
    p95_ms: figures?.p95 ?? null,
    p99_ms: figures?.p99 ?? null,
    baseline,
    tolerance: { pct: o.tolerancePct, min_ms: o.toleranceMs },
    reason: failed.length ? failed.map((x) => `${x.name}: ${x.detail}`).join('; ') : null,
    checks,
  };
}

function report(r) {
  const lines = r.checks.map((x) => `${x.status} ${x.name.padEnd(16)} ${x.detail}`.trimEnd());
  const counted = r.checks.filter((x) => x.status !== 'SKIP');
  const passed = counted.filter((x) => x.status === 'PASS').length;
  const failed = counted.filter((x) => x.status === 'FAIL').map((x) => x.name);
  const base = r.baseline ? `, baseline p50=${r.baseline.p50_ms}ms p95=${r.baseline.p95_ms}ms` : '';
  const lat =
    r.p95_ms === null
      ? ''
      : ` | tools/list p50=${r.p50_ms}ms p95=${r.p95_ms}ms p99=${r.p99_ms}ms over ${r.samples} on ${r.connections} connection(s)${base}`;
  lines.push(
    r.ok
      ? `verify: PASS ${r.url} ${passed}/${counted.length} checks (${r.checks.length - counted.length} skipped)${lat}`
      : `verify: FAIL ${r.url} ${failed.length} of ${counted.length} checks failed: ${failed.join(' ')}${lat}`,
  );
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  const o = parseArgs(process.argv.slice(2));
  const r = await verify(o);
  if (o.record) {
    try {
      writeAtomic(o.record, `${JSON.stringify(r, null, 2)}\n`);
    } catch (err) {
      process.stderr.write(`verify-client: cannot write ${o.record}: ${err.message}\n`);
    }
  }
  process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : report(r));
  process.exitCode = r.ok ? 0 : 1;
}
