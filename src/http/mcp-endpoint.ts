import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport, toWebRequest } from '@modelcontextprotocol/node';
import {
  type AuthInfo,
  classifyInboundRequest,
  createMcpHandler,
  legacyStatelessFallback,
  type McpServer,
} from '@modelcontextprotocol/server';
import type { Logger } from '../log.ts';
import {
  connectionSink,
  createMcpServer,
  MAX_UNREAD_REPLY_BYTES,
  type McpDeps,
  type McpInstanceContext,
  type NotificationHub,
} from '../mcp/index.ts';
import { ListenStreams } from './listen.ts';
import { refuse } from './refuse.ts';

// Two lanes behind one /mcp endpoint:
// - 2026-07-28 clients go to the SDK's stateless handler (createMcpHandler, legacy: 'reject');
//   subscriptions ride `subscriptions/listen` streams fed by the handler's bus.
// - 2025-era clients get real sessions (NodeStreamableHTTPServerTransport), because
//   resources/subscribe and the GET notification stream need somewhere to live.
// A 2025 request naming a session this process does not know (typically: the daemon was
// restarted) is served statelessly instead of 404, so a restart does not break tool calls
// of connected clients; only their notification stream has to be reopened.

export interface Caller {
  tokenId: string | undefined;
  /** The token's name, for the history of changes it makes. */
  tokenName?: string | undefined;
  scopes: readonly string[] | undefined;
}

interface Session {
  id: string;
  transport: NodeStreamableHTTPServerTransport;
  server: McpServer;
  subs: Set<string>;
  tokenId: string | undefined;
  lastSeen: number;
  openStreams: number;
  /** The GET notification streams, to close one whose client stopped reading. */
  streams: Set<ServerResponse>;
  offSink: () => void;
}

/** A POST's reply in flight, for the unread-reply bound. */
interface Reply {
  res: ServerResponse;
  /** res.writableLength at the last check. */
  left: number;
  /** Since when the client has taken none of it. */
  since: number | undefined;
}

export interface McpEndpointOptions {
  deps: McpDeps;
  hub: NotificationHub;
  log: Logger;
  maxSessions: number;
  /** Sessions, and listen streams, one token may hold (default: maxSessions). */
  maxSessionsPerToken?: number;
  /** A notification stream whose socket takes no data for this long is closed (default 30 s);
   * so is the connection of a reply the client has not taken any of for as long. */
  streamStallMs?: number;
  /** Requests of one token running or with replies not yet read, at most (default 64). */
  maxRepliesPerToken?: number;
  /** Bytes of one token's replies written but not yet taken by its clients before its next reply waits (default 32 MiB). */
  maxUnreadBytesPerToken?: number;
  errors?: { inc(labels: { code: string }): void };
  /** Whether a token is still valid (revoked: its open sessions and streams are closed). */
  isLive?: (tokenId: string) => boolean;
  maxBodyBytes: number;
  /** Sessions idle longer than this (and with no open stream) are closed. */
  sessionIdleMs?: number;
  keepAliveMs?: number;
}

function authInfoFor(caller: Caller): AuthInfo | undefined {
  if (caller.tokenId === undefined) return undefined;
  return {
    token: 'redacted',
    clientId: caller.tokenId,
    scopes: [...(caller.scopes ?? [])],
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    ...(caller.tokenName === undefined ? {} : { extra: { tokenName: caller.tokenName } }),
  };
}

function tokenNameOf(auth: AuthInfo | undefined): string | undefined {
  const name = auth?.extra?.['tokenName'];
  return typeof name === 'string' ? name : undefined;
}

function scopesOf(auth: AuthInfo | undefined): readonly string[] | undefined {
  return auth ? auth.scopes : undefined;
}

export class McpEndpoint {
  readonly #o: McpEndpointOptions;
  readonly #modern;
  readonly #stateless;
  readonly #sessions = new Map<string, Session>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #streamCheck: NodeJS.Timeout;
  readonly #offModern: () => void;
  readonly #listen: ListenStreams;
  readonly #blockedSince = new WeakMap<ServerResponse, number>();
  readonly #repliesOf = new Map<string, Set<Reply>>();

