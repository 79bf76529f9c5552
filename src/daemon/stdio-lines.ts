import { Transform, type TransformCallback } from 'node:stream';

// The SDK's stdio transport closes itself for good when one message outgrows its read buffer
// (10 MiB): the process stays up, reads nothing more and answers nothing, and the host waits
// forever. This guard sits in front of it: a line longer than `max` bytes is not passed on
// whole. Its start, already passed, is ended with a newline (a line that is not JSON, which the
// SDK skips), the rest is dropped, and the caller is told the request's id when one can be seen,
// so that the request gets an error instead of silence.

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
 * A pass-through that cuts lines longer than `max` bytes (see above). `onLongLine` runs once per
 * cut line, after its end has arrived.
 */
export class LineGuard extends Transform {
  readonly #max: number;
  readonly #onLongLine: (line: LongLine) => void;
  /** Bytes of the current line so far. */
  #length = 0;
  #head: Buffer[] = [];
  #headBytes = 0;
  /** The last EDGE bytes of the current line so far. */
  #tail = Buffer.alloc(0);
  #dropping = false;

  constructor(max: number, onLongLine: (line: LongLine) => void) {
    super();
    this.#max = max;
    this.#onLongLine = onLongLine;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(NL, at);
      const end = nl === -1 ? chunk.length : nl;
      this.#take(chunk.subarray(at, end));
      if (nl === -1) break;
      this.#endLine();
      at = nl + 1;
    }
    done();
  }

  /** Part of a line (no newline in it). */
  #take(part: Buffer): void {
    if (part.length === 0) return;
    this.#length += part.length;
    this.#keepTail(part);
    if (!this.#dropping && this.#headBytes < EDGE) {
      const keep = part.subarray(0, EDGE - this.#headBytes);
      this.#head.push(Buffer.from(keep));
      this.#headBytes += keep.length;
    }
    if (this.#dropping) return;
    if (this.#length <= this.#max) {
      this.push(part);
      return;
    }
    // This part takes the line past the bound: pass what still fits, end the line there.
    const fits = part.length - (this.#length - this.#max);
    if (fits > 0) this.push(part.subarray(0, fits));
    this.push(Buffer.from([NL]));
    this.#dropping = true;
  }

  #keepTail(part: Buffer): void {
    this.#tail =
      part.length >= EDGE
        ? Buffer.from(part.subarray(part.length - EDGE))
        : Buffer.concat([this.#tail, part]).subarray(-EDGE);
  }

  #endLine(): void {
    if (this.#dropping) {
      const head = Buffer.concat(this.#head).toString('utf8');
      this.#onLongLine({ bytes: this.#length, id: requestIdOf(head, this.#tail.toString('utf8')) });
    } else {
      this.push(Buffer.from([NL]));
    }
    this.#length = 0;
    this.#head = [];
    this.#headBytes = 0;
    this.#tail = Buffer.alloc(0);
    this.#dropping = false;
  }
}
