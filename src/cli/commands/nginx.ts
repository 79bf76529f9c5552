import type { Command } from 'commander';
import { LAYOUT_FLAGS, OUT_FLAG } from '../../ops/flags.ts';
import { addFlags, generate, layoutOf } from './launchd.ts';

// `notes-mcp nginx conf` (one instance's server block) and `notes-mcp nginx main` (nginx.conf
// of the shared nginx LaunchDaemon). Paths come from the same layout as `notes-mcp launchd`.

function list(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

export function registerNginx(program: Command): void {
  const nginx = program
    .command('nginx')
    .description('generate nginx configuration (TLS, SSE-safe proxy to the daemon)');

  addFlags(nginx.command('conf').description("the instance's server blocks: HTTP->HTTPS, ACME, TLS, /mcp, /health"), [
    ...LAYOUT_FLAGS,
    { flags: '--cert <file>', description: 'certificate chain (default <prefix>/etc/tls/<instance>/fullchain.pem)' },
    { flags: '--key <file>', description: 'private key (default <prefix>/etc/tls/<instance>/privkey.pem)' },
    { flags: '--http-port <n>', description: 'plain HTTP port: redirects and ACME challenges (default 80)' },
    { flags: '--https-port <n>', description: 'HTTPS port (default 443)' },
    { flags: '--no-ipv6', description: 'listen on IPv4 only' },
    { flags: '--http2', description: 'enable HTTP/2 (nginx >= 1.25.1)' },
    { flags: '--rate <rate>', description: 'requests per client address, e.g. 10r/s (default 10r/s)' },
    { flags: '--burst <n>', description: 'requests above the rate served at once before 429 (default 40)' },
    { flags: '--max-body <size>', description: 'client_max_body_size (default 4m)' },
    {
      flags: '--read-timeout <time>',
      description: 'how long the daemon may stay silent on a request or stream before 504 (default 2m)',
    },
    {
      flags: '--no-require-bearer',
      description: 'let /mcp requests without a bearer token through to the daemon (a daemon with auth off)',
    },
    {
      flags: '--body-timeout <time>',
      description: 'client_body_timeout: longest pause in a request body (default 10s)',
    },
    { flags: '--send-timeout <time>', description: 'send_timeout: a client reading nothing is dropped (default 60s)' },
    { flags: '--conn-limit <n>', description: 'requests in progress per client address, then 429 (default 32)' },
    { flags: '--no-hsts', description: 'omit Strict-Transport-Security (self-signed trials)' },
    OUT_FLAG,
  ])
    .option('--metrics-allow <addr>', 'address or CIDR allowed to read /metrics (repeatable; default loopback)', list)
    .action(async (_o: unknown, cmd: Command) =>
      generate(cmd, (ops, o) => {
        const layout = layoutOf(ops, o);
        return ops.nginxSite(layout, {
          serverName: (o.serverName as string | undefined) ?? '',
          cert: o.cert as string | undefined,
          key: o.key as string | undefined,
          httpPort: o.httpPort as number | undefined,
          httpsPort: o.httpsPort as number | undefined,
          ipv6: o.ipv6 !== false,
          http2: o.http2 === true,
          rate: o.rate as string | undefined,
          burst: o.burst as number | undefined,
          maxBody: o.maxBody as string | undefined,
          readTimeout: o.readTimeout as string | undefined,
          bodyTimeout: o.bodyTimeout as string | undefined,
          sendTimeout: o.sendTimeout as string | undefined,
          connLimit: o.connLimit as number | undefined,
          requireBearer: o.requireBearer !== false,
          hsts: o.hsts !== false,
          metricsAllow: o.metricsAllow as string[] | undefined,
        });
      }),
    );

  addFlags(nginx.command('main').description('nginx.conf for the nginx LaunchDaemon (includes servers/*.conf)'), [
    ...LAYOUT_FLAGS,
    { flags: '--worker-user <user>', description: 'user of the worker processes (macOS: nobody)' },
    { flags: '--worker-group <group>', description: 'group of the worker processes (macOS: nobody)' },
    {
      flags: '--worker-connections <n>',
      description: 'connections per worker; each SSE stream holds two (default 4096)',
    },
    { flags: '--http-port <n>', description: 'port of the catch-all server for unknown names (0: none; default 80)' },
    { flags: '--no-ipv6', description: 'listen on IPv4 only' },
    { flags: '--header-timeout <time>', description: 'client_header_timeout for every site (default 10s)' },
    {
      flags: '--servers-dir <dir>',
      description: 'folder of instance files to include (default <prefix>/etc/nginx/servers)',
    },
    OUT_FLAG,
  ])
    .option(
      '--https-port <n>',
      'HTTPS port whose catch-all refuses unknown TLS names (repeatable; default 443; 0: none)',
      list,
    )
    .action(async (_o: unknown, cmd: Command) =>
      generate(cmd, (ops, o) => {
        const https = o.httpsPort as string[] | undefined;
        return ops.nginxMain(layoutOf(ops, o), {
          workerUser: o.workerUser as string | undefined,
          workerGroup: o.workerGroup as string | undefined,
          workerConnections: o.workerConnections as number | undefined,
          httpPort: o.httpPort as number | undefined,
          ...(https ? { httpsPorts: https.filter((p) => p !== '0').map(Number) } : {}),
          ipv6: o.ipv6 !== false,
          headerTimeout: o.headerTimeout as string | undefined,
          serversDir: o.serversDir as string | undefined,
        });
      }),
    );
}
