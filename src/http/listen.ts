import type { IncomingMessage, ServerResponse } from 'node:http';
import { SERVER_INFO_META_KEY, SUBSCRIPTION_ID_META_KEY } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import { VERSION } from '../version.ts';
import { refuse } from './refuse.ts';

// 2026-07-28 `subscriptions/listen` streams, served here instead of by the SDK's router, whose
// per-stream queue has no bound and whose fan-out asks every stream about every change (100
// streams subscribed to 7,400 notes each froze the daemon for 20 s per full re-index). Here:
// - fan-out goes only to the streams subscribed to the URI that changed (a map by URI);
// - each stream holds at most one pending update per URI (later ones coalesce into it) and
//   writes only while its socket takes data;
// - a stream whose socket has not drained for `stallMs` is closed: the client reconnects;
// - streams are capped in total and per token, with a declared error when refused;
// - updates are written once per event-loop turn per stream, as one write of ready-made
//   frames: loopback kernels take ~4 MB per socket before a write reports backpressure, so an
//   unread stream still receives every update of a full re-index, and one JSON.stringify and
//   one write per update per stream cost 100 streams x 7.4k notes 14-25 s of main thread.

/** What a client may ask to hear about (the spec's SubscriptionFilter). */
const ListenFilter = z.object({
  toolsListChanged: z.boolean().optional(),
  promptsListChanged: z.boolean().optional(),
  resourcesListChanged: z.boolean().optional(),
  resourceSubscriptions: z.array(z.string().max(8192)).max(100_000).optional(),
});

const ListenRequest = z.object({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number()]),
  method: z.literal('subscriptions/listen'),
  params: z.object({ notifications: ListenFilter }).loose(),
});

export interface ListenOptions {
  log: Logger;
  maxStreams: number;
  maxStreamsPerToken: number;
  keepAliveMs?: number;
  /** A stream whose socket takes no data for this long is closed. */
  stallMs?: number;
  errors?: { inc(labels: { code: string }): void };
  /** Whether a token is still valid: a stream of a revoked token is closed within seconds. */
  isLive?: (tokenId: string) => boolean;
}

const LIST_KEY = '\u0000list';

/** Frames written per write() at most, so one flush never builds an unbounded string. */
const FLUSH_CHARS = 64 * 1024;
/**
 * Update bytes one stream is sent per second at most; the rest waits in its pending set,
 * coalesced. The kernel's buffers hide an unread socket for megabytes, so without this every
 * full re-index wrote every update to every stream (search p99 437 ms during a tldr-all
 * re-index with 100 unread streams of 7.4k subscriptions). 128 KiB/s is ~650 updates a second.
 */
const STREAM_BYTES_PER_SECOND = 128 * 1024;

class Stream {
  readonly id: string | number;
  readonly tokenId: string | undefined;
  readonly uris: ReadonlySet<string>;
  readonly wantsList: boolean;
  readonly #res: ServerResponse;
  readonly #pending = new Set<string>();
  #blockedSince: number | undefined;
  #closed = false;
  readonly #onClose: (s: Stream) => void;
  readonly #schedule: (s: Stream) => void;
  /** An updated notification is these around the URI's JSON: the same text notification() makes. */
  readonly #updatedHead: string;
  readonly #updatedTail: string;
  readonly #listFrame: string;
  #windowStart = 0;
  #windowBytes = 0;
  #later: NodeJS.Timeout | undefined;

  constructor(
    id: string | number,
    tokenId: string | undefined,
    filter: { uris: ReadonlySet<string>; list: boolean },
    res: ServerResponse,
    hooks: { onClose: (s: Stream) => void; schedule: (s: Stream) => void },
  ) {
    this.id = id;
    this.tokenId = tokenId;
    this.uris = filter.uris;
    this.wantsList = filter.list;
    this.#res = res;
    this.#onClose = hooks.onClose;
    this.#schedule = hooks.schedule;
    const marker = '\u0000uri\u0000';
    const template = this.notification('notifications/resources/updated', { uri: marker });
    const at = template.indexOf(JSON.stringify(marker));
    this.#updatedHead = template.slice(0, at);
    this.#updatedTail = template.slice(at + JSON.stringify(marker).length);
    this.#listFrame = this.notification('notifications/resources/list_changed', {});
    res.on('drain', () => {
      this.#blockedSince = undefined;
      this.flush();
    });
    res.on('close', () => this.#end());
  }

  #frame(message: unknown): string {
    return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
  }

