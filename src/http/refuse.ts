import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorCode, ERRORS, NotesError, refusalBody } from '../errors.ts';
import { awaitingContinue } from './continue.ts';

// Every HTTP refusal, on every route, has one body: refusalBody (src/errors.ts), a JSON-RPC
// error envelope whose data names the declared code, the status and the fix. Status and
// JSON-RPC code come from the same table, so a code always answers with the status it declares.

export interface RefusalCounter {
  inc(labels: { code: string }): void;
}

/** How long a refused request's body may take to arrive, and how much of it is read. */
const LINGER_MS = 1_000;
const LINGER_BYTES = 16 * 1024 * 1024;

/**
 * Read and drop the rest of a request's body, then call `then` with whether it all came, at
 * most LINGER_MS and LINGER_BYTES later.
 */
function dropBody(req: IncomingMessage, then: (whole: boolean) => void): void {
  let bytes = 0;
  let done = false;
  const finish = (whole: boolean): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onGone);
    req.off('close', onGone);
    then(whole);
  };
  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
    if (bytes > LINGER_BYTES) finish(false);
  };
  const onEnd = (): void => finish(true);
  const onGone = (): void => finish(req.complete);
  const timer = setTimeout(() => finish(false), LINGER_MS);
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('error', onGone);
  req.once('close', onGone);
  req.resume();
}

/** Answer with a declared error whose message is already written (a guard's result). */
export function refuseWith(
  res: ServerResponse,
  errors: RefusalCounter | undefined,
  r: { code: ErrorCode; message: string },
): void {
  errors?.inc({ code: r.code });
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const send = (): void => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(ERRORS[r.code].status, { 'content-type': 'application/json' });
    res.end(refusalBody(r.code, r.message));
  };
  const req = res.req;
  if (req === undefined || req.complete) {
    send();
    return;
  }
  res.setHeader('Connection', 'close');
  if (awaitingContinue(req)) {
    // The client holds its body back until "100 Continue", which it will not get: answer now
    // (waiting would cost it the second it waits before sending anyway), then take what it
    // sends meanwhile before the socket closes.
    send();
    dropBody(req, (whole) => {
      if (!whole) req.socket?.destroy();
    });
    return;
  }
  // A refusal sent before the request body arrived ends the connection: kept open, a refused
  // client trickling its body would hold a socket. The body is read (and dropped) first, for
  // up to a second: closing a socket with data unread makes the kernel send a reset, and
  // nginx, still sending a buffered body at full speed, then answered 502 instead of this
  // 401, 403, 429 or 503 (about half the time for bodies of a few hundred KB).
  dropBody(req, (whole) => {
    send();
    // By 'finish' the socket may already be detached (null): an uncaught TypeError here took
    // the whole daemon down (found by tests/fuzz/jsonrpc.test.ts).
    if (!whole) res.once('finish', () => req.socket?.destroy());
  });
}

/** Answer with a declared error (nothing more, when the response already started). */
export function refuse(
  res: ServerResponse,
  errors: RefusalCounter | undefined,
  code: ErrorCode,
  ...args: unknown[]
): void {
  refuseWith(res, errors, { code, message: new NotesError(code, args).message });
}
