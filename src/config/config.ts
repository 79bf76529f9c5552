import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { describeIssues, NotesError } from '../errors.ts';
import { readStateFileSync } from '../fs-atomic.ts';
import { LOG_LEVELS, type LogLevel } from '../log-levels.ts';

// Configuration is read once (flags > environment > config file > defaults), validated with
// zod and frozen; every part of the program receives this object instead of reading env.

export const DEFAULT_PORT = 8765;

/**
 * The names of the files in the state folder, one per thing (README "State folder layout"
 * uses the same). access.token is also what the ops kit provisions and passes as
 * NOTES_MCP_TOKEN_FILE: a file holding one plain client token.
 */
export const STATE_FILES = {
  tokenStore: 'tokens.json',
  accessToken: 'access.token',
  /** Before 0.2.0 the first token lived here; moved to accessToken at start. */
  legacyAccessToken: 'token',
  runtime: 'daemon.json',
} as const;
export const DEFAULT_HOST = '127.0.0.1';

const listOf = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0));

const boolish = z.union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])]).transform((v) => {
  if (typeof v === 'boolean') return v;
  return v === '1' || v === 'true' || v === 'yes';
});

/** What a config file, the environment or flags may set; every field optional. */
export const ConfigInput = z
  .object({
    notes: z.string().min(1),
    state: z.string().min(1),
    host: z.string().min(1),
    port: z.coerce.number().int().min(0).max(65535),
    token: z.string().min(16, 'NOTES_MCP_TOKEN must be at least 16 characters'),
    tokenFile: z.string().min(1),
    model: z.string().min(1),
    logLevel: z.enum(LOG_LEVELS),
    logFile: z.string().min(1),
    allowedHosts: listOf,
    allowedOrigins: listOf,
    auth: boolish,
    include: listOf,
    exclude: listOf,
    maxBodyBytes: z.coerce.number().int().min(1024),
    rateLimitPerMinute: z.coerce.number().int().min(1),
    toolTimeoutMs: z.coerce.number().int().min(100),
    maxSessions: z.coerce.number().int().min(1),
    maxSessionsPerToken: z.coerce.number().int().min(1),
    requestTimeoutMs: z.coerce.number().int().min(1000).max(600_000),
    drainMs: z.coerce.number().int().min(0).max(60_000),
    watch: boolish,
    historyMaxAgeDays: z.coerce.number().int().min(1).max(36_500),
    historyMaxBytes: z.coerce
      .number()
      .int()
      .min(1024 * 1024),
  })
  .partial()
  .strict();
export type ConfigInput = z.input<typeof ConfigInput>;

export interface Config {
  readonly notesDir: string;
  /** No flag, variable or file named the notes folder: it is the default ./notes (created if missing). */
  readonly notesIsDefault: boolean;
  readonly stateDir: string;
  /** Index files for this notes folder: one state sub-folder per notes root. */
  readonly indexDir: string;
  readonly modelsDir: string;
  /** Hashed bearer tokens (`notes-mcp token`): <state>/tokens.json. */
  readonly tokenStoreFile: string;
  /** A plain client token the daemon created on first start: <state>/access.token (0600). */
  readonly accessTokenFile: string;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly model: string;
  readonly logLevel: LogLevel;
  readonly logFile: string | undefined;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
  readonly auth: boolean;
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly maxBodyBytes: number;
  readonly rateLimitPerMinute: number;
  readonly toolTimeoutMs: number;
  readonly maxSessions: number;
  /** 2025 sessions and 2026 listen streams one token may hold: below maxSessions, so no token locks out another. */
  readonly maxSessionsPerToken: number;
  /** A request's headers and body must arrive within this (SSE responses are not affected). */
  readonly requestTimeoutMs: number;
  readonly drainMs: number;
  readonly watch: boolean;
  /** Versions of notes changed through notes-mcp, and its trash, for this notes folder. */
  readonly historyDir: string;
  /** History older than this is dropped (default 90 days). */
  readonly historyMaxAgeDays: number;
  /** Past this many bytes of kept versions, the oldest are dropped first (default 1 GiB). */
  readonly historyMaxBytes: number;
  readonly configFile: string | undefined;
}

