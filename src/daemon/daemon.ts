import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TokenStore } from '../auth/index.ts';
import type { ChunkOptions } from '../chunk/index.ts';
import { type Config, STATE_FILES } from '../config/index.ts';
import { fsyncPath, writeFileAtomicSync } from '../fs-atomic.ts';
import { buildApp, deferContinue, McpEndpoint, Metrics } from '../http/index.ts';
import type { NotesIndex } from '../index/index.ts';
import { type Logger, reopenLogs } from '../log.ts';
import { boundPipelining, connectionCap, guardConnections, MAX_PIPELINED, readFdSoftLimit } from './connections.ts';
import { closeInOrder, openRuntime } from './runtime.ts';
import { POLL_MS } from '../notes/index.ts';
import { removeRuntimeFile, writeRuntimeFile } from './runtime-file.ts';
import { VERSION } from '../version.ts';
import { NotesError } from '../errors.ts';

// The daemon's life: open model and index, answer at once while the initial incremental
// index runs, watch the folder, and on SIGTERM refuse new work, drain, flush, exit 0.

export interface Daemon {
  url: string;
  /** The file holding the first token, when there is one (for the start line). */
  tokenFile: string | undefined;
  model: string;
  index: NotesIndex;
  /** Resolves when the initial index has finished. */
  ready: Promise<void>;
  shutdown(reason: string): Promise<void>;
  closed: Promise<void>;
}

/**
 * Create a bearer token on first start so auth-on-by-default does not lock the user out;
 * the token goes to a 0600 file, never to the log.
 */
export function ensureInitialToken(config: Config, tokens: TokenStore, log: Logger): string | undefined {
  moveLegacyAccessToken(config, log);
  if (!config.auth || tokens.hasAny()) return undefined;
  const { token, record } = tokens.create('initial', 'write');
  const file = config.accessTokenFile;
  writeFileAtomicSync(file, `${token}\n`, 0o600);
  log.warn({ token_id: record.id, token_file: file }, 'created a first bearer token (scope write)');
  process.stderr.write(
    `notes-mcp: created a bearer token for clients (scope write). Read it with:\n  cat "${file}"\n` +
      'Manage tokens with "notes-mcp token create|list|revoke".\n',
  );
  return file;
}

/** 0.1.0 kept the first token in <state>/token; it is <state>/access.token now. */
function moveLegacyAccessToken(config: Config, log: Logger): void {
  const old = join(config.stateDir, STATE_FILES.legacyAccessToken);
  if (!existsSync(old) || existsSync(config.accessTokenFile)) return;
  try {
    renameSync(old, config.accessTokenFile);
    fsyncPath(config.stateDir);
    log.info({ from: old, to: config.accessTokenFile }, 'moved the first token file to its new name');
  } catch (err) {
    log.warn({ err, from: old }, 'could not move the old token file');
  }
}

export interface StartOptions {
  config: Config;
  log: Logger;
  /** Skip the initial sync (tests that drive indexing themselves). */
  skipInitialSync?: boolean;
  installSignalHandlers?: boolean;
  /** Chunk size overrides (the MCP bench indexes ~100k chunks from a 38k-note corpus). */
  chunkOptions?: Partial<ChunkOptions>;
  /** Create a missing notes folder that is not the default (serve --create). */
  createNotes?: boolean;
}

