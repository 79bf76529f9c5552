// HTTP for verify.sh with Node built-ins only: a client bound to one agent (so keep-alive means
// one TCP and TLS connection, counted), and the JSON-RPC answers in a JSON or SSE body.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

/** A client bound to one agent: keepAlive with one socket means one TCP (and TLS) connection. */
export function client(o, { keepAlive }) {
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

export function reply(res, id) {
  let all;
  try {
    all = messages(res.body);
  } catch {
    return undefined;
  }
  return all.find((m) => m && String(m.id) === String(id));
}

export const short = (s, n = 160) => String(s).replace(/\s+/g, ' ').slice(0, n);
