import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';

// Every TCP connection is a file descriptor, and /health needs no token: under launchd's
// default soft limit of 256, 240 idle keep-alive connections left the daemon no descriptor for
// a note, a temp file or SQLite (search_notes and write_note failed with EMFILE). Connections
// are capped below the limit, with a reserve for the daemon's own files, and idle keep-alive
// connections are closed first when the cap is near, so a new client gets in.

/** The process's soft limit on open files, or undefined when unlimited or unknown. */
export function readFdSoftLimit(): number | undefined {
  try {
    // Linux: no process needed.
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    // not Linux
  }
  try {
    // macOS: a shell started from here has the same limits.
    const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2_000 }).trim();
    return /^\d+$/.test(out) ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

/** How many connections to accept under a descriptor limit: a quarter (at least 64) is kept back. */
export function connectionCap(fdLimit: number | undefined): number | undefined {
  if (fdLimit === undefined) return undefined;
  return Math.max(16, fdLimit - Math.max(64, Math.floor(fdLimit / 4)));
}

/**
 * Cap the server's connections. Near the cap (90%), idle keep-alive connections are closed:
 * when a connection arrives or is refused, and once a second, since a burst arrives before
 * any of its requests is answered and so before any of it is idle.
 */
export function guardConnections(server: Server, cap: number, log: Logger): void {
  server.maxConnections = cap;
  const near = Math.floor(cap * 0.9);
  let open = 0;
  let warnedAt = 0;
  const relieve = (): void => {
    if (open < near) return;
    server.closeIdleConnections();
    if (Date.now() - warnedAt > 60_000) {
      warnedAt = Date.now();
      log.warn({ open, cap }, 'near the connection cap: idle keep-alive connections closed');
    }
  };
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => {
      open--;
    });
    relieve();
  });
  server.on('drop', relieve);
  const timer = setInterval(relieve, 1_000).unref();
  server.once('close', () => clearInterval(timer));
}

/** Requests one connection may have unanswered at once; no MCP client or proxy pipelines. */
export const MAX_PIPELINED = 4;

/**
 * Close a connection that sends more than `max` requests ahead of their answers. Node parses
 * and dispatches every request in a chunk at once, so 20 connections each pipelining 100
 * requests were 2,000 requests through auth and routing in one turn of the event loop (most
 * of them refused for the token's cap, each refusal still work): /health waited 0.6-1 s.
 * The requests left in such a connection's chunk are dropped unseen.
 */
export function boundPipelining(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  max: number,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  const open = new WeakMap<Socket, number>();
  let warnedAt = 0;
  return (req, res) => {
    const socket = req.socket;
    if (socket.destroyed) return;
    const n = (open.get(socket) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      if (Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        log.warn({ max }, 'a client pipelined more requests than allowed: connection closed');
      }
      return;
    }
    open.set(socket, n);
    res.once('close', () => open.set(socket, (open.get(socket) ?? 1) - 1));
    handler(req, res);
  };
}
