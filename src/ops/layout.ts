import { describeIssues } from '../errors.ts';
import { SERVICE_LOG_LEVELS } from '../log-levels.ts';
import { posix } from 'node:path';
import { z } from 'zod';

// One typed description of an instance on a Mac, resolved once into absolute paths. Every
// generator (plist, newsyslog, nginx, config file) and every script reads its paths from here
// (scripts through `notes-mcp launchd layout --format shell`), so two files never disagree.

export const LABEL_PREFIX = 'com.notes-mcp';
/** launchd label of the shared nginx LaunchDaemon; hence the reserved instance name. */
export const NGINX_LABEL = `${LABEL_PREFIX}.nginx`;
const RESERVED = new Set(['nginx', 'current', 'releases', 'previous', 'ca']);

export const INSTANCE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

export type Mode = 'daemon' | 'agent';
export type Arch = 'arm64' | 'x86_64';

/** A path the generated files can carry anywhere: absolute, no control characters. */
export const absPath = z
  .string()
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'must not contain control characters')
  .transform((p) => posix.normalize(p).replace(/(.)\/+$/, '$1'));

/** Paths that end up in newsyslog.conf or nginx.conf, whose fields are split on whitespace. */
export const plainPath = absPath.refine((p) => !/[\s;{}"'#$\\]/.test(p), 'must not contain spaces or ;{}"\'#$\\');

export const instanceName = z
  .string()
  .regex(INSTANCE_NAME, 'instance names are 1-32 characters: a-z, 0-9 and "-", starting with a letter')
  .refine((n) => !RESERVED.has(n), 'this instance name is reserved');

export const LayoutInput = z
  .object({
    instance: instanceName.default('default'),
    mode: z.enum(['daemon', 'agent']).default('daemon'),
    arch: z.enum(['arm64', 'x86_64']).default('arm64'),
    /** Prepended to every default system path (/Library, /etc, /opt, /Users): tests only. */
    root: absPath.optional(),
    /** Home folder of the user who owns an agent (required in agent mode). */
    home: absPath.optional(),
    brewPrefix: absPath.optional(),
    /** Install root: releases/, current -> releases/<id>, etc/, var/. */
    prefix: absPath.optional(),
    /** Folder holding bin/notes-mcp.js (default <prefix>/current). */
    app: absPath.optional(),
    node: absPath.optional(),
    user: z.string().regex(USER_NAME, 'invalid user name').optional(),
    group: z.string().regex(USER_NAME, 'invalid group name').optional(),
    notes: absPath.optional(),
    state: absPath.optional(),
    logs: plainPath.optional(),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535).default(8765),
    /** Public host name or IP that nginx forwards in Host (allowed by the daemon). */
    serverName: z.string().optional(),
    allowedOrigins: z.array(z.string().min(1)).default([]),
    model: z.string().min(1).optional(),
    // Every level but silent: a daemon under launchd that logs nothing cannot be diagnosed.
    logLevel: z.enum(SERVICE_LOG_LEVELS).default('info'),
    throttleInterval: z.coerce.number().int().min(1).max(3600).default(10),
    /** Longer than the daemon's drain (< 5 s) so launchd never SIGKILLs a clean shutdown. */
    exitTimeout: z.coerce.number().int().min(6).max(600).default(20),
    maxFiles: z.coerce.number().int().min(256).max(1_000_000).default(8192),
  })
  .strict();
export type LayoutInput = z.input<typeof LayoutInput>;

