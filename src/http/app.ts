import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import {
  allowedHostnames,
  bearerToken,
  checkHost,
  checkOrigin,
  type TokenIdentity,
  type TokenStore,
} from '../auth/index.ts';
import { type Config, isLoopbackHost } from '../config/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { PROTOCOL_REVISIONS, VERSION } from '../version.ts';
import type { Caller, McpEndpoint } from './mcp-endpoint.ts';
import type { Metrics } from './metrics.ts';
import { continueNow } from './continue.ts';
import { refuse, refuseWith } from './refuse.ts';

// Request pipeline for /mcp, in order: closing → Host → Origin/CORS → bearer token →
// per-token rate limit → JSON body (size-limited, no batches) → MCP lanes. Which tools a
// token's scope allows is the MCP layer's rule (src/mcp/tools/), the same for HTTP and stdio.

const CORS_ALLOW_HEADERS = 'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id';
const CORS_EXPOSE_HEADERS = 'mcp-session-id, mcp-protocol-version, www-authenticate, retry-after';

export interface HealthSource {
  status(): Record<string, unknown>;
}

export interface AppDeps {
  config: Config;
  log: Logger;
  tokens: TokenStore;
  endpoint: McpEndpoint;
  metrics: Metrics;
  health: HealthSource;
  isClosing: () => boolean;
  /** Count a request as in flight until its response ends (for draining). */
  track: (res: ServerResponse) => void;
}

interface Locals {
  caller: Caller;
}

function fail(res: Response, metrics: Metrics, code: ErrorCode, ...args: unknown[]): void {
  refuse(res, metrics.errors, code, ...args);
}

const MCP_METHODS = 'GET, POST, DELETE, OPTIONS';

