import type { Readable, Writable } from 'node:stream';
import {
  type JSONRPCMessage,
  parseJSONRPCMessage,
  serializeMessage,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { describeIssues, type ErrorCode, NotesError, refusalBody } from '../errors.ts';
import { depthExceeds, MAX_JSON_DEPTH } from '../http/index.ts';
import { InflightGate } from './gate.ts';

// The stdio wire: one JSON-RPC message per line on stdin, replies on stdout. Written here
// rather than taken from the SDK's StdioServerTransport, which failed a client in silence:
//  - one line past its 10 MiB read buffer (a write_note of a 12 MB note) closed the transport
//    for good, and the process stayed up answering nothing;
//  - a batch or a line that is not JSON-RPC was dropped, a line that is not JSON skipped: no
//    reply, so the client's request waited until its own timeout.
// Here every such line gets a JSON-RPC error (with the request's id whenever it can be seen)
// and the session goes on. It also counts requests received and not yet answered, so that a
// shutdown can wait for their replies to be written.

/** The bytes of a line kept to find its request id: the id sits near one end. */
const EDGE = 4096;
const NL = 0x0a;

/**
 * The top-level id of a JSON-RPC request, from the first and last bytes of its line: before
 * params when the client writes {jsonrpc, id, method, params}, last when it spreads the request
 * first (the v1 SDK client). undefined when neither shows one (the reply then names id null).
 */
export function requestIdOf(head: string, tail: string): string | number | undefined {
  const value = String.raw`(-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*")`;
  const lead = new RegExp(
    String.raw`^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"(?:[^"\\]|\\.)*"\s*,)*\s*"id"\s*:\s*${value}\s*[,}]`,
  );
  // The last key of the outermost object: its value is followed by that object's one brace.
  const last = new RegExp(String.raw`[,{]\s*"id"\s*:\s*${value}\s*\}\s*$`);
  const m = lead.exec(head) ?? last.exec(tail);
  if (!m?.[1]) return undefined;
  try {
    const id: unknown = JSON.parse(m[1]);
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

export interface LongLine {
  bytes: number;
  id: string | number | undefined;
}

/**
 * Splits a byte stream into lines of at most `max` bytes (without the newline). A longer line
 * is not kept: only its ends, to name its id once it is over.
 */
export class LineReader {
  readonly #max: number;
  readonly #onLine: (line: Buffer) => void;
  readonly #onLong: (line: LongLine) => void;
  #parts: Buffer[] = [];
  #length = 0;
  #head = Buffer.alloc(0);
  #tail = Buffer.alloc(0);

  constructor(max: number, onLine: (line: Buffer) => void, onLong: (line: LongLine) => void) {
    this.#max = max;
    this.#onLine = onLine;
    this.#onLong = onLong;
  }

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(NL, at);
      this.#take(chunk.subarray(at, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.#end();
      at = nl + 1;
    }
  }

  #take(part: Buffer): void {
    if (part.length === 0) return;
    this.#length += part.length;
    if (this.#length <= this.#max) {
      this.#parts.push(part);
      return;
    }
    if (this.#parts.length > 0) {
      const kept = Buffer.concat(this.#parts);
      this.#head = Buffer.from(kept.subarray(0, EDGE));
      this.#tail = Buffer.from(kept.subarray(-EDGE));
      this.#parts = [];
    }
    if (this.#head.length < EDGE) {
      this.#head = Buffer.concat([this.#head, part.subarray(0, EDGE - this.#head.length)]);
    }
    this.#tail =
      part.length >= EDGE ? Buffer.from(part.subarray(-EDGE)) : Buffer.concat([this.#tail, part]).subarray(-EDGE);
  }

  #end(): void {
    if (this.#length > this.#max) {
      this.#onLong({ bytes: this.#length, id: requestIdOf(this.#head.toString('utf8'), this.#tail.toString('utf8')) });
    } else if (this.#length > 0) {
      const parts = this.#parts;
      this.#onLine(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    }
    this.#parts = [];
    this.#length = 0;
    this.#head = Buffer.alloc(0);
    this.#tail = Buffer.alloc(0);
  }
}

/** A line that is not a message the server can take: the error its sender gets. */
interface BadLine {
  code: ErrorCode;
  args: unknown[];
  id: string | number | null;
}

/** What one line holds: a message, or why it is refused. */
export function readMessage(line: string): { ok: true; message: JSONRPCMessage } | ({ ok: false } & BadLine) {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, code: 'NOTES_E_JSON_INVALID', args: ['malformed JSON'], id: null };
  }
  const obj = typeof value === 'object' && value !== null ? (value as { id?: unknown }) : undefined;
  const id = typeof obj?.id === 'string' || typeof obj?.id === 'number' ? obj.id : null;
  if (Array.isArray(value)) return { ok: false, code: 'NOTES_E_BATCH_UNSUPPORTED', args: [], id: null };
  // As over HTTP, where the SDK's recursive re-serialising overflowed on thousands of levels.
  if (depthExceeds(value, MAX_JSON_DEPTH)) {
    return { ok: false, code: 'NOTES_E_JSON_INVALID', args: [`nested deeper than ${MAX_JSON_DEPTH} levels`], id };
  }
  try {
    return { ok: true, message: parseJSONRPCMessage(value) };
  } catch (err) {
    const issues = err as { issues?: Array<{ path: PropertyKey[]; message: string }> };
    const why = issues.issues ? describeIssues({ issues: issues.issues }) : 'invalid';
    return { ok: false, code: 'NOTES_E_USAGE', args: [`not a JSON-RPC 2.0 message (${why})`], id };
  }
}

export interface StdioWireOptions {
  /** The longest line taken. */
  maxLine: number;
  /**
   * Bytes written to stdout and not yet taken by the client past which stdin is no longer
   * read: without it, a client that sent pings (or bad lines) and read nothing grew the daemon
   * to 2.5 GB with their replies.
   */
  maxUnread: number;
  /** A line refused (too long, not JSON, not JSON-RPC): for the log. */
  onRefused?: (info: { code: ErrorCode; bytes: number }) => void;
  /** The wire closed (stdout failed, or close()): nothing more can be answered. */
  onClosed?: () => void;
}

export class StdioWire implements Transport {
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #o: StdioWireOptions;
  readonly #reader: LineReader;
  readonly #open = new InflightGate();
  readonly #pending = new Map<string | number, () => void>();
  #closed = false;
  #held = false;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: Transport['onmessage'];

  constructor(input: Readable, output: Writable, o: StdioWireOptions) {
    this.#input = input;
    this.#output = output;
    this.#o = o;
    this.#reader = new LineReader(
      o.maxLine,
      (line) => this.#line(line),
      ({ bytes, id }) => this.#refuse({ code: 'NOTES_E_BODY_TOO_LARGE', args: [o.maxLine], id: id ?? null }, bytes),
    );
  }

  readonly #onData = (chunk: Buffer): void => this.#reader.feed(chunk);
  readonly #onOutputError = (err: Error): void => {
    this.onerror?.(err);
    void this.close();
  };

  async start(): Promise<void> {
    this.#input.on('data', this.#onData);
    this.#output.on('error', this.#onOutputError);
  }

  #line(buf: Buffer): void {
    const text = buf.toString('utf8').replace(/\r$/, '');
    if (text.trim() === '') return;
    const r = readMessage(text);
    if (!r.ok) {
      this.#refuse(r, buf.length);
      return;
    }
    const m = r.message as { id?: unknown; method?: unknown; params?: { requestId?: unknown } };
    // A cancelled request gets no reply: it no longer holds the shutdown's drain.
    if (m.method === 'notifications/cancelled' && m.id === undefined) {
      const id = m.params?.requestId;
      if (typeof id === 'string' || typeof id === 'number') {
        this.#pending.get(id)?.();
        this.#pending.delete(id);
      }
    }
    if ((typeof m.id === 'string' || typeof m.id === 'number') && typeof m.method === 'string') {
      this.#pending.get(m.id)?.();
      this.#pending.set(m.id, this.#open.enter());
    }
    this.onmessage?.(r.message);
  }

  #refuse(bad: BadLine, bytes: number): void {
    this.#o.onRefused?.({ code: bad.code, bytes });
    if (this.#closed) return;
    this.#output.write(`${refusalBody(bad.code, new NotesError(bad.code, bad.args).message, bad.id)}\n`);
    this.#holdInput();
  }

  /** Stop reading stdin while the client leaves too much of stdout unread; read on once it drains. */
  #holdInput(): void {
    if (this.#held || this.#output.writableLength <= this.#o.maxUnread) return;
    this.#held = true;
    this.#input.pause();
    const go = (): void => {
      this.#output.off('drain', go);
      this.#output.off('close', go);
      this.#held = false;
      if (!this.#closed) this.#input.resume();
    };
    this.#output.once('drain', go);
    this.#output.once('close', go);
  }

  send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    const m = message as { id?: unknown; method?: unknown };
    const done = (): void => {
      if ((typeof m.id === 'string' || typeof m.id === 'number') && m.method === undefined) {
        this.#pending.get(m.id)?.();
        this.#pending.delete(m.id);
      }
    };
    if (this.#closed) {
      done();
      return Promise.reject(new Error('the stdio transport is closed'));
    }
    // Answered once the line is handed on (or drained, when the pipe is full), as the SDK's
    // transport did: a shutdown waits for that, up to its drain time.
    const written = this.#output.write(serializeMessage(message));
    this.#holdInput();
    if (written) {
      done();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const settle = (): void => {
        this.#output.off('drain', settle);
        this.#output.off('close', settle);
        done();
        resolve();
      };
      this.#output.once('drain', settle);
      this.#output.once('close', settle);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#input.off('data', this.#onData);
    this.#output.off('error', this.#onOutputError);
    this.onclose?.();
    this.#o.onClosed?.();
  }

  /** Every received request answered (true), or timeoutMs passed (false). */
  answered(timeoutMs: number): Promise<boolean> {
    return this.#open.idle(timeoutMs);
  }
}