export interface Layout {
  readonly instance: string;
  readonly mode: Mode;
  readonly arch: Arch;
  readonly label: string;
  /** launchctl domain: `system`, or `gui` (the script adds /<uid>). */
  readonly domain: 'system' | 'gui';
  readonly root: string;
  readonly brewPrefix: string;
  /** PATH for launchd jobs: Homebrew first, then the system folders. */
  readonly path: string;
  readonly node: string;
  readonly prefix: string;
  /**
   * This instance's own pins and records: current -> releases/<id> (the release its job runs),
   * previous, running.env (what runs, written after a healthy restart) and last-good/ (the
   * config, plist and site file that ran healthily, for rollback).
   */
  readonly pinDir: string;
  readonly runningFile: string;
  readonly lastGoodDir: string;
  /** The shared current -> releases/<id>: the newest healthy release, run by the CLI wrapper. */
  readonly currentLink: string;
  /** Records of the plists launchd has loaded, one file per label (shared by all instances). */
  readonly jobsRecordDir: string;
  readonly app: string;
  readonly program: string;
  readonly wrapper: string;
  readonly releasesDir: string;
  readonly etcDir: string;
  readonly user: string;
  readonly group: string;
  readonly home: string | undefined;
  readonly notes: string;
  readonly state: string;
  readonly logs: string;
  readonly logFile: string;
  readonly stdoutLog: string;
  readonly stderrLog: string;
  readonly pidFile: string;
  readonly configFile: string;
  readonly tokenFile: string;
  readonly plistPath: string;
  readonly newsyslogPath: string;
  readonly host: string;
  readonly port: number;
  readonly serverName: string | undefined;
  readonly allowedOrigins: readonly string[];
  readonly model: string | undefined;
  readonly logLevel: string;
  readonly throttleInterval: number;
  readonly exitTimeout: number;
  readonly maxFiles: number;
  readonly nginx: NginxLayout;
  readonly tls: TlsLayout;
  readonly verify: VerifyLayout;
}

/** The job that runs scripts/verify.sh after every boot, every provision and once a day. */
export interface VerifyLayout {
  readonly label: string;
  readonly plistPath: string;
  readonly log: string;
}

export interface NginxLayout {
  readonly label: string;
  readonly bin: string;
  readonly confDir: string;
  readonly confFile: string;
  readonly serversDir: string;
  /** This instance's server block file. */
  readonly siteFile: string;
  readonly varDir: string;
  readonly pidFile: string;
  readonly logs: string;
  readonly acmeRoot: string;
  readonly plistPath: string;
  readonly newsyslogPath: string;
  /** What nginx runs: a hash of its config and certificates at the last successful (re)load. */
  readonly runningFile: string;
}

export interface TlsLayout {
  /** nginx always reads these two; certbot/acme.sh or the private CA put files behind them. */
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly caDir: string;
  readonly letsencryptDir: string;
  readonly letsencryptWorkDir: string;
  readonly acmeHome: string;
  readonly renewLabel: string;
  readonly renewPlistPath: string;
  readonly renewLog: string;
}

export function brewPrefixFor(arch: Arch): string {
  return arch === 'arm64' ? '/opt/homebrew' : '/usr/local';
}

/** Homebrew's own service PATH (std_service_path_env in Library/Homebrew/service.rb). */
export function servicePath(brewPrefix: string): string {
  return `${brewPrefix}/bin:${brewPrefix}/sbin:/usr/bin:/bin:/usr/sbin:/sbin`;
}

export function instanceLabel(instance: string): string {
  return `${LABEL_PREFIX}.${instance}`;
}

/** nginx identifiers (upstream, zones) for an instance; "-" is not allowed in names, so this is one-to-one. */
export function nginxId(instance: string): string {
  return `notes_mcp_${instance.replace(/-/g, '_')}`;
}

function usage(message: string): never {
  throw new LayoutError(message);
}

/** Invalid input for a generator; the CLI turns it into NOTES_E_USAGE. */
export class LayoutError extends Error {
  override name = 'LayoutError';
}

export function parseInput<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  return usage(`${what}: ${describeIssues(r.error, '(input)')}`);
}