  constructor(o: McpEndpointOptions) {
    this.#o = o;
    const onerror = (err: Error): void => o.log.debug({ err: err.message }, 'mcp transport');
    const factory = (ctx: { era: 'legacy' | 'modern'; authInfo?: AuthInfo; requestInfo?: Request }): McpServer =>
      createMcpServer(o.deps, {
        era: ctx.era,
        // Only the modern lane's header is validated against the body before this runs.
        method: ctx.era === 'modern' ? (ctx.requestInfo?.headers.get('mcp-method') ?? undefined) : undefined,
        scopes: scopesOf(ctx.authInfo),
        tokenId: ctx.authInfo?.clientId,
        tokenName: tokenNameOf(ctx.authInfo),
        transport: 'http',
        replyRoom: this.#replyRoom(ctx.authInfo?.clientId),
      });
    this.#modern = createMcpHandler(factory, {
      legacy: 'reject',
      onerror,
      // A subscriptions/listen stream is the 2026 counterpart of a 2025 session: same bound.
      maxSubscriptions: o.maxSessions,
      keepAliveMs: o.keepAliveMs ?? 15_000,
      maxRequestBodySize: o.maxBodyBytes,
    });
    this.#stateless = legacyStatelessFallback(factory, onerror, { maxRequestBodySize: o.maxBodyBytes });
    this.#listen = new ListenStreams({
      log: o.log,
      maxStreams: o.maxSessions,
      maxStreamsPerToken: o.maxSessionsPerToken ?? o.maxSessions,
      keepAliveMs: o.keepAliveMs ?? 15_000,
      stallMs: o.streamStallMs ?? 30_000,
      errors: o.errors,
      isLive: o.isLive,
    });
    this.#offModern = o.hub.add({
      resourceUpdated: (uri) => this.#listen.resourceUpdated(uri),
      resourcesChanged: () => this.#listen.resourcesChanged(),
    });
    const stall = o.streamStallMs ?? 30_000;
    this.#streamCheck = setInterval(
      () => this.#closeStalled(stall),
      Math.max(500, Math.min(2_000, Math.floor(stall / 4))),
    );
    this.#streamCheck.unref();
    const idle = o.sessionIdleMs ?? 30 * 60_000;
    this.#sweeper = setInterval(() => this.#sweep(idle), Math.min(idle, 60_000));
    this.#sweeper.unref();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get streamCount(): number {
    return this.#listen.count;
  }

  /**
   * A 2025 GET stream whose socket has refused data for `stallMs` is cut (its client
   * reconnects): the SDK writes notifications to it without waiting, so an unread stream
   * would otherwise grow in memory without bound.
   */
  #closeStalled(stallMs: number): void {
    const now = Date.now();
    for (const r of [...this.#repliesOf.values()].flatMap((set) => [...set])) {
      // Bytes written but not yet taken by the kernel; a reply counts as stalled while that
      // does not shrink (a slow reader that takes some is left alone).
      const left = r.res.writableLength;
      if (left === 0 || left < r.left) r.since = undefined;
      else r.since ??= now;
      r.left = left;
      if (r.since !== undefined && now - r.since >= stallMs) {
        this.#o.log.info({ pending_bytes: left }, 'reply not read by its client: connection closed');
        r.res.destroy();
      }
    }
    for (const s of [...this.#sessions.values()]) {
      if (s.tokenId !== undefined && this.#o.isLive && !this.#o.isLive(s.tokenId)) {
        // Requests of a revoked token are refused at once; its session and stream end here.
        this.#o.log.info({ session_id: s.id, token_id: s.tokenId }, 'session of a revoked token: closed');
        for (const res of s.streams) res.destroy();
        this.#drop(s.id);
        void s.server.close().catch(() => undefined);
        continue;
      }
      for (const res of s.streams) {
        if (!res.writableNeedDrain) {
          this.#blockedSince.delete(res);
          continue;
        }
        const since = this.#blockedSince.get(res);
        if (since === undefined) this.#blockedSince.set(res, now);
        else if (now - since >= stallMs) {
          this.#o.log.info({ session_id: s.id }, 'notification stream not reading: closed');
          res.destroy();
        }
      }
    }
  }

  /**
   * Count a POST's reply against its token until the reply is done (sent to the kernel, or
   * cut): false, with the refusal sent, when the token already has its share. A client that
   * sends requests and never reads the replies holds every reply in this process's memory
   * (200 unread 16 MB resources/read replies: 6.8 GB of RSS); this bounds how many, and
   * #closeStalled cuts those not taken for streamStallMs.
   */
  #admitReply(res: ServerResponse, tokenId: string | undefined): boolean {
    const key = tokenId ?? '';
    const max = this.#o.maxRepliesPerToken ?? 64;
    const mine = this.#repliesOf.get(key) ?? new Set<Reply>();
    if (mine.size >= max) {
      res.setHeader('Retry-After', '5');
      refuse(res, this.#o.errors, 'NOTES_E_TOKEN_BUSY', max);
      return false;
    }
    this.#repliesOf.set(key, mine);
    const reply: Reply = { res, left: 0, since: undefined };
    mine.add(reply);
    res.once('close', () => {
      mine.delete(reply);
      if (mine.size === 0 && this.#repliesOf.get(key) === mine) this.#repliesOf.delete(key);
    });
    return true;
  }

  /**
   * Whether this token may have another reply built: its replies written and not yet taken
   * by its clients stay under maxUnreadBytesPerToken. Counting replies is not enough: 64 unread
   * replies of a 1 MiB note of control characters (5.6 MB of JSON each) took the daemon from
   * 490 to 1,198 MB. Past the budget, calls wait before building their reply (a slow reader is
   * served at its pace, never cut); a client that reads nothing has its replies cut after
   * streamStallMs, which makes room again.
   */
  #replyRoom(tokenId: string | undefined): () => boolean {
    const budget = this.#o.maxUnreadBytesPerToken ?? MAX_UNREAD_REPLY_BYTES;
    return () => {
      const mine = this.#repliesOf.get(tokenId ?? '');
      if (!mine) return true;
      let unread = 0;
      for (const r of mine) unread += r.res.writableLength;
      return unread <= budget;
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse, body: unknown, caller: Caller): Promise<void> {
    const authInfo = authInfoFor(caller);
    const listen = ListenStreams.wants(body) && isModernListen(req);
    if (req.method === 'POST' && !listen && !this.#admitReply(res, caller.tokenId)) return;
    if (!isLegacy(req, body)) {
      if (listen) return this.#listen.serve(req, res, body, caller.tokenId);
      return this.#serveWeb(this.#modern.fetch, req, res, body, authInfo);
    }
    const sid = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sid) ? sid[0] : sid;
    if (sessionId === undefined) {
      if (req.method === 'POST' && isInitialize(body)) return this.#openSession(req, res, body, caller, authInfo);
      if (req.method === 'POST') return this.#serveWeb(this.#stateless, req, res, body, authInfo);
      return refuse(res, this.#o.errors, 'NOTES_E_SESSION_REQUIRED', req.method ?? 'GET');
    }
    const s = this.#sessions.get(sessionId);
    if (!s || s.tokenId !== caller.tokenId) {
      if (req.method === 'POST' && !isInitialize(body)) {
        this.#o.log.debug({ session_id: sessionId }, 'unknown session: serving statelessly');
        return this.#serveWeb(this.#stateless, req, res, body, authInfo);
      }
      return refuse(res, this.#o.errors, 'NOTES_E_SESSION_NOT_FOUND', sessionId);
    }
    s.lastSeen = Date.now();
    if (req.method === 'GET') {
      s.openStreams++;
      s.streams.add(res);
      res.on('close', () => {
        s.openStreams--;
        s.streams.delete(res);
        s.lastSeen = Date.now();
      });
    }
    if (req.method === 'POST') headersWithFirstWrite(res);
    await s.transport.handleRequest(Object.assign(req, { auth: authInfo }), res, body);
  }

  /**
   * Serve through a fetch-shaped handler (the modern lane, or the stateless legacy fallback).
   * The web Request is built once (toNodeHandler would build a second one and classify the
   * request again) and aborted when the client goes away before the response ended, so a
   * subscriptions/listen stream ends with its connection. Only then: every abort builds a
   * DOMException, stack and all.
   */
  async #serveWeb(
    fetch: (request: Request, options?: { authInfo?: AuthInfo; parsedBody?: unknown }) => Promise<Response>,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    authInfo: AuthInfo | undefined,
  ): Promise<void> {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const web = await toWebRequest(req, body, { maxRequestBodySize: this.#o.maxBodyBytes, signal: abort.signal });
    const response = await fetch(web, authInfo ? { authInfo, parsedBody: body } : { parsedBody: body });
    await writeWebResponse(response, res, abort.signal);
  }

  async #openSession(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    caller: Caller,
    authInfo: AuthInfo | undefined,
  ): Promise<void> {
    if (this.#sessions.size >= this.#o.maxSessions) {
      this.#sweep(0);
      if (this.#sessions.size >= this.#o.maxSessions) {
        res.setHeader('Retry-After', '30');
        return refuse(res, this.#o.errors, 'NOTES_E_TOO_MANY_SESSIONS', this.#o.maxSessions);
      }
    }
    const perToken = this.#o.maxSessionsPerToken ?? this.#o.maxSessions;
    if (caller.tokenId !== undefined && this.#sessionsOf(caller.tokenId) >= perToken) {
      this.#sweep(60_000);
      if (this.#sessionsOf(caller.tokenId) >= perToken) {
        res.setHeader('Retry-After', '30');
        return refuse(res, this.#o.errors, 'NOTES_E_TOKEN_SESSIONS', perToken);
      }
    }
    const subs = new Set<string>();
    let session: Session | undefined;
    const ctx: McpInstanceContext = {
      era: 'legacy',
      scopes: caller.scopes,
      tokenId: caller.tokenId,
      tokenName: caller.tokenName,
      transport: 'http',
      replyRoom: this.#replyRoom(caller.tokenId),
      onSubscribe: (uri) => subs.add(uri),
      onUnsubscribe: (uri) => subs.delete(uri),
    };
    const server = createMcpServer(this.#o.deps, ctx);
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      keepAliveMs: this.#o.keepAliveMs ?? 15_000,
      maxRequestBodySize: this.#o.maxBodyBytes,
      onsessioninitialized: (id) => {
        ctx.sessionId = id;
        const offSink = this.#o.hub.add(connectionSink(() => server, subs));
        session = {
          id,
          transport,
          server,
          subs,
          tokenId: caller.tokenId,
          lastSeen: Date.now(),
          openStreams: 0,
          streams: new Set(),
          offSink,
        };
        this.#sessions.set(id, session);
        this.#o.log.info({ session_id: id, token_id: caller.tokenId }, 'session opened');
      },
    });
    transport.onclose = () => {
      if (session) this.#drop(session.id);
    };
    await server.connect(transport);
    await transport.handleRequest(Object.assign(req, { auth: authInfo }), res, body);
  }

  #sessionsOf(tokenId: string): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.tokenId === tokenId) n++;
    return n;
  }

  #drop(id: string): void {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    s.offSink();
    this.#o.log.info({ session_id: id }, 'session closed');
  }

  #sweep(idleMs: number): void {
    const now = Date.now();
    for (const s of [...this.#sessions.values()]) {
      if (s.openStreams === 0 && now - s.lastSeen >= idleMs) {
        this.#drop(s.id);
        void s.server.close().catch(() => undefined);
      }
    }
  }

  /** End every stream and session (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    clearInterval(this.#streamCheck);
    this.#offModern();
    this.#listen.closeAll();
    const all = [...this.#sessions.values()];
    for (const s of all) this.#drop(s.id);
    await Promise.allSettled([this.#modern.close(), ...all.map((s) => s.server.close())]);
  }
}

/** A listen request of a revision this router speaks; anything else goes to the SDK, which refuses it. */
function isModernListen(req: IncomingMessage): boolean {
  const version = header(req, 'mcp-protocol-version')?.trim();
  const method = header(req, 'mcp-method')?.trim();
  return (
    req.method === 'POST' && version === '2026-07-28' && (method === undefined || method === 'subscriptions/listen')
  );
}

function isInitialize(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { method?: unknown }).method === 'initialize';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Which lane serves this request: the SDK's own classifier (the one isLegacyRequest runs),
 * fed straight from the Node request and the body express already parsed, without first
 * building a web Request for it. A POST with no JSON body is legacy, as in isLegacyRequest.
 */
function isLegacy(req: IncomingMessage, body: unknown): boolean {
  const httpMethod = (req.method ?? 'GET').toUpperCase();
  if (httpMethod === 'POST' && body === undefined) return true;
  const protocolVersionHeader = header(req, 'mcp-protocol-version');
  const mcpMethodHeader = header(req, 'mcp-method');
  const mcpNameHeader = header(req, 'mcp-name');
  const outcome = classifyInboundRequest({
    httpMethod,
    ...(protocolVersionHeader !== undefined && { protocolVersionHeader }),
    ...(mcpMethodHeader !== undefined && { mcpMethodHeader }),
    ...(mcpNameHeader !== undefined && { mcpNameHeader }),
    ...(body !== undefined && { body }),
  });
  return outcome.kind === 'legacy';
}

/**
 * Send a 2025 session's POST response headers together with its first bytes of body. The
 * SDK's transport flushes the SSE headers on their own before the tool runs, then writes the
 * event and ends: two socket writes per call, each a syscall that on loopback also pays for
 * the client's side of TCP. Corking the socket until just after the first body write makes
 * it one. Nothing waits on it: a client gets no data before the first event anyway, and
 * progress notifications are body writes. GET notification streams are left alone.
 */
function headersWithFirstWrite(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket || socket.destroyed) return;
  socket.cork();
  let corked = true;
  const release = (): void => {
    if (!corked) return;
    corked = false;
    res.write = write;
    socket.uncork();
  };
  const write = res.write;
  res.write = function (this: ServerResponse, ...args: Parameters<typeof write>) {
    const ok = write.apply(this, args);
    // The end() that usually follows in the same tick joins the same write.
    process.nextTick(release);
    return ok;
  } as typeof write;
  res.once('finish', release);
  res.once('close', release);
}

/** Stream a web Response to Node: headers, then the body with backpressure, until done or aborted. */
async function writeWebResponse(response: Response, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => {
    headers[k] = v;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const aborted = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    while (!signal.aborted) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await Promise.race([once(res, 'drain'), aborted]);
    }
  } catch {
    // The stream failed or the client went away: nothing more to send.
  } finally {
    if (signal.aborted) void reader.cancel().catch(() => undefined);
    res.end();
  }
}