const ENV_KEYS: Record<string, keyof ConfigInput> = {
  NOTES_MCP_NOTES: 'notes',
  NOTES_MCP_STATE: 'state',
  NOTES_MCP_HOST: 'host',
  NOTES_MCP_PORT: 'port',
  NOTES_MCP_TOKEN: 'token',
  NOTES_MCP_TOKEN_FILE: 'tokenFile',
  NOTES_MCP_MODEL: 'model',
  NOTES_MCP_LOG_LEVEL: 'logLevel',
  NOTES_MCP_LOG_FILE: 'logFile',
  NOTES_MCP_ALLOWED_HOSTS: 'allowedHosts',
  NOTES_MCP_ALLOWED_ORIGINS: 'allowedOrigins',
  NOTES_MCP_AUTH: 'auth',
  NOTES_MCP_INCLUDE: 'include',
  NOTES_MCP_EXCLUDE: 'exclude',
  NOTES_MCP_RATE_LIMIT: 'rateLimitPerMinute',
  NOTES_MCP_TOOL_TIMEOUT_MS: 'toolTimeoutMs',
  NOTES_MCP_MAX_SESSIONS: 'maxSessions',
  NOTES_MCP_MAX_SESSIONS_PER_TOKEN: 'maxSessionsPerToken',
  NOTES_MCP_WATCH: 'watch',
  NOTES_MCP_HISTORY_DAYS: 'historyMaxAgeDays',
  NOTES_MCP_HISTORY_MAX_BYTES: 'historyMaxBytes',
};

/** The environment variables notes-mcp reads, for docs and `doctor`. */
export const ENV_VARS: readonly string[] = [...Object.keys(ENV_KEYS), 'NOTES_MCP_CONFIG'];

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const home = env.HOME && env.HOME.length > 0 ? env.HOME : homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'notes-mcp');
  const xdg = env.XDG_DATA_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(home, '.local', 'share'), 'notes-mcp');
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') out[key] = v;
  }
  return out;
}

function parseLayer(what: string, raw: unknown): ConfigInput {
  const r = ConfigInput.safeParse(raw);
  if (!r.success) {
    throw new NotesError('NOTES_E_CONFIG', [`${what}: ${describeIssues(r.error)}`]);
  }
  return r.data as ConfigInput;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readStateFileSync(file, 1024 * 1024).toString('utf8');
  } catch (err) {
    throw new NotesError('NOTES_E_CONFIG', [`cannot read config file ${file}: ${(err as Error).message}`]);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new NotesError('NOTES_E_CONFIG', [`config file ${file} is not valid JSON: ${(err as Error).message}`]);
  }
}

// Both files are read before anything else: readFileSync on a FIFO left at either path blocked
// every start in open(), with nothing logged (launchd saw a live process).
function readTokenFile(file: string): string {
  try {
    return readStateFileSync(file, 64 * 1024)
      .toString('utf8')
      .trim();
  } catch (err) {
    throw new NotesError('NOTES_E_CONFIG', [`cannot read token file ${file}: ${(err as Error).message}`]);
  }
}

/** Real path when the folder exists, so a symlinked notes root maps to one index. */
function canonical(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return dir;
  }
}

/** The per-notes-folder name under <state>/index/ and <state>/history/: `<slug>-<hash>`. */
function vaultName(notesDir: string): string {
  const real = canonical(notesDir);
  const id = createHash('sha256').update(real).digest('hex').slice(0, 12);
  const slug =
    basename(real)
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .slice(0, 40) || 'notes';
  return `${slug}-${id}`;
}

export function indexDirFor(stateDir: string, notesDir: string): string {
  return join(stateDir, 'index', vaultName(notesDir));
}

/** Defaults keep at least 30 days of history unless agents change over 1 GiB of text in that time. */
export const HISTORY_DEFAULTS = { maxAgeDays: 90, maxBytes: 1024 * 1024 * 1024 } as const;

