#!/usr/bin/env node
// The HTTP half of verify.sh: /health, MCP initialize, tools/list latency on ONE kept-alive
// connection, search_notes, the auth and Origin negatives, the certificate, the baseline
// comparison, then the report (lines or --json) and the record (--record, written atomically).
// Node built-ins only: it runs from a release checkout before (or without) npm dependencies.
// Secrets never come through argv: the token is read from --token-file.
//
// Exit status: 0 every check passed, 1 a check failed, 2 bad usage.
import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';

const PROTOCOL = '2025-11-25';
const TOOLS = ['search_notes', 'read_note', 'write_note', 'list_notes', 'reindex'];
export const MIN_SAMPLES = 100;

export function usageError(message) {
  process.stderr.write(`verify-client: ${message}\n`);
  process.exit(2);
}

export function parseArgs(argv) {
  const o = {
    url: '',
    tokenFile: '',
    resolveIp: '',
    insecure: false,
    cacert: '',
    samples: 200,
    warmup: 20,
    query: 'notes',
    timeoutS: 15,
    healthUrl: '',
    minCertDays: 14,
    checks: '',
    baseline: '',
    noBaseline: false,
    updateBaseline: false,
    tolerancePct: 50,
    toleranceMs: 5,
    record: '',
    json: false,
    waitS: 0,
  };
  const num = (flag, v, min) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usageError(`${flag} must be a number >= ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const next = argv[++i];
      if (next === undefined) usageError(`${a} needs a value`);
      return next;
    };
    switch (a) {
      case '--url':
        o.url = v()
          .replace(/\/+$/, '')
          .replace(/\/mcp$/, '');
        break;
      case '--token-file':
        o.tokenFile = v();
        break;
      case '--resolve-ip':
        o.resolveIp = v();
        break;
      case '--insecure':
        o.insecure = true;
        break;
      case '--cacert':
        o.cacert = v();
        break;
      case '--samples':
        o.samples = num(a, v(), MIN_SAMPLES);
        break;
      case '--warmup':
        o.warmup = num(a, v(), 0);
        break;
      case '--query':
        o.query = v();
        break;
      case '--timeout':
        o.timeoutS = num(a, v(), 1);
        break;
      case '--health-url':
        o.healthUrl = v();
        break;
      case '--min-cert-days':
        o.minCertDays = num(a, v(), 0);
        break;
      case '--checks':
        o.checks = v();
        break;
      case '--baseline':
        o.baseline = v();
        break;
      case '--no-baseline':
        o.noBaseline = true;
        break;
      case '--update-baseline':
        o.updateBaseline = true;
        break;
      case '--tolerance':
        o.tolerancePct = num(a, v(), 0);
        break;
      case '--tolerance-ms':
        o.toleranceMs = num(a, v(), 0);
        break;
      case '--record':
        o.record = v();
        break;
      case '--json':
        o.json = true;
        break;
      case '--wait':
        o.waitS = num(a, v(), 0);
        break;
      default:
        usageError(`unknown option ${a}`);
    }
  }
  if (!/^https?:\/\/[^/]+$/.test(o.url)) usageError('--url must look like https://host[:port]');
  return o;
}

/** Nearest-rank percentile of sorted values: the smallest value with at least q of them at or below. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

const round = (ms) => Math.round(ms * 1000) / 1000;

/** A client bound to one agent: keepAlive with one socket means one TCP (and TLS) connection. */
function client(o, { keepAlive }) {
  const url = new URL(o.url);
  const https = url.protocol === 'https:';
  const tls = https
    ? {
        rejectUnauthorized: !o.insecure,
        // --cacert adds a CA (the private one) to Node's own roots instead of replacing them.
        ...(o.cacert ? { ca: [...rootCertificates, readFileSync(o.cacert, 'utf8')] } : {}),
        ...(/^[\d.]+$|^\[/.test(url.hostname) ? {} : { servername: url.hostname }),
      }
    : {};
  const Agent = https ? HttpsAgent : HttpAgent;
  const agent = new Agent({ keepAlive, maxSockets: 1, ...tls });
  const lookup = o.resolveIp
    ? (_host, options, cb) => {
        const family = o.resolveIp.includes(':') ? 6 : 4;
        if (options?.all) cb(null, [{ address: o.resolveIp, family }]);
        else cb(null, o.resolveIp, family);
      }
    : undefined;
  const sockets = new Set();
  let peerCert;
  let throttled = 0;
  const once = (method, path, { headers = {}, body } = {}) =>
    new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = (https ? httpsRequest : httpRequest)(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port || (https ? 443 : 80),
          path,
          method,
          agent,
          headers: { host: url.host, ...headers },
          ...(lookup ? { lookup } : {}),
          ...tls,
        },
        (res) => {
          const chunks = [];
          res.on('data', (d) => chunks.push(d));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: Number(process.hrtime.bigint() - started) / 1e6,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('socket', (s) => {
        sockets.add(s);
        if (https && !peerCert) {
          const grab = () => {
            peerCert ??= s.getPeerCertificate?.();
          };
          if (s.encrypted && s.getPeerCertificate?.()?.valid_to) grab();
          else s.once('secureConnect', grab);
        }
      });
      req.setTimeout(o.timeoutS * 1000, () => req.destroy(new Error(`no answer within ${o.timeoutS} s`)));
      req.on('error', reject);
      req.end(body);
    });
  // nginx's per-address rate limit answers 429 at once (limit_req nodelay): wait for the bucket
  // to drain a little and send the same request again; only answered calls are timed.
  const send = async (method, path, opts) => {
    const deadline = Date.now() + o.timeoutS * 1000;
    for (;;) {
      const r = await once(method, path, opts);
      if (r.status !== 429 || Date.now() > deadline) return r;
      throttled++;
      const after = Number(r.headers['retry-after']);
      await new Promise((done) => setTimeout(done, Number.isFinite(after) && after > 0 ? after * 1000 : 100));
    }
  };
  return { send, sockets, peerCert: () => peerCert, throttled: () => throttled, close: () => agent.destroy() };
}

/** JSON-RPC messages in a body that is plain JSON or an SSE stream (data: lines). */
export function messages(text) {
  if (/^\s*[[{]/.test(text)) {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [v];
  }
  const out = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) {
      try {
        out.push(JSON.parse(data));
      } catch {
        // a keep-alive or partial event
      }
    }
  }
  return out;
}

function reply(res, id) {
  let all;
  try {
    all = messages(res.body);
  } catch {
    return undefined;
  }
  return all.find((m) => m && String(m.id) === String(id));
}

const short = (s, n = 160) => String(s).replace(/\s+/g, ' ').slice(0, n);

export function readBaseline(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (/^\s*\{/.test(text)) {
    const b = JSON.parse(text);
    return typeof b.p50_ms === 'number' && typeof b.p95_ms === 'number' ? b : undefined;
  }
  // The key=value files older verify.sh versions wrote.
  const kv = Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.split('='))
      .filter((p) => p.length === 2),
  );
  const p50 = Number(kv.p50_ms);
  const p95 = Number(kv.p95_ms);
  return Number.isFinite(p50) && Number.isFinite(p95) ? { p50_ms: p50, p95_ms: p95, at: kv.date ?? null } : undefined;
}

/** Allowed value for a baseline figure: the percentage, but never tighter than the absolute slack. */
export function limitFor(base, o) {
  return round(Math.max(base * (1 + o.tolerancePct / 100), base + o.toleranceMs));
}

function writeAtomic(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${file.split('/').pop()}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}

async function waitForHealth(o, target) {
  const deadline = Date.now() + o.waitS * 1000;
  for (;;) {
    const c = client(
      { ...o, url: new URL(target).origin, resolveIp: target === o.healthUrl ? '' : o.resolveIp },
      { keepAlive: false },
    );
    try {
      const r = await c.send('GET', new URL(target).pathname);
      if (r.status === 200) return;
    } catch {
      // not up yet
    } finally {
      c.close();
    }
    if (Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function verify(o) {
  const checks = [];
  const add = (status, name, detail = '') => checks.push({ name, status, detail });
  if (o.checks) {
    for (const line of readFileSync(o.checks, 'utf8').split('\n').filter(Boolean)) {
      const [status, name, ...rest] = line.split('\t');
      if (status && name) add(status, name, rest.join('\t'));
    }
  }
  let token = '';
  if (o.tokenFile) token = readFileSync(o.tokenFile, 'utf8').trim();
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  const mcpHeaders = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': PROTOCOL,
  };
  if (o.waitS > 0) await waitForHealth(o, o.healthUrl || `${o.url}/health`);

  const c = client(o, { keepAlive: true });
  let p50;
  let p95;
  let p99;
  let connections = 0;
  try {
    // /health through the endpoint (status only when it goes through nginx), then the daemon's
    // full body on loopback when we are on the Mac (--health-url).
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
        const local = client({ ...o, url: new URL(o.healthUrl).origin, resolveIp: '' }, { keepAlive: false });
        try {
          const full = JSON.parse((await local.send('GET', new URL(o.healthUrl).pathname)).body);
          detail += `; daemon ${full.version ?? '?'}: ${full.notes ?? '?'} notes, ${full.chunks ?? '?'} chunks, model ${full.model ?? '?'}`;
        } finally {
          local.close();
        }
      }
      add('PASS', 'health', detail);
    } catch (err) {
      add('FAIL', 'health', `GET ${o.url}/health -> ${err.message}`);
    }

    if (o.url.startsWith('https:')) {
      const cert = c.peerCert();
      if (!cert?.valid_to) add('FAIL', 'certificate', `no TLS certificate from ${o.url}`);
      else {
        const end = Date.parse(cert.valid_to);
        const lifetimeDays = (end - Date.parse(cert.valid_from)) / 86_400_000;
        const left = (end - Date.now()) / 86_400_000;
        // Short-lived certificates (6-day IP certificates) renew every few days: a sixth of their life.
        const min = Math.min(o.minCertDays, lifetimeDays / 6);
        const what = `expires ${new Date(end).toISOString()} (${left.toFixed(1)} days left of ${Math.round(lifetimeDays)})`;
        if (left >= min) add('PASS', 'certificate', what);
        else
          add('FAIL', 'certificate', `${what}: less than ${min.toFixed(1)} days: check the renewal job (RUNBOOK.md)`);
      }
    }

    let session = '';
    const post = (body, extra = {}) =>
      c.send('POST', '/mcp', {
        headers: { ...mcpHeaders, ...auth, ...(session ? { 'mcp-session-id': session } : {}), ...extra },
        body: JSON.stringify(body),
      });
    let initialized = false;
    try {
      const r = await post({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'notes-mcp-verify', version: '2' } },
      });
      const m = reply(r, 1);
      if (r.status !== 200 || !m?.result) throw new Error(`${r.status} ${short(r.body)}`);
      session = String(r.headers['mcp-session-id'] ?? '');
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const info = m.result.serverInfo ?? {};
      add('PASS', 'initialize', `${info.name} ${info.version}, protocol ${m.result.protocolVersion}`);
      initialized = true;
    } catch (err) {
      add('FAIL', 'initialize', `POST ${o.url}/mcp -> ${err.message}`);
    }

    if (!initialized) {
      add('SKIP', 'tools/list', 'initialize failed');
      add('SKIP', 'search_notes', 'initialize failed');
    } else {
      const lat = [];
      let names = '';
      let failed = '';
      const before = c.sockets.size;
      for (let i = 0; i < o.warmup + o.samples && !failed; i++) {
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
          failed = `call ${i + 1} -> ${err.message}`;
        }
      }
      connections = c.sockets.size - before + 1;
      if (failed) add('FAIL', 'tools/list', failed);
      else {
        lat.sort((a, b) => a - b);
        [p50, p95, p99] = [0.5, 0.95, 0.99].map((q) => round(percentile(lat, q)));
        const missing = TOOLS.filter((t) => !`,${names},`.includes(`,${t},`));
        const paced = c.throttled() ? `, ${c.throttled()} answered 429 by the proxy's rate limit and sent again` : '';
        const figures = `${o.samples} calls after ${o.warmup} warm-up on ${connections} connection(s)${paced}: p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms`;
        if (missing.length) add('FAIL', 'tools/list', `missing tools: ${missing.join(' ')} (have: ${names})`);
        else if (connections !== 1)
          add('FAIL', 'tools/list', `${figures}: the connection was not kept alive, so handshakes were timed`);
        else add('PASS', 'tools/list', `${figures} (${names})`);
      }
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
      if (session) {
        await c.send('DELETE', '/mcp', { headers: { ...auth, 'mcp-session-id': session } }).catch(() => undefined);
      }
    }
  } finally {
    c.close();
  }

  // Negatives, each on a connection of its own: no token, and a foreign page's Origin.
  const init = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'notes-mcp-verify', version: '2' } },
  });
  for (const [name, headers, want, what] of [
    ['no-token', mcpHeaders, 401, 'without a bearer token'],
    [
      'foreign-origin',
      { ...mcpHeaders, ...auth, origin: 'https://evil.example' },
      403,
      'for Origin https://evil.example',
    ],
  ]) {
    const n = client(o, { keepAlive: false });
    try {
      const r = await n.send('POST', '/mcp', { headers, body: init });
      if (r.status === want) add('PASS', name, `${want} ${what}`);
      else add('FAIL', name, `expected ${want} ${what}, got ${r.status}`);
    } catch (err) {
      add('FAIL', name, `expected ${want} ${what}: ${err.message}`);
    } finally {
      n.close();
    }
  }

  // Baseline: compare p50 and p95; record one when there is none (and everything else passed).
  let baseline = null;
  if (o.noBaseline || p50 === undefined || p95 === undefined) {
    add('SKIP', 'baseline', o.noBaseline ? '--no-baseline' : 'no latency measured');
  } else {
    const stored = o.baseline && !o.updateBaseline ? readBaseline(o.baseline) : undefined;
    if (stored) {
      baseline = { p50_ms: stored.p50_ms, p95_ms: stored.p95_ms, at: stored.at ?? null };
      const l50 = limitFor(stored.p50_ms, o);
      const l95 = limitFor(stored.p95_ms, o);
      const rule = `baseline p50 ${stored.p50_ms} ms, p95 ${stored.p95_ms} ms + ${o.tolerancePct}% (at least +${o.toleranceMs} ms)`;
      if (p50 <= l50 && p95 <= l95)
        add('PASS', 'baseline', `p50 ${p50} <= ${l50} ms, p95 ${p95} <= ${l95} ms (${rule})`);
      else
        add('FAIL', 'baseline', `p50 ${p50} ms (limit ${l50}), p95 ${p95} ms (limit ${l95}): slower than the ${rule}`);
    } else if (!o.baseline) {
      add('SKIP', 'baseline', 'no --baseline file');
    } else if (checks.some((x) => x.status === 'FAIL')) {
      add('SKIP', 'baseline', `not recorded in ${o.baseline}: other checks failed`);
    } else {
      writeAtomic(
        o.baseline,
        `${JSON.stringify({ at: new Date().toISOString(), url: o.url, samples: o.samples, p50_ms: p50, p95_ms: p95, p99_ms: p99 }, null, 2)}\n`,
      );
      add('PASS', 'baseline', `recorded p50 ${p50} ms, p95 ${p95} ms in ${o.baseline}`);
    }
  }

  const failed = checks.filter((x) => x.status === 'FAIL');
  return {
    at: new Date().toISOString(),
    ok: failed.length === 0,
    url: o.url,
    samples: p50 === undefined ? 0 : o.samples,
    warmup: o.warmup,
    connections,
    p50_ms: p50 ?? null,
    p95_ms: p95 ?? null,
    p99_ms: p99 ?? null,
    baseline,
    tolerance: { pct: o.tolerancePct, min_ms: o.toleranceMs },
    reason: failed.length ? failed.map((x) => `${x.name}: ${x.detail}`).join('; ') : null,
    checks,
  };
}

export function report(r) {
  const lines = r.checks.map((x) => `${x.status} ${x.name.padEnd(16)} ${x.detail}`.trimEnd());
  const counted = r.checks.filter((x) => x.status !== 'SKIP');
  const passed = counted.filter((x) => x.status === 'PASS').length;
  const skipped = r.checks.length - counted.length;
  const lat =
    r.p95_ms === null
      ? ''
      : ` | tools/list p50=${r.p50_ms}ms p95=${r.p95_ms}ms p99=${r.p99_ms}ms over ${r.samples} on ${r.connections} connection(s)${r.baseline ? `, baseline p50=${r.baseline.p50_ms}ms p95=${r.baseline.p95_ms}ms` : ''}`;
  const failed = r.checks.filter((x) => x.status === 'FAIL').map((x) => x.name);
  lines.push(
    r.ok
      ? `verify: PASS ${r.url} ${passed}/${counted.length} checks (${skipped} skipped)${lat}`
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