export function resolveLayout(raw: LayoutInput): Layout {
  const input = parseInput(LayoutInput, raw, 'launchd layout');
  const root = input.root ?? '';
  const sys = (p: string): string => `${root}${p}`;
  const name = input.instance;
  const label = instanceLabel(name);
  const brewPrefix = input.brewPrefix ?? sys(brewPrefixFor(input.arch));

  let home: string | undefined;
  let user: string;
  let group: string;
  let prefix: string;
  let defaults: { notes: string; state: string; logs: string; plistDir: string };
  if (input.mode === 'daemon') {
    user = input.user ?? '_notesmcp';
    group = input.group ?? user;
    prefix = input.prefix ?? sys('/opt/notes-mcp');
    defaults = {
      notes: sys(`/Users/Shared/notes-mcp/${name}`),
      state: sys(`/Library/Application Support/notes-mcp/${name}`),
      logs: sys(`/Library/Logs/notes-mcp/${name}`),
      plistDir: sys('/Library/LaunchDaemons'),
    };
  } else {
    if (!input.home) usage('agent mode needs --home (the home folder of the user who runs the agent)');
    if (!input.user) usage('agent mode needs --user (the user who runs the agent)');
    home = input.home;
    user = input.user;
    group = input.group ?? 'staff';
    prefix = input.prefix ?? `${home}/Library/notes-mcp`;
    defaults = {
      notes: `${home}/notes-mcp/${name}`,
      state: `${home}/Library/Application Support/notes-mcp/${name}`,
      logs: `${home}/Library/Logs/notes-mcp/${name}`,
      plistDir: `${home}/Library/LaunchAgents`,
    };
  }
  const logs = input.logs ?? defaults.logs;
  if (/\s/.test(logs)) usage(`the logs folder ${logs} must not contain spaces (newsyslog.conf splits on them)`);
  const pinDir = `${prefix}/instances/${name}`;
  const app = input.app ?? `${pinDir}/current`;
  const state = input.state ?? defaults.state;
  const nginxLogs =
    input.mode === 'daemon' ? sys('/Library/Logs/notes-mcp/nginx') : `${home}/Library/Logs/notes-mcp/nginx`;
  const tlsDir = `${prefix}/etc/tls/${name}`;

  const layout: Layout = {
    instance: name,
    mode: input.mode,
    arch: input.arch,
    label,
    domain: input.mode === 'daemon' ? 'system' : 'gui',
    root,
    brewPrefix,
    path: servicePath(brewPrefix),
    node: input.node ?? `${brewPrefix}/opt/node@24/bin/node`,
    prefix,
    pinDir,
    runningFile: `${pinDir}/running.env`,
    lastGoodDir: `${pinDir}/last-good`,
    currentLink: `${prefix}/current`,
    jobsRecordDir: `${prefix}/var/jobs`,
    app,
    program: `${app}/bin/notes-mcp.js`,
    wrapper: `${prefix}/bin/notes-mcp`,
    releasesDir: `${prefix}/releases`,
    etcDir: `${prefix}/etc`,
    user,
    group,
    home,
    notes: input.notes ?? defaults.notes,
    state,
    logs,
    logFile: `${logs}/notes-mcp.log`,
    stdoutLog: `${logs}/launchd.out.log`,
    stderrLog: `${logs}/launchd.err.log`,
    pidFile: `${logs}/notes-mcp.pid`,
    configFile: `${prefix}/etc/${name}.json`,
    tokenFile: `${state}/access.token`,
    plistPath: `${defaults.plistDir}/${label}.plist`,
    newsyslogPath: sys(`/etc/newsyslog.d/${label}.conf`),
    host: input.host,
    port: input.port,
    serverName: input.serverName,
    allowedOrigins: input.allowedOrigins,
    model: input.model,
    logLevel: input.logLevel,
    throttleInterval: input.throttleInterval,
    exitTimeout: input.exitTimeout,
    maxFiles: input.maxFiles,
    nginx: {
      label: NGINX_LABEL,
      bin: `${brewPrefix}/opt/nginx/bin/nginx`,
      confDir: `${prefix}/etc/nginx`,
      confFile: `${prefix}/etc/nginx/nginx.conf`,
      serversDir: `${prefix}/etc/nginx/servers`,
      siteFile: `${prefix}/etc/nginx/servers/${name}.conf`,
      varDir: `${prefix}/var/nginx`,
      pidFile: `${prefix}/var/nginx/nginx.pid`,
      logs: nginxLogs,
      acmeRoot: `${prefix}/var/acme`,
      plistPath: sys(`/Library/LaunchDaemons/${NGINX_LABEL}.plist`),
      newsyslogPath: sys(`/etc/newsyslog.d/${NGINX_LABEL}.conf`),
      runningFile: `${prefix}/var/nginx.running`,
    },
    tls: {
      dir: tlsDir,
      cert: `${tlsDir}/fullchain.pem`,
      key: `${tlsDir}/privkey.pem`,
      caDir: `${prefix}/etc/tls/ca`,
      letsencryptDir: `${prefix}/etc/letsencrypt`,
      letsencryptWorkDir: `${prefix}/var/letsencrypt`,
      acmeHome: `${prefix}/etc/acme`,
      renewLabel: `${label}.cert-renew`,
      renewPlistPath: sys(`/Library/LaunchDaemons/${label}.cert-renew.plist`),
      renewLog: `${logs}/cert-renew.log`,
    },
    verify: {
      label: `${label}.verify`,
      plistPath: `${defaults.plistDir}/${label}.verify.plist`,
      log: `${logs}/verify.log`,
    },
  };
  return Object.freeze(layout);
}

