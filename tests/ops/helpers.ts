import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { parse } from 'plist';
import {
  type Layout,
  type MainInput,
  nginxMain,
  nginxSite,
  type PlistObject,
  type SiteInput,
} from '../../src/ops/index.ts';
import { REPO_ROOT } from '../helpers/tmp.ts';

export const GOLDEN_DIR = join(REPO_ROOT, 'tests', 'ops', 'golden');
export const FIXTURES = join(REPO_ROOT, 'tests', 'ops', 'fixtures');
export const SCRIPTS = join(REPO_ROOT, 'scripts');

/**
 * Compare generated text with tests/ops/golden/<name> (and any copies shipped as examples).
 * `UPDATE_GOLDEN=1 npm test` rewrites them instead; review the diff before committing.
 */
export function checkGolden(name: string, text: string, copies: readonly string[] = []): void {
  const targets = [join(GOLDEN_DIR, name), ...copies.map((c) => join(REPO_ROOT, c))];
  if (process.env.UPDATE_GOLDEN === '1') {
    for (const file of targets) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    return;
  }
  for (const file of targets) {
    assert.ok(existsSync(file), `golden file ${file} is missing: run with UPDATE_GOLDEN=1`);
    assert.equal(text, readFileSync(file, 'utf8'), `${file} differs from the generator (UPDATE_GOLDEN=1 to accept)`);
  }
}

export function parsePlist(xml: string): PlistObject {
  const value = parse(xml);
  assert.ok(value && typeof value === 'object' && !Array.isArray(value), 'plist root must be a dict');
  return value as PlistObject;
}

export function stringArray(v: unknown): string[] {
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), 'expected an array of strings');
  return v as string[];
}

export function stringRecord(v: unknown): Record<string, string> {
  assert.ok(v && typeof v === 'object' && !Array.isArray(v), 'expected a dict');
  for (const x of Object.values(v)) assert.equal(typeof x, 'string');
  return v as Record<string, string>;
}

export { spawnLikeLaunchd } from './launchd-spawn.ts';

/** Wait until fn() resolves truthy, polling; throws with the last error after `ms`. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].find(
  (p) => spawnSync(p, ['-v']).status === 0,
);

/** The nginx binary; a missing nginx fails the test (never skips it): .ci/run installs it. */
export function nginxBin(): string {
  assert.ok(NGINX, 'nginx is not installed: apt-get install nginx (.ci/run does)');
  return NGINX;
}

/** A self-signed certificate for name (DNS or IP SAN) in dir/fullchain.pem + dir/privkey.pem. */
export function makeCert(dir: string, name: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, 'fullchain.pem');
  const key = join(dir, 'privkey.pem');
  const san = /^[\d.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** When each chunk of the body arrived (ms since the request started). */
  chunks: Array<{ at: number; text: string }>;
  /** The server (or proxy) ended the response; false when stopAfterMs cut it first. */
  ended: boolean;
}

/** One HTTP(S) request to 127.0.0.1 with a chosen Host/SNI, self-signed certificates accepted. */
export function call(opts: {
  https: boolean;
  port: number;
  host: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  stopAfterMs?: number;
}): Promise<Reply> {
  const started = Date.now();
  const send = opts.https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        headers: { host: opts.host, ...opts.headers },
        servername: /^[\d.]+$/.test(opts.host) ? undefined : opts.host,
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const chunks: Reply['chunks'] = [];
        let settled = false;
        const done = (ended: boolean) => {
          if (settled) return;
          settled = true;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: chunks.map((c) => c.text).join(''),
            chunks,
            ended,
          });
        };
        res.on('data', (d: Buffer) => chunks.push({ at: Date.now() - started, text: d.toString() }));
        res.on('end', () => done(true));
        res.on('error', () => done(true));
        res.on('close', () => done(true));
        if (opts.stopAfterMs) {
          setTimeout(() => {
            done(false);
            req.destroy();
          }, opts.stopAfterMs);
        }
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface Site {
  layout: Layout;
  site: SiteInput;
}

/** nginx.conf + servers/*.conf for the given instances (paths from their layouts); returns nginx.conf. */
export function writeNginx(sites: Site[], main: MainInput = {}): string {
  const first = sites[0];
  assert.ok(first);
  const n = first.layout.nginx;
  for (const d of [n.serversDir, n.varDir, n.logs, n.acmeRoot]) mkdirSync(d, { recursive: true });
  for (const { layout, site } of sites) {
    const { cert, key } = makeCert(layout.tls.dir, site.serverName);
    writeFileSync(layout.nginx.siteFile, nginxSite(layout, { ...site, cert, key }));
  }
  writeFileSync(
    n.confFile,
    nginxMain(first.layout, { ipv6: false, ...main, httpPort: main.httpPort ?? 0, httpsPorts: main.httpsPorts ?? [] }),
  );
  return n.confFile;
}

export function nginxTest(root: string, conf: string): { ok: boolean; output: string } {
  const r = spawnSync(nginxBin(), ['-p', root, '-c', conf, '-t'], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Run nginx in the foreground on conf until the test ends; resolves once https://host:port/health answers. */
export async function startNginx(
  t: { after: (fn: () => void) => void },
  root: string,
  conf: string,
  probe: { port: number; host: string },
): Promise<ChildProcess> {
  const nginx = spawn(nginxBin(), ['-p', root, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  nginx.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  t.after(() => nginx.kill('SIGQUIT'));
  await waitFor(
    () =>
      nginx.exitCode === null
        ? call({ https: true, ...probe, path: '/health' }).then((r) => r.status > 0)
        : Promise.reject(new Error(err)),
    10_000,
    `nginx to answer (${err})`,
  );
  return nginx;
}

/** Run scripts/verify.sh against nginx on loopback (as `notes.test`), as an operator would. */
export function runVerify(httpsPort: number, tokenFile: string, home: string, extra: readonly string[]) {
  return spawnSync(
    'bash',
    [
      join(SCRIPTS, 'verify.sh'),
      `https://notes.test:${httpsPort}`,
      '--resolve-ip',
      '127.0.0.1',
      '--insecure',
      '--no-service',
      '--token-file',
      tokenFile,
      '--samples',
      '100',
      '--warmup',
      '5',
      ...extra,
    ],
    { encoding: 'utf8', env: { ...process.env, HOME: home }, timeout: 60_000 },
  );
}

/** fixtures/fake-daemon.mjs on a free loopback port, killed when the test ends. */
export function startFakeDaemon(
  token: string,
  env: Record<string, string>,
  t?: { after: (fn: () => void) => void },
): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [join(FIXTURES, 'fake-daemon.mjs')], {
    env: { ...process.env, FAKE_TOKEN: token, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t?.after(() => proc.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    proc.stdout?.once('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve({ proc, port: Number(m[1]) });
      else reject(new Error(`fake daemon said ${d}`));
    });
    proc.once('exit', (code) => reject(new Error(`fake daemon exited ${code}`)));
  });
}