export function buildApp(d: AppDeps): express.Express {
  const { config, log, metrics } = d;
  const hosts = allowedHostnames(config.host, config.allowedHosts);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const route =
      req.path === '/mcp'
        ? '/mcp'
        : req.path === '/health'
          ? '/health'
          : req.path === '/metrics'
            ? '/metrics'
            : 'other';
    res.on('finish', () => metrics.httpRequests.inc({ route, status: String(res.statusCode) }));
    // Tokens belong in the Authorization header only: URLs end up in logs and histories.
    if (/[?&](access_token|token)=/i.test(req.originalUrl)) {
      return fail(res, metrics, 'NOTES_E_USAGE', 'tokens are accepted only in the Authorization header');
    }
    next();
  });

  app.use((req, res, next) => {
    const h = checkHost(req.headers.host, hosts);
    if (!h.ok) return refuseWith(res, metrics.errors, h);
    next();
  });

  // /health: no auth, no secrets. Through a proxy (nginx sets X-Forwarded-For) the public sees
  // the status only; the full body (counts, model, index lag) goes to loopback callers and to a
  // valid token. It sits behind the Host check like everything else, and answers 503 while
  // the daemon drains.
  app.get('/health', (req, res) => {
    const closing = d.isClosing();
    res.status(closing ? 503 : 200);
    const status = closing ? 'draining' : 'ok';
    const proxied = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
    if (proxied && !identify(req, d.tokens)) {
      res.json({ status });
      return;
    }
    res.json({ status, version: VERSION, protocols: PROTOCOL_REVISIONS, ...d.health.status() });
  });

  app.use((_req, res, next) => {
    if (d.isClosing()) {
      res.setHeader('Retry-After', '5');
      res.setHeader('Connection', 'close');
      return fail(res, metrics, 'NOTES_E_SHUTTING_DOWN');
    }
    next();
  });

  app.get('/metrics', async (req, res) => {
    if (!isLoopbackHost(req.socket.remoteAddress ?? '') && config.auth) {
      const id = identify(req, d.tokens);
      if (!id) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="notes-mcp"');
        return fail(res, metrics, 'NOTES_E_AUTH_MISSING');
      }
    }
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });

  const mcp = express.Router();
  mcp.use((req, res, next) => {
    const origin = req.headers.origin;
    const o = checkOrigin(origin, config.allowedOrigins);
    if (!o.ok) return refuseWith(res, metrics.errors, o);
    if (origin) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', MCP_METHODS);
      res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'DELETE') {
      res.setHeader('Allow', MCP_METHODS);
      return fail(res, metrics, 'NOTES_E_METHOD_NOT_ALLOWED', req.method, '/mcp', MCP_METHODS);
    }
    // SSE through nginx: never buffer.
    res.setHeader('X-Accel-Buffering', 'no');
    next();
  });

  mcp.use((req, res, next) => {
    if (!config.auth) {
      (res.locals as Locals).caller = { tokenId: undefined, scopes: undefined };
      return next();
    }
    const presented = bearerToken(req.headers.authorization);
    const id = presented === undefined ? undefined : d.tokens.verify(presented);
    if (!id) {
      // A header that is there but not "Bearer <token>" (the token alone, "Token x", "bearer:x")
      // gets an answer that says what is expected, instead of "missing bearer token".
      const malformed = presented === undefined && (req.headers.authorization ?? '').trim() !== '';
      const code = malformed
        ? 'NOTES_E_AUTH_MALFORMED'
        : presented === undefined
          ? 'NOTES_E_AUTH_MISSING'
          : d.tokens.unreadable()
            ? 'NOTES_E_TOKEN_STORE_UNREADABLE'
            : 'NOTES_E_AUTH_INVALID';
      if (code === 'NOTES_E_TOKEN_STORE_UNREADABLE') return fail(res, metrics, code);
      res.setHeader(
        'WWW-Authenticate',
        presented === undefined ? 'Bearer realm="notes-mcp"' : 'Bearer realm="notes-mcp", error="invalid_token"',
      );
      return fail(res, metrics, code);
    }
    (res.locals as Locals).caller = {
      tokenId: id.id,
      tokenName: id.name,
      scopes: id.scope === 'write' ? ['read', 'write'] : ['read'],
    };
    next();
  });

  mcp.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.rateLimitPerMinute,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      keyGenerator: (_req, res) => (res.locals as Locals).caller.tokenId ?? 'anonymous',
      validate: false,
      handler: (_req, res, _next, options) => {
        const retry = Math.ceil(options.windowMs / 1000);
        res.setHeader('Retry-After', String(retry));
        fail(res, metrics, 'NOTES_E_RATE_LIMITED', retry);
      },
    }),
  );

  mcp.use((req, res, next) => {
    // A declared length over the limit is refused before the body is read: body-parser reads
    // off the whole body before its 413 (a 1 GiB upload, or 30 s of one, per request).
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > config.maxBodyBytes) return fail(res, metrics, 'NOTES_E_BODY_TOO_LARGE', config.maxBodyBytes);
    continueNow(req, res);
    next();
  });
  mcp.use(express.json({ limit: config.maxBodyBytes, type: ['application/json', 'application/*+json'] }));

  mcp.all('/', async (req, res) => {
    const body: unknown = req.body;
    if (Array.isArray(body)) return fail(res, metrics, 'NOTES_E_BATCH_UNSUPPORTED');
    // The SDK re-serialises bodies recursively: nesting thousands deep overflowed its stack
    // (a 500 with a stack trace). No MCP message needs more than a few dozen levels.
    if (depthExceeds(body, MAX_JSON_DEPTH)) {
      return fail(res, metrics, 'NOTES_E_JSON_INVALID', `nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const caller = (res.locals as Locals).caller;
    const msg = (typeof body === 'object' && body !== null ? body : {}) as {
      method?: unknown;
      params?: { name?: unknown };
    };
    const method = typeof msg.method === 'string' ? msg.method : req.method === 'GET' ? 'GET stream' : req.method;
    const tool = method === 'tools/call' && typeof msg.params?.name === 'string' ? msg.params.name : '';
    // Long-lived notification streams are closed at shutdown, not waited for.
    if (method !== 'GET stream' && method !== 'subscriptions/listen') d.track(res);
    const t0 = performance.now();
    const toolLabel = tool.length <= 64 ? tool : 'other';
    const era = req.headers['mcp-protocol-version'] === '2026-07-28' ? 'modern' : 'legacy';
    metrics.mcpRequests.inc({ method: method.slice(0, 64), tool: toolLabel, era });
    res.on('close', () =>
      metrics.mcpDuration.observe({ method: method.slice(0, 64), tool: toolLabel }, (performance.now() - t0) / 1000),
    );
    try {
      await d.endpoint.handle(req as IncomingMessage, res, body, caller);
    } catch (err) {
      // A body express left unparsed (not JSON) is read by the SDK itself, with the same limit:
      // past it, that is the client's 413, not our 500 (found by tests/fuzz/jsonrpc.test.ts).
      if ((err as { name?: unknown }).name === 'RequestBodyTooLargeError') {
        return fail(res, metrics, 'NOTES_E_BODY_TOO_LARGE', config.maxBodyBytes);
      }
      log.error({ err, method }, 'mcp request failed');
      fail(res, metrics, 'NOTES_E_INTERNAL', 'the log has the details');
    }
  });
  app.use('/mcp', mcp);

  // Errors from the JSON parser (too large, malformed, too deep) and anything else: the one
  // refusal shape, a declared code, no stack. A client fault keeps its 4xx under its own code;
  // only what is really ours is NOTES_E_INTERNAL (500).
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    if (e.type === 'entity.too.large') return fail(res, metrics, 'NOTES_E_BODY_TOO_LARGE', config.maxBodyBytes);
    if (e.type === 'entity.parse.failed') return fail(res, metrics, 'NOTES_E_JSON_INVALID', 'malformed JSON');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return fail(res, metrics, 'NOTES_E_USAGE', `bad request (${e.type ?? `HTTP ${e.status}`})`);
    }
    log.error({ err }, 'http request failed');
    fail(res, metrics, 'NOTES_E_INTERNAL', 'the log has the details');
  });

  app.use((req, res) => fail(res, metrics, 'NOTES_E_ROUTE_NOT_FOUND', req.path.slice(0, 200)));
  return app;
}

/** Deepest nesting a request may have (no MCP message needs more than a few dozen levels). */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `max` (iterative: never overflows itself). */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function identify(req: Request, tokens: TokenStore): TokenIdentity | undefined {
  const t = bearerToken(req.headers.authorization);
  return t === undefined ? undefined : tokens.verify(t);
}