export async function startDaemon(o: StartOptions): Promise<Daemon> {
  const { config, log } = o;
  // Signals can arrive at any moment, including while the model loads: handle them from the
  // start (the default action of SIGHUP would kill the daemon during log rotation).
  let shutdownRef: ((reason: string) => Promise<void>) | undefined;
  if (o.installSignalHandlers) {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        // A repeated SIGTERM is a supervisor or a wrapper (GNU timeout) saying it again: the
        // drain goes on, bounded by drainMs and by launchd's SIGKILL after ExitTimeOut. A
        // second Ctrl-C is a person who will not wait: what was acknowledged is on disk.
        if (sig === 'SIGINT') process.exit(130);
        log.info({ signal: sig }, 'already stopping: still draining');
        return;
      }
      stopping = true;
      if (!shutdownRef) {
        // Nothing acknowledged yet; SQLite recovers on its own. Said in the log, so that a stop
        // during a long start (a rebuild) is not a silent exit 0.
        log.info({ signal: sig }, 'stopped during start-up, before serving');
        log.flush?.();
        process.exit(0);
      }
      // Held until process.exit below: with the server closed and the graph worker unref'd
      // between requests, the event loop could run dry mid-shutdown, and Node exited 0 without
      // the index saved or daemon.json removed (seen from outside, 3 of 4 stops in a re-index).
      setInterval(() => undefined, 60_000);
      void shutdownRef(sig).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', () => {
      reopenLogs();
      log.info('log file reopened');
    });
  }
  // From here a stop is handled (and logged): the model load and the index open come next.
  log.info({ pid: process.pid, version: VERSION }, 'starting');
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const tokens = new TokenStore(config.tokenStoreFile, config.token, (err) =>
    log.error(
      { err: err.message, code: err.code },
      'the token store is unreadable: stored tokens are refused until it is fixed (notes-mcp doctor)',
    ),
  );
  try {
    ensureInitialToken(config, tokens, log);
  } catch (err) {
    // tokens.json cannot be recreated: never overwrite it, never crash-loop over it.
    log.error({ err }, 'could not check the stored tokens; serving with the ones that can be verified');
  }
  let metrics: Metrics | undefined;
  const rt = await openRuntime({
    config,
    log,
    skipInitialSync: o.skipInitialSync,
    chunkOptions: o.chunkOptions,
    createNotes: o.createNotes,
    // Under launchd a non-zero exit is restarted, and the start-time check heals the database.
    onCorrupt: o.installSignalHandlers
      ? () => {
          void shutdownRef?.('index damaged').finally(() => process.exit(70));
        }
      : undefined,
    onEmbed: (s) => metrics?.embedSeconds.observe(s),
    onToolCall: (tool, _ms, outcome) => metrics?.toolCalls.inc({ tool, outcome }),
  });
  const { index } = rt;
  let endpoint: McpEndpoint | undefined;
  const m = new Metrics({
    notes: () => index.counts().notes,
    chunks: () => index.counts().chunks,
    sessions: () => (endpoint?.sessionCount ?? 0) + (endpoint?.streamCount ?? 0),
    lagSeconds: () => index.status().lagMs / 1000,
  });
  metrics = m;
  const ep = new McpEndpoint({
    deps: rt.deps,
    hub: rt.hub,
    log,
    maxSessions: config.maxSessions,
    maxSessionsPerToken: config.maxSessionsPerToken,
    maxBodyBytes: config.maxBodyBytes,
    errors: m.errors,
    isLive: (id) => tokens.isLive(id),
  });
  endpoint = ep;

  const startedAt = Date.now();
  let closing = false;
  const track = (res: ServerResponse): void => {
    res.on('close', rt.gate.enter());
  };
  const app = buildApp({
    config,
    log,
    tokens,
    endpoint: ep,
    metrics: m,
    isClosing: () => closing,
    track,
    health: {
      status: () => {
        const s = index.status();
        return {
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
          notes: s.notes,
          chunks: s.chunks,
          model: s.model,
          dims: s.dims,
          index: {
            syncing: s.syncing,
            lag_ms: s.lagMs,
            last_indexed_at: s.lastIndexedAt ? new Date(s.lastIndexedAt).toISOString() : null,
            last_sync_at: s.lastSyncAt ? new Date(s.lastSyncAt).toISOString() : null,
          },
          // Folders past the system's limit of file watches are read again every 10 s instead.
          watch: watchHealth(rt.watchedFolders()),
          sessions: ep.sessionCount,
          listen_streams: ep.streamCount,
          auth: config.auth,
        };
      },
    },
  });

  // Headers and body must arrive within requestTimeoutMs (a client trickling a body a byte at a
  // time held a socket for ever); responses, SSE streams included, are not limited by it. The
  // check runs every second instead of Node's default 30 s. Idle keep-alive sockets close after
  // 65 s, just longer than nginx keeps its upstream connections.
  const server: Server = createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(config.requestTimeoutMs, 15_000),
      keepAliveTimeout: 65_000,
      connectionsCheckingInterval: 1_000,
    },
    boundPipelining(app, MAX_PIPELINED, log),
  );
  // "100 Continue" only once the guards passed (src/http/continue.ts), not before auth.
  server.on('checkContinue', (req, res) => {
    deferContinue(req);
    server.emit('request', req, res);
  });
  const cap = connectionCap(readFdSoftLimit());
  if (cap !== undefined) guardConnections(server, cap, log);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await closeInOrder(log, [
      ['endpoint', () => ep.close()],
      ['runtime', () => rt.close()],
    ]).catch(() => undefined);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw await portInUse(config.host, config.port);
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}/mcp`;
  log.info(
    { url, notes: config.notesDir, state: config.stateDir, model: rt.embedder.modelId, auth: config.auth },
    'serving',
  );
  try {
    writeRuntimeFile(config.indexDir, {
      pid: process.pid,
      url,
      health: url.replace(/\/mcp$/, '/health'),
      started_at: new Date().toISOString(),
      version: VERSION,
      notes: config.notesDir,
    });
  } catch (err) {
    log.warn({ err }, 'could not write the runtime file (doctor and status will not find this daemon)');
  }

  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((r) => {
    closedResolve = r;
  });
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      closing = true;
      log.info({ reason, inflight: rt.gate.size }, 'shutting down: draining');
      server.close();
      server.closeIdleConnections();
      try {
        // The drain (once, shared with rt.close()) stops index work, then waits for responses
        // and tool bodies before anything is closed.
        await closeInOrder(log, [
          ['drain', () => rt.drain()],
          ['endpoint', () => ep.close()],
          ['runtime', () => rt.close()],
        ]);
      } finally {
        server.closeAllConnections();
        removeRuntimeFile(config.indexDir);
        log.info('stopped');
        closedResolve();
      }
    })();
    return shuttingDown;
  };

  shutdownRef = shutdown;
  return {
    url,
    index,
    ready: rt.ready,
    shutdown,
    closed,
    tokenFile: existsSync(config.accessTokenFile) ? config.accessTokenFile : undefined,
    model: rt.embedder.modelId,
  };
}

/** What holds the port, when it can tell: another notes-mcp answers /health with its version. */
async function portInUse(host: string, port: number): Promise<NotesError> {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let who = 'another program';
  try {
    const r = await fetch(`http://${h}:${port}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await r.json()) as { version?: unknown; status?: unknown };
    if (typeof body.version === 'string') who = `another notes-mcp (version ${body.version})`;
    else if (typeof body.status === 'string') who = 'another notes-mcp';
  } catch {
    // not an HTTP server we know
  }
  return new NotesError('NOTES_E_PORT_IN_USE', [port, host, who]);
}

/** /health's view of the note watcher: null when not watching (--no-watch). */
function watchHealth(f: { watched: number; polled: number } | undefined): Record<string, unknown> | null {
  if (!f) return null;
  return { folders: f.watched + f.polled, polled: f.polled, poll_s: f.polled > 0 ? POLL_MS / 1000 : null };
}