export interface LoadConfigOptions {
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Config file path; defaults to $NOTES_MCP_CONFIG. */
  configFile?: string;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const configFile = opts.configFile ?? (env.NOTES_MCP_CONFIG || undefined);
  const fileLayer = configFile ? parseLayer(`config file ${configFile}`, readConfigFile(resolve(cwd, configFile))) : {};
  const envLayer = parseLayer('environment', fromEnv(env));
  const flagLayer = parseLayer(
    'command line',
    Object.fromEntries(Object.entries(opts.flags ?? {}).filter(([, v]) => v !== undefined)),
  );
  const merged = { ...fileLayer, ...envLayer, ...flagLayer } as z.output<typeof ConfigInput>;

  const notesDir = resolve(cwd, merged.notes ?? 'notes');
  const stateDir = resolve(cwd, merged.state ?? defaultStateDir(env));
  let token = merged.token;
  const tokenFile = !token && merged.tokenFile ? resolve(cwd, merged.tokenFile) : undefined;
  if (tokenFile) token = readTokenFile(tokenFile);
  if (token !== undefined && token.length < 16) {
    // An emptied or truncated token file: say which file, or the fix is a guess.
    const from = tokenFile ? `token file ${tokenFile} holds ${token.length} characters` : 'NOTES_MCP_TOKEN is shorter';
    throw new NotesError('NOTES_E_CONFIG', [`the extra token must be at least 16 characters (${from})`]);
  }
  // '[::1]' is how a URL spells an IPv6 address; listen() wants it bare.
  const host = (merged.host ?? DEFAULT_HOST).replace(/^\[(.*)\]$/, '$1');
  const maxSessions = merged.maxSessions ?? 256;
  const auth = merged.auth ?? true;

  const config: Config = {
    notesDir,
    notesIsDefault: merged.notes === undefined,
    stateDir,
    indexDir: indexDirFor(stateDir, notesDir),
    modelsDir: join(stateDir, 'models'),
    tokenStoreFile: join(stateDir, STATE_FILES.tokenStore),
    accessTokenFile: join(stateDir, STATE_FILES.accessToken),
    host,
    port: merged.port ?? DEFAULT_PORT,
    token,
    model: merged.model ?? 'auto',
    logLevel: merged.logLevel ?? 'info',
    logFile: merged.logFile ? resolve(cwd, merged.logFile) : undefined,
    allowedHosts: merged.allowedHosts ?? [],
    allowedOrigins: merged.allowedOrigins ?? [],
    auth,
    include: merged.include && merged.include.length > 0 ? merged.include : ['**/*.md', '**/*.markdown'],
    exclude: merged.exclude ?? [],
    maxBodyBytes: merged.maxBodyBytes ?? 4 * 1024 * 1024,
    rateLimitPerMinute: merged.rateLimitPerMinute ?? 600,
    toolTimeoutMs: merged.toolTimeoutMs ?? 30_000,
    maxSessions,
    maxSessionsPerToken: Math.min(merged.maxSessionsPerToken ?? Math.max(8, Math.floor(maxSessions / 8)), maxSessions),
    requestTimeoutMs: merged.requestTimeoutMs ?? 30_000,
    drainMs: merged.drainMs ?? 4_000,
    watch: merged.watch ?? true,
    historyDir: join(stateDir, 'history', vaultName(notesDir)),
    historyMaxAgeDays: merged.historyMaxAgeDays ?? HISTORY_DEFAULTS.maxAgeDays,
    historyMaxBytes: merged.historyMaxBytes ?? HISTORY_DEFAULTS.maxBytes,
    configFile: configFile ? resolve(cwd, configFile) : undefined,
  };
  return deepFreeze(config);
}

/** The loopback names a Host header may carry for a daemon bound to loopback. */
export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]', '::1'];

/**
 * True for a loopback host name or address, as a bind address, a Host name or a socket's
 * remote address spells it: localhost, 127.0.0.0/8, ::1 (bracketed or not), and IPv4-mapped
 * ::ffff:127.x. The one loopback rule (config, guards, HTTP all ask this).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/^::ffff:(?=\d)/, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}
