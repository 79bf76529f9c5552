import { z } from 'zod';
import { type ErrorCode, NotesError, refusalBody } from '../errors.ts';
import { type Layout, nginxId, parseInput, plainPath } from './layout.ts';

// nginx configuration as text: one main nginx.conf for the shared nginx LaunchDaemon and one
// file per instance under servers/ (upstream, rate-limit zone, :80 and :443 servers). All
// names an instance declares carry its id, so any number of instances load side by side.

const DOMAIN =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(host: string): boolean {
  return IPV4.test(host);
}

export const serverName = z
  .string()
  .refine((s) => DOMAIN.test(s) || IPV4.test(s), 'server name must be a DNS name or an IPv4 address');

const port = z.coerce.number().int().min(1).max(65535);
const duration = z.string().regex(/^\d+(ms|s|m|h|d)?$/, 'time looks like 1h or 300s');
const ipOrCidr = z.string().regex(/^[0-9A-Fa-f.:]+(\/\d{1,3})?$/, 'must be an IP address or CIDR range');

/** Mozilla Server Side TLS "intermediate" (guidelines 5.7): TLS 1.2 and 1.3, forward-secret AEAD only. */
export const MOZILLA_INTERMEDIATE = {
  protocols: 'TLSv1.2 TLSv1.3',
  curves: 'X25519:prime256v1:secp384r1',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
} as const;

export const SiteInput = z
  .object({
    serverName,
    httpPort: port.default(80),
    httpsPort: port.default(443),
    ipv6: z.boolean().default(true),
    /** `http2 on;` needs nginx >= 1.25.1 (Homebrew's is newer; Debian 12's 1.22 is not). */
    http2: z.boolean().default(false),
    cert: plainPath.optional(),
    key: plainPath.optional(),
    rate: z
      .string()
      .regex(/^\d+r\/[sm]$/, 'rate looks like 10r/s or 600r/m')
      .default('10r/s'),
    burst: z.coerce.number().int().min(0).max(100_000).default(40),
    maxBody: z
      .string()
      .regex(/^\d+[kKmM]?$/, 'size looks like 4m or 512k')
      .default('4m'),
    /**
     * How long the daemon may stay silent on a request before nginx answers 504. Streams send a
     * keep-alive every 15 s and tool calls end within the 30 s tool timeout; an hour (the old
     * value) left a client of a hung daemon waiting that long.
     */
    readTimeout: duration.default('2m'),
    /**
     * Refuse requests to /mcp without a bearer token of a plausible form before their body is
     * read: nginx buffers a body whole (to disk past 16 KB) before the daemon can check the token,
     * so anonymous clients trickling 4 MB bodies held 511 MB of disk. Off for a daemon run
     * with auth off.
     */
    requireBearer: z.boolean().default(true),
    /** A request body must keep arriving: at most this long between two reads (nginx buffers it whole). */
    bodyTimeout: duration.default('10s'),
    /** A client that reads nothing of a response for this long is dropped (SSE streams included). */
    sendTimeout: duration.default('60s'),
    /** Requests in progress per client address (each SSE stream is one); beyond it, 429. nginx does not count idle connections. */
    connLimit: z.coerce.number().int().min(1).max(100_000).default(32),
    hsts: z.boolean().default(true),
    metricsAllow: z.array(ipOrCidr).default(['127.0.0.1', '::1']),
  })
  .strict();
export type SiteInput = z.input<typeof SiteInput>;

export const MainInput = z
  .object({
    /** Worker user and group when the master runs as root (macOS: nobody/nobody). */
    workerUser: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/)
      .optional(),
    workerGroup: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/)
      .optional(),
    workerConnections: z.coerce.number().int().min(64).max(1_000_000).default(4096),
    /** Port of the catch-all server that drops requests for unknown names (0: none). */
    httpPort: z.coerce.number().int().min(0).max(65535).default(80),
    /**
     * HTTPS ports whose catch-all refuses the TLS handshake for an unknown (or no) SNI name.
     * Leave out a port an IP-address instance serves: that instance is the port's default.
     */
    httpsPorts: z.array(port).default([443]),
    /**
     * The request line and headers must arrive within this long. Set here, not per site: nginx
     * reads headers before it knows the site, under the port's default (catch-all) server.
     */
    headerTimeout: duration.default('10s'),
    ipv6: z.boolean().default(true),
    serversDir: plainPath.optional(),
  })
  .strict();
export type MainInput = z.input<typeof MainInput>;

function checkNginxPath(p: string, what: string): string {
  return parseInput(plainPath, p, what);
}