  notification(method: string, params: Record<string, unknown>): string {
    return this.#frame({
      jsonrpc: '2.0',
      method,
      params: { ...params, _meta: { [SUBSCRIPTION_ID_META_KEY]: this.id } },
    });
  }

  /** Queue an update (coalesced with one already waiting for the same URI); written this turn. */
  push(key: string): void {
    if (this.#closed) return;
    this.#pending.add(key);
    if (!this.#res.writableNeedDrain) this.#schedule(this);
  }

  write(text: string): void {
    if (this.#closed) return;
    if (!this.#res.write(text)) this.#blockedSince ??= Date.now();
  }

  /** Write what is pending while the socket takes it, many frames per write. */
  flush(): void {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowBytes = 0;
    }
    let out = '';
    for (const key of this.#pending) {
      if (this.#closed || this.#res.writableNeedDrain) break;
      if (this.#windowBytes + out.length >= STREAM_BYTES_PER_SECOND) {
        this.#flushLater(this.#windowStart + 1000 - now);
        break;
      }
      this.#pending.delete(key);
      out += key === LIST_KEY ? this.#listFrame : this.#updatedHead + JSON.stringify(key) + this.#updatedTail;
      if (out.length >= FLUSH_CHARS) {
        this.#windowBytes += out.length;
        this.write(out);
        out = '';
      }
    }
    if (out !== '') {
      this.#windowBytes += out.length;
      this.write(out);
    }
  }

  #flushLater(ms: number): void {
    if (this.#later || this.#closed) return;
    this.#later = setTimeout(
      () => {
        this.#later = undefined;
        this.flush();
      },
      Math.max(1, ms),
    );
    this.#later.unref();
  }

  /** Milliseconds the socket has refused data, 0 when it takes it. */
  stalledFor(now: number): number {
    return this.#blockedSince === undefined ? 0 : now - this.#blockedSince;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** End the stream: with the listen request's final result when `graceful`, else cut. */
  close(graceful: boolean): void {
    if (this.#closed) return;
    if (graceful) {
      this.#res.end(
        this.#frame({
          jsonrpc: '2.0',
          id: this.id,
          result: {
            resultType: 'complete',
            _meta: {
              [SUBSCRIPTION_ID_META_KEY]: this.id,
              [SERVER_INFO_META_KEY]: { name: 'notes-mcp', version: VERSION },
            },
          },
        }),
      );
    } else this.#res.destroy();
    this.#end();
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#later) clearTimeout(this.#later);
    this.#pending.clear();
    this.#onClose(this);
  }
}

export class ListenStreams {
  readonly #o: ListenOptions;
  readonly #streams = new Set<Stream>();
  /**
   * Subscribers by URI, with the one copy of the URI string every stream's set refers to: 100
   * streams of 7.4k subscriptions each parse 740k strings, which the collector then marks on
   * every major GC for as long as the streams live.
   */
  readonly #byUri = new Map<string, { uri: string; streams: Set<Stream> }>();
  readonly #list = new Set<Stream>();
  readonly #perToken = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  readonly #revokeTimer: NodeJS.Timeout;
  /** Streams with updates to write at the end of this turn (one setImmediate for all). */
  readonly #dirty = new Set<Stream>();
  #flushing: NodeJS.Immediate | undefined;

  constructor(o: ListenOptions) {
    this.#o = o;
    const keepAlive = o.keepAliveMs ?? 15_000;
    const stall = o.stallMs ?? 30_000;
    this.#timer = setInterval(
      () => {
        const now = Date.now();
        for (const s of [...this.#streams]) {
          if (s.stalledFor(now) > stall) {
            o.log.info({ subscription: String(s.id), pending: s.pending }, 'listen stream not reading: closed');
            s.close(false);
          } else s.write(': keepalive\n\n');
        }
      },
      Math.min(keepAlive, Math.max(1000, Math.floor(stall / 2))),
    );
    this.#timer.unref();
    // Revocation is immediate for requests; a stream opened before it ends within 2 s.
    this.#revokeTimer = setInterval(() => {
      if (!o.isLive) return;
      for (const s of [...this.#streams]) {
        if (s.tokenId !== undefined && !o.isLive(s.tokenId)) {
          o.log.info({ subscription: String(s.id), token_id: s.tokenId }, 'listen stream of a revoked token: closed');
          s.close(false);
        }
      }
    }, 2_000);
    this.#revokeTimer.unref();
  }

  get count(): number {
    return this.#streams.size;
  }

  /** True for a request this router serves (a 2026-07-28 subscriptions/listen). */
  static wants(body: unknown): boolean {
    return (
      typeof body === 'object' && body !== null && (body as { method?: unknown }).method === 'subscriptions/listen'
    );
  }

  serve(req: IncomingMessage, res: ServerResponse, body: unknown, tokenId: string | undefined): void {
    const parsed = ListenRequest.safeParse(body);
    if (!parsed.success) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const id = (body as { id?: unknown }).id;
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id: typeof id === 'string' || typeof id === 'number' ? id : null,
          error: {
            code: -32602,
            message: "Invalid params: 'notifications' is required and must be a valid SubscriptionFilter",
          },
        }),
      );
      return;
    }
    const mine = tokenId === undefined ? 0 : (this.#perToken.get(tokenId) ?? 0);
    if (this.#streams.size >= this.#o.maxStreams) {
      res.setHeader('Retry-After', '30');
      refuse(res, this.#o.errors, 'NOTES_E_TOO_MANY_STREAMS', this.#o.maxStreams);
      return;
    }
    if (tokenId !== undefined && mine >= this.#o.maxStreamsPerToken) {
      res.setHeader('Retry-After', '30');
      refuse(res, this.#o.errors, 'NOTES_E_TOKEN_STREAMS', this.#o.maxStreamsPerToken);
      return;
    }
    const { id, params } = parsed.data;
    const f = params.notifications;
    // Tools and prompts never change at run time here; only resource notifications are honoured.
    const honored: Record<string, unknown> = {};
    if (f.resourcesListChanged === true) honored.resourcesListChanged = true;
    const uris = new Set<string>();
    for (const u of f.resourceSubscriptions ?? []) uris.add(this.#byUri.get(u)?.uri ?? u);
    if (uris.size > 0) honored.resourceSubscriptions = [...uris];
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const stream = new Stream(id, tokenId, { uris, list: f.resourcesListChanged === true }, res, {
      onClose: (s) => this.#drop(s),
      schedule: (s) => this.#schedule(s),
    });
    stream.write(stream.notification('notifications/subscriptions/acknowledged', { notifications: honored }));
    if (Object.keys(honored).length === 0) {
      stream.close(true);
      return;
    }
    this.#streams.add(stream);
    if (tokenId !== undefined) this.#perToken.set(tokenId, mine + 1);
    if (stream.wantsList) this.#list.add(stream);
    for (const uri of uris) {
      let entry = this.#byUri.get(uri);
      if (!entry) {
        entry = { uri, streams: new Set() };
        this.#byUri.set(uri, entry);
      }
      entry.streams.add(stream);
    }
    void req;
  }

  #schedule(s: Stream): void {
    this.#dirty.add(s);
    this.#flushing ??= setImmediate(() => {
      this.#flushing = undefined;
      const dirty = [...this.#dirty];
      this.#dirty.clear();
      for (const d of dirty) d.flush();
    });
  }

  #drop(s: Stream): void {
    this.#dirty.delete(s);
    if (!this.#streams.delete(s)) return;
    this.#list.delete(s);
    for (const uri of s.uris) {
      const entry = this.#byUri.get(uri);
      entry?.streams.delete(s);
      if (entry?.streams.size === 0) this.#byUri.delete(uri);
    }
    if (s.tokenId !== undefined) {
      const n = (this.#perToken.get(s.tokenId) ?? 1) - 1;
      if (n <= 0) this.#perToken.delete(s.tokenId);
      else this.#perToken.set(s.tokenId, n);
    }
  }

  /** Streams open for one token (per-token caps are checked against this). */
  countFor(tokenId: string | undefined): number {
    return tokenId === undefined ? 0 : (this.#perToken.get(tokenId) ?? 0);
  }

  resourceUpdated(uri: string): void {
    const entry = this.#byUri.get(uri);
    if (entry) for (const s of entry.streams) s.push(entry.uri);
  }

  resourcesChanged(): void {
    for (const s of this.#list) s.push(LIST_KEY);
  }

  /** Shutdown: every stream gets its final result and ends. */
  closeAll(): void {
    clearInterval(this.#timer);
    clearInterval(this.#revokeTimer);
    if (this.#flushing) clearImmediate(this.#flushing);
    this.#flushing = undefined;
    for (const s of [...this.#streams]) s.close(true);
  }
}
