import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TokenStore } from '../auth/tokens.ts';
import type { Config } from '../config/index.ts';
import { openEmbedder } from '../embed/index.ts';
import type { Embedder } from '../embed/types.ts';
import { writeFileAtomicSync } from '../fs-atomic.ts';
import { NotesIndex } from '../index/index.ts';
import { type Logger, reopenLog } from '../log.ts';
import { watchIntoIndex } from './watch.ts';
import type { McpDeps } from '../mcp/context.ts';
import { NotificationHub } from '../mcp/notify.ts';
import type { ChunkOptions } from '../chunk/index.ts';
import { buildApp } from '../http/app.ts';
import { McpEndpoint } from '../http/mcp-endpoint.ts';
import { Metrics } from '../http/metrics.ts';

// The daemon's life: open model and index, answer at once while the initial incremental
// index runs, watch the folder, and on SIGTERM refuse new work, drain, flush, exit 0.

export interface Daemon {
  url: string;
  index: NotesIndex;
  /** Resolves when the initial index has finished. */
  ready: Promise<void>;
  shutdown(reason: string): Promise<void>;
  closed: Promise<void>;
}

function timedEmbedder(e: Embedder, observe: (s: number) => void): Embedder {
  return {
    modelId: e.modelId,
    fingerprint: e.fingerprint,
    dims: e.dims,
    maxTokens: e.maxTokens,
    bagOfWords: e.bagOfWords,
    countTokens: (t) => e.countTokens(t),
    dispose: () => e.dispose(),
    embed: async (texts) => {
      const t0 = performance.now();
      try {
        return await e.embed(texts);
      } finally {
        observe((performance.now() - t0) / 1000);
      }
    },
  };
}

/**
 * Create a bearer token on first start so auth-on-by-default does not lock the user out;
 * the token goes to a 0600 file, never to the log.
 */
export function ensureInitialToken(config: Config, tokens: TokenStore, log: Logger): string | undefined {
  if (!config.auth || tokens.hasAny()) return undefined;
  const { token, record } = tokens.create('initial', 'write');
  const file = join(config.stateDir, 'token');
  writeFileAtomicSync(file, `${token}\n`, 0o600);
  log.warn({ token_id: record.id, token_file: file }, 'created a first bearer token (scope write)');
  process.stderr.write(
    `notes-mcp: created a bearer token for clients (scope write). Read it with:\n  cat "${file}"\n` +
      'Manage tokens with "notes-mcp token create|list|revoke".\n',
  );
  return file;
}

export interface StartOptions {
  config: Config;
  log: Logger;
  /** Skip the initial sync (tests that drive indexing themselves). */
  skipInitialSync?: boolean;
  installSignalHandlers?: boolean;
  /** Chunk size overrides (the MCP bench indexes ~100k chunks from a 38k-note corpus). */
  chunkOptions?: Partial<ChunkOptions>;
}

export async function startDaemon(o: StartOptions): Promise<Daemon> {
  const { config, log } = o;
  // Signals can arrive at any moment, including while the model loads: handle them from the
  // start (the default action of SIGHUP would kill the daemon during log rotation).
  let shutdownRef: ((reason: string) => Promise<void>) | undefined;
  if (o.installSignalHandlers) {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (!shutdownRef) process.exit(0); // nothing acknowledged yet; SQLite recovers on its own
      void shutdownRef(sig).then(() => process.exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.on('SIGHUP', () => {
      reopenLog();
      log.info('log file reopened');
    });
  }
  mkdirSync(config.notesDir, { recursive: true });
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const tokens = new TokenStore(config.tokensFile, config.token);
  ensureInitialToken(config, tokens, log);

  let metrics: Metrics | undefined;
  const rawEmbedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
  const embedder = timedEmbedder(rawEmbedder, (s) => metrics?.embedSeconds.observe(s));
  const index = await NotesIndex.open({ config, embedder, log, chunkOptions: o.chunkOptions });
  const hub = new NotificationHub(index);
  let endpoint: McpEndpoint | undefined;
  metrics = new Metrics({
    notes: () => index.counts().notes,
    chunks: () => index.counts().chunks,
    sessions: () => endpoint?.sessionCount ?? 0,
    lagSeconds: () => index.status().lagMs / 1000,
  });
  const m = metrics;
  const deps: McpDeps = {
    index,
    config,
    log,
    onToolCall: (tool, _ms, outcome) => m.toolCalls.inc({ tool, outcome }),
  };
  endpoint = new McpEndpoint({ deps, hub, log, maxSessions: config.maxSessions, maxBodyBytes: config.maxBodyBytes });

  const startedAt = Date.now();
  let closing = false;
  const inflight = new Set<ServerResponse>();
  let drained: (() => void) | undefined;
  const track = (res: ServerResponse): void => {
    inflight.add(res);
    res.on('close', () => {
      inflight.delete(res);
      if (inflight.size === 0) drained?.();
    });
  };
  const app = buildApp({
    config,
    log,
    tokens,
    endpoint,
    metrics,
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
          sessions: endpoint?.sessionCount ?? 0,
          auth: config.auth,
        };
      },
    },
  });

  const server: Server = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 65_000 }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}/mcp`;
  log.info(
    { url, notes: config.notesDir, state: config.stateDir, model: embedder.modelId, auth: config.auth },
    'serving',
  );

  const watcher = await watchIntoIndex(config, index, log);

  const ready = o.skipInitialSync
    ? Promise.resolve()
    : index.sync().then(
        (s) => {
          log.info(
            {
              notes: s.notes,
              chunks: s.chunks,
              indexed: s.indexed,
              unchanged: s.unchanged,
              removed: s.removed,
              seconds: Number(s.seconds.toFixed(2)),
            },
            'initial index done',
          );
        },
        (err: unknown) => {
          log.error({ err }, 'initial index failed');
        },
      );

  let closedResolve: () => void = () => undefined;
  const closed = new Promise<void>((r) => {
    closedResolve = r;
  });
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      closing = true;
      log.info({ reason, inflight: inflight.size }, 'shutting down: draining');
      server.close();
      server.closeIdleConnections();
      if (inflight.size > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, config.drainMs).unref();
        });
      }
      if (inflight.size > 0) log.warn({ inflight: inflight.size }, 'drain timed out; closing remaining requests');
      try {
        await endpoint?.close();
        await watcher?.close();
        hub.close();
        await index.close();
        await rawEmbedder.dispose();
      } finally {
        server.closeAllConnections();
        log.info('stopped');
        closedResolve();
      }
    })();
    return shuttingDown;
  };

  shutdownRef = shutdown;
  return { url, index, ready, shutdown, closed };
}

export function tokenFileHint(config: Config): string | undefined {
  const f = join(config.stateDir, 'token');
  return existsSync(f) ? f : undefined;
}