function upstreamAddress(host: string, p: number): string {
  return host.includes(':') ? `[${host}]:${p}` : `${host}:${p}`;
}

/** nginx's size (`4m`, `512k`, `1048576`) in bytes. */
function sizeBytes(size: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(size);
  const unit = m?.[2]?.toLowerCase();
  return Number(m?.[1] ?? 0) * (unit === 'm' ? 1024 * 1024 : unit === 'k' ? 1024 : 1);
}

/** The response headers every answer of the HTTPS server carries. */
function securityHeaders(hsts: boolean, indent: string): string[] {
  return [
    ...(hsts ? ['add_header Strict-Transport-Security "max-age=63072000" always;'] : []),
    'add_header X-Content-Type-Options "nosniff" always;',
    'add_header X-Frame-Options "DENY" always;',
    'add_header Referrer-Policy "no-referrer" always;',
    `add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'" always;`,
  ].map((l) => indent + l);
}

/** Seconds a client is told to wait after nginx's own 429, 502 and 504. */
const RETRY_AFTER_S = 5;

/**
 * What nginx answers itself (limits, body size, the daemon unreachable) in the daemon's JSON
 * shape, with Retry-After where waiting helps: its own HTML pages told an agent nothing, and
 * named no time to retry at. Answers of the daemon pass through untouched (proxy_intercept_errors
 * is off). add_header in a location replaces the server's, so each repeats them.
 */
function errorPages(id: string, s: z.output<typeof SiteInput>): string[] {
  const pages: Array<{ status: number; name: string; retry?: number; body: string }> = [
    {
      status: 429,
      name: 'limited',
      retry: RETRY_AFTER_S,
      body: refusal('NOTES_E_RATE_LIMITED', undefined, [RETRY_AFTER_S]),
    },
    { status: 413, name: 'too_large', body: refusal('NOTES_E_BODY_TOO_LARGE', undefined, [sizeBytes(s.maxBody)]) },
    { status: 502, name: 'down', retry: RETRY_AFTER_S, body: refusal('NOTES_E_UPSTREAM_DOWN') },
    { status: 504, name: 'timeout', retry: RETRY_AFTER_S, body: refusal('NOTES_E_UPSTREAM_TIMEOUT') },
  ];
  return [
    "    # nginx's own refusals in the daemon's JSON shape (the daemon's answers pass as they are).",
    ...pages.map((p) => `    error_page ${p.status} @${id}_${p.name};`),
    ...pages.flatMap((p) => [
      `    location @${id}_${p.name} {`,
      ...securityHeaders(s.hsts, '        '),
      ...(p.retry === undefined ? [] : [`        add_header Retry-After ${p.retry} always;`]),
      `        ${p.body}`,
      '    }',
    ]),
  ];
}

/**
 * `return STATUS '<the daemon's refusal body>';`: nginx answers with the daemon's JSON shape.
 * Quotes and $ are written as JSON escapes, which nginx leaves alone in a quoted string.
 */
