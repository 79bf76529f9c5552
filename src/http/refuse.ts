import type { ServerResponse } from 'node:http';
import { type ErrorCode, ERRORS, NotesError } from '../errors.ts';

// Every HTTP refusal, on every route, has one body: a JSON-RPC error envelope (what MCP
// clients parse) whose data names the declared code, the status and the fix.
//   { "jsonrpc": "2.0", "id": null,
//     "error": { "code": -32000, "message": "...", "data": { "code": "NOTES_E_...", "status": 401, "fix": "..." } } }
// Status and JSON-RPC code come from src/errors.ts, so a code always answers with the status
// its table declares.

export function refusalBody(code: ErrorCode, message: string, id: string | number | null = null): string {
  const s = ERRORS[code];
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    error: { code: s.rpc, message, data: { code, status: s.status, fix: s.fix } },
  });
}

export interface RefusalCounter {
  inc(labels: { code: string }): void;
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
  // A refusal sent before the request body arrived (a 401 to a client still trickling its
  // body) ends the connection: keeping it open would let a refused client hold a socket.
  const req = res.req;
  const unread = req !== undefined && !req.complete;
  if (unread) res.setHeader('Connection', 'close');
  res.writeHead(ERRORS[r.code].status, { 'content-type': 'application/json' });
  res.end(refusalBody(r.code, r.message));
  // By 'finish' the socket may already be detached (null): an uncaught TypeError here took
  // the whole daemon down (found by tests/fuzz/jsonrpc.test.ts).
  if (unread) res.once('finish', () => req.socket?.destroy());
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