/** `KEY='value'` lines a POSIX shell can `eval`: the scripts' single source of paths. */
export function layoutAsShell(layout: Layout): string {
  const flat: Record<string, string | number | undefined> = {
    NM_INSTANCE: layout.instance,
    NM_MODE: layout.mode,
    NM_ARCH: layout.arch,
    NM_LABEL: layout.label,
    NM_DOMAIN: layout.domain,
    NM_BREW_PREFIX: layout.brewPrefix,
    NM_SERVICE_PATH: layout.path,
    NM_NODE: layout.node,
    NM_PREFIX: layout.prefix,
    NM_PIN_DIR: layout.pinDir,
    NM_RUNNING: layout.runningFile,
    NM_LAST_GOOD: layout.lastGoodDir,
    NM_CURRENT: layout.currentLink,
    NM_JOBS_RECORDS: layout.jobsRecordDir,
    NM_APP: layout.app,
    NM_PROGRAM: layout.program,
    NM_WRAPPER: layout.wrapper,
    NM_RELEASES: layout.releasesDir,
    NM_ETC: layout.etcDir,
    NM_USER: layout.user,
    NM_GROUP: layout.group,
    NM_NOTES: layout.notes,
    NM_STATE: layout.state,
    NM_LOGS: layout.logs,
    NM_LOG_FILE: layout.logFile,
    NM_PID_FILE: layout.pidFile,
    NM_STDOUT_LOG: layout.stdoutLog,
    NM_STDERR_LOG: layout.stderrLog,
    NM_CONFIG: layout.configFile,
    NM_TOKEN_FILE: layout.tokenFile,
    NM_PLIST: layout.plistPath,
    NM_NEWSYSLOG: layout.newsyslogPath,
    NM_HOST: layout.host,
    NM_PORT: layout.port,
    NM_SERVER_NAME: layout.serverName ?? '',
    NM_NGINX_LABEL: layout.nginx.label,
    NM_NGINX_BIN: layout.nginx.bin,
    NM_NGINX_CONF_DIR: layout.nginx.confDir,
    NM_NGINX_CONF: layout.nginx.confFile,
    NM_NGINX_SERVERS: layout.nginx.serversDir,
    NM_NGINX_SITE: layout.nginx.siteFile,
    NM_NGINX_VAR: layout.nginx.varDir,
    NM_NGINX_PID: layout.nginx.pidFile,
    NM_NGINX_LOGS: layout.nginx.logs,
    NM_ACME_ROOT: layout.nginx.acmeRoot,
    NM_NGINX_PLIST: layout.nginx.plistPath,
    NM_NGINX_NEWSYSLOG: layout.nginx.newsyslogPath,
    NM_NGINX_RUNNING: layout.nginx.runningFile,
    NM_TLS_DIR: layout.tls.dir,
    NM_TLS_CERT: layout.tls.cert,
    NM_TLS_KEY: layout.tls.key,
    NM_CA_DIR: layout.tls.caDir,
    NM_LE_DIR: layout.tls.letsencryptDir,
    NM_LE_WORK: layout.tls.letsencryptWorkDir,
    NM_ACME_HOME: layout.tls.acmeHome,
    NM_RENEW_LABEL: layout.tls.renewLabel,
    NM_RENEW_PLIST: layout.tls.renewPlistPath,
    NM_RENEW_LOG: layout.tls.renewLog,
    NM_VERIFY_LABEL: layout.verify.label,
    NM_VERIFY_PLIST: layout.verify.plistPath,
    NM_VERIFY_LOG: layout.verify.log,
  };
  return `${Object.entries(flat)
    .map(([k, v]) => `${k}=${shellQuote(String(v ?? ''))}`)
    .join('\n')}\n`;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