function refusal(code: ErrorCode, message?: string, args: unknown[] = []): string {
  const body = refusalBody(code, message ?? new NotesError(code, args).message)
    .replace(/'/g, '\\u0027')
    .replace(/\$/g, '\\u0024');
  return `return ${new NotesError(code).status} '${body}';`;
}

function listen(p: number, ipv6: boolean, extra = '', indent = '    '): string[] {
  const suffix = extra ? ` ${extra}` : '';
  return [`${indent}listen ${p}${suffix};`, ...(ipv6 ? [`${indent}listen [::]:${p}${suffix};`] : [])];
}

/** The instance's file under servers/: upstream, rate limit, HTTP redirect + ACME, HTTPS proxy. */
export function nginxSite(layout: Layout, raw: SiteInput): string {
  const s = parseInput(SiteInput, raw, 'nginx site');
  const id = nginxId(layout.instance);
  const cert = checkNginxPath(s.cert ?? layout.tls.cert, 'certificate path');
  const key = checkNginxPath(s.key ?? layout.tls.key, 'key path');
  const acmeRoot = checkNginxPath(layout.nginx.acmeRoot, 'ACME webroot');
  const httpsSuffix = s.httpsPort === 443 ? '' : `:${s.httpsPort}`;
  // Clients send no SNI to an IP address, so nginx must pick this server by port alone.
  const sslListen = isIPv4(s.serverName) ? 'ssl default_server' : 'ssl';
  const lines = [
    `# notes-mcp instance "${layout.instance}": https://${s.serverName}${httpsSuffix}/mcp -> http://${upstreamAddress(layout.host, layout.port)}`,
    '# Generated by `notes-mcp nginx conf`; provision.sh overwrites local edits.',
    '',
    `limit_req_zone $binary_remote_addr zone=${id}:10m rate=${s.rate};`,
    `limit_conn_zone $binary_remote_addr zone=${id}_conn:10m;`,
    ...(s.requireBearer
      ? [
          '# 1 for a request to /mcp with no bearer token of a plausible form (CORS preflights carry none).',
          `map "$request_method:$http_authorization" $${id}_anonymous {`,
          '    "~^OPTIONS:" 0;',
          '    "~^[A-Z]+:Bearer [!-~]{16,}$" 0;',
          '    default 1;',
          '}',
        ]
      : []),
    '',
    `upstream ${id} {`,
    `    server ${upstreamAddress(layout.host, layout.port)};`,
    '    # Idle connections to the daemon are reused (needs HTTP/1.1 and an empty Connection header).',
    '    keepalive 16;',
    '}',
    '',
    'server {',
    ...listen(s.httpPort, s.ipv6),
    `    server_name ${s.serverName};`,
    '',
    "    # Let's Encrypt HTTP-01 challenges (certbot/acme.sh --webroot) are answered over plain HTTP.",
    '    location ^~ /.well-known/acme-challenge/ {',
    `        root ${acmeRoot};`,
    '        default_type text/plain;',
    '        try_files $uri =404;',
    '    }',
    '',
    '    location / {',
    `        return 301 https://$host${httpsSuffix}$request_uri;`,
    '    }',
    '}',
    '',
    'server {',
    ...listen(s.httpsPort, s.ipv6, sslListen),
    ...(s.http2 ? ['    http2 on;'] : []),
    `    server_name ${s.serverName};`,
    '',
    `    ssl_certificate ${cert};`,
    `    ssl_certificate_key ${key};`,
    '',
    '    # Mozilla "intermediate" TLS: TLS 1.2 and 1.3, forward-secret AEAD ciphers only.',
    `    ssl_protocols ${MOZILLA_INTERMEDIATE.protocols};`,
    `    ssl_ecdh_curve ${MOZILLA_INTERMEDIATE.curves};`,
    `    ssl_ciphers ${MOZILLA_INTERMEDIATE.ciphers};`,
    '    ssl_prefer_server_ciphers off;',
    '    ssl_session_timeout 1d;',
    `    ssl_session_cache shared:${id}_tls:10m;`,
    '    ssl_session_tickets off;',
    '',
    ...securityHeaders(s.hsts, '    '),
    '',
    `    client_max_body_size ${s.maxBody};`,
    '    # A body is read whole (and timed) before anything reaches the daemon, so a slow client',
    '    # is cut here; headers are timed in nginx.conf.',
    `    client_body_timeout ${s.bodyTimeout};`,
    `    send_timeout ${s.sendTimeout};`,
    `    limit_conn ${id}_conn ${s.connLimit};`,
    '    limit_conn_status 429;',
    '    limit_conn_log_level warn;',
    '    limit_req_status 429;',
    '    limit_req_log_level warn;',
    ...errorPages(id, s),
    '',
    '    # A token in the URL would be written to error.log, whose lines carry the request line',
    '    # (rate-limit, size and proxy errors): refused here, before any of those, logging nothing.',
    '    default_type application/json;',
    '    if ($args ~* "(^|&)(access_)?token=") {',
    `        ${refusal('NOTES_E_USAGE', 'tokens are accepted only in the Authorization header')}`,
    '    }',
    '',
    '    # The daemon checks Host against its allowedHosts (DNS-rebinding guard) and Origin itself.',
    '    # X-Forwarded-For is the peer address only, never what the client sent: the daemon reads',
    '    # its presence as "came through nginx" and answers /health with the status alone.',
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    '    proxy_set_header X-Forwarded-For $remote_addr;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    proxy_set_header X-Forwarded-Host $host;',
    '',
    '    # MCP Streamable HTTP: request bodies are buffered (default), responses may be SSE',
    '    # streams, passed through event by event.',
    '    location = /mcp {',
    ...(s.requireBearer
      ? [
          '        # Before the body is read: no anonymous body is ever buffered to disk.',
          `        if ($${id}_anonymous) {`,
          `            add_header WWW-Authenticate 'Bearer realm="notes-mcp"' always;`,
          `            ${refusal('NOTES_E_AUTH_MISSING')}`,
          '        }',
        ]
      : []),
    `        limit_req zone=${id} burst=${s.burst} nodelay;`,
    `        proxy_pass http://${id};`,
    '        proxy_buffering off;',
    '        proxy_cache off;',
    '        gzip off;',
    `        proxy_read_timeout ${s.readTimeout};`,
    `        proxy_send_timeout ${s.readTimeout};`,
    '    }',
    '',
    '    location = /health {',
    `        limit_req zone=${id} burst=${s.burst} nodelay;`,
    `        proxy_pass http://${id};`,
    '    }',
    '',
    '    # Prometheus metrics never leave this machine.',
    '    location = /metrics {',
    ...s.metricsAllow.map((a) => `        allow ${a};`),
    '        deny all;',
    `        proxy_pass http://${id};`,
    '    }',
    '',
    '    location / {',
    '        return 404;',
    '    }',
    '}',
    '',
  ];
  return lines.join('\n');
}

/** nginx.conf for the shared nginx LaunchDaemon; instances add files under servers/. */
export function nginxMain(layout: Layout, raw: MainInput = {}): string {
  const m = parseInput(MainInput, raw, 'nginx main config');
  const n = layout.nginx;
  const serversDir = checkNginxPath(m.serversDir ?? n.serversDir, 'servers folder');
  const logs = checkNginxPath(n.logs, 'nginx logs folder');
  const varDir = checkNginxPath(n.varDir, 'nginx var folder');
  const user = m.workerUser ? [`user ${m.workerUser}${m.workerGroup ? ` ${m.workerGroup}` : ''};`] : [];
  const catchAll =
    m.httpPort > 0
      ? [
          '    # Plain-HTTP requests for a name no instance serves: close the connection, reveal nothing.',
          '    server {',
          ...listen(m.httpPort, m.ipv6, 'default_server', '        '),
          '        return 444;',
          '    }',
          '',
        ]
      : [];
  const tlsCatchAll = [...new Set(m.httpsPorts)].flatMap((p) => [
    `    # TLS for a name no instance serves (or no SNI): refuse the handshake, so no instance's`,
    '    # certificate or backend answers for it.',
    '    server {',
    ...listen(p, m.ipv6, 'ssl default_server', '        '),
    '        ssl_reject_handshake on;',
    "        # A request for another Host after an instance's handshake lands here: closed, not",
    "        # answered with nginx's own files.",
    '        return 444;',
    '    }',
    '',
  ]);
  return [
    `# nginx in front of notes-mcp (${n.label}); launchd runs it with -g 'daemon off;'.`,
    '# Generated by `notes-mcp nginx main`; provision.sh overwrites local edits.',
    ...user,
    'worker_processes auto;',
    '# A reload (each certificate renewal) leaves the old workers serving their open streams:',
    '# for at most this long, then those clients reconnect to the new ones.',
    'worker_shutdown_timeout 10m;',
    `worker_rlimit_nofile ${Math.max(layout.maxFiles, m.workerConnections * 2)};`,
    `pid ${n.pidFile};`,
    `error_log ${logs}/error.log warn;`,
    '',
    'events {',
    `    worker_connections ${m.workerConnections};`,
    '}',
    '',
    'http {',
    '    server_tokens off;',
    '    default_type application/octet-stream;',
    '    charset utf-8;',
    '    sendfile on;',
    '    keepalive_timeout 65s;',
    `    client_header_timeout ${m.headerTimeout};`,
    '    # The TLS versions a port offers are those of its default server (the catch-all below):',
    "    # set for all, or nginx before 1.23.4 refuses TLS 1.3 though the instance's server allows it.",
    `    ssl_protocols ${MOZILLA_INTERMEDIATE.protocols};`,
    '',
    '    # No headers and no query strings ($uri, not $request): nothing secret reaches the log.',
    '    log_format notes_mcp \'$remote_addr [$time_iso8601] $host "$request_method $uri $server_protocol" \'',
    "                         '$status $body_bytes_sent '",
    '                         \'$request_time $upstream_response_time "$http_user_agent"\';',
    `    access_log ${logs}/access.log notes_mcp;`,
    '',
    `    client_body_temp_path ${varDir}/client_body;`,
    `    proxy_temp_path ${varDir}/proxy;`,
    `    fastcgi_temp_path ${varDir}/fastcgi;`,
    `    uwsgi_temp_path ${varDir}/uwsgi;`,
    `    scgi_temp_path ${varDir}/scgi;`,
    '',
    ...catchAll,
    ...tlsCatchAll,
    `    include ${serversDir}/*.conf;`,
    '}',
    '',
  ].join('\n');
}
