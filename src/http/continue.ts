import type { IncomingMessage, ServerResponse } from 'node:http';

// `Expect: 100-continue`: Node answers "100 Continue" before any handler runs, so a client with
// a bad token uploaded its whole body before hearing 401. The server's checkContinue hook marks
// such requests instead, and "100 Continue" goes out only once the request has passed every
// guard (Host, Origin, auth, rate limit), right before its body is read.

const waiting = new WeakSet<IncomingMessage>();

/** For the server's 'checkContinue' event: hold "100 Continue" back until continueNow(). */
export function deferContinue(req: IncomingMessage): void {
  waiting.add(req);
}

/** The request passed its guards: let the client send its body. */
export function continueNow(req: IncomingMessage, res: ServerResponse): void {
  if (waiting.delete(req) && !res.headersSent) res.writeContinue();
}

/** True while the client is holding its body back, waiting for "100 Continue". */
export function awaitingContinue(req: IncomingMessage): boolean {
  return waiting.has(req);
}
