// Request guards as pure functions returning a result union, so every rule is table-tested
// without a socket; the HTTP layer turns a failure into a response.

import { isLoopbackHost, LOOPBACK_NAMES } from '../config/index.ts';
import { type ErrorCode, NotesError } from '../errors.ts';

export type GuardResult = { ok: true } | { ok: false; status: number; code: ErrorCode; message: string };

const OK: GuardResult = { ok: true };

/** A refusal with a declared code: its status and message come from src/errors.ts. */
function deny(code: ErrorCode, ...args: unknown[]): GuardResult {
  const e = new NotesError(code, args);
  return { ok: false, status: e.status, code, message: e.message };
}

/** Hostname of a Host header value, lower-cased, without port; undefined if malformed. */
export function hostnameOf(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h === '') return undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    const rest = h.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return h.slice(0, end + 1);
  }
  const m = /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(h);
  return m ? m[1] : undefined;
}

/** Host names the daemon answers to: loopback names, the bind address, and configured names. */
export function allowedHostnames(bindHost: string, configured: readonly string[]): string[] {
  const out = new Set(LOOPBACK_NAMES);
  const bind = bindHost.toLowerCase();
  if (bind !== '0.0.0.0' && bind !== '::' && bind !== '[::]')
    out.add(bind.includes(':') && !bind.startsWith('[') ? `[${bind}]` : bind);
  for (const h of configured) {
    const n = hostnameOf(h.replace(/^https?:\/\//, '').replace(/\/.*$/, ''));
    if (n) out.add(n);
  }
  return [...out];
}

/** DNS-rebinding protection: the Host header must name this server. */
export function checkHost(host: string | undefined, allowed: readonly string[]): GuardResult {
  if (!host) return deny('NOTES_E_HOST_MISSING');
  const name = hostnameOf(host);
  if (!name || !allowed.includes(name)) return deny('NOTES_E_HOST_DENIED', JSON.stringify(host));
  return OK;
}

/**
 * Browsers send Origin; other clients usually do not, and a missing Origin passes. A page on
 * another site (or a sandboxed `null` origin) is refused unless explicitly allowed.
 */
export function checkOrigin(origin: string | undefined, allowedOrigins: readonly string[]): GuardResult {
  if (origin === undefined || origin === '') return OK;
  const refused = deny('NOTES_E_ORIGIN_DENIED', JSON.stringify(origin));
  if (origin === 'null') return refused;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return refused;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refused;
  const name = url.hostname.toLowerCase();
  if (isLoopbackHost(name)) return OK;
  const normal = `${url.protocol}//${url.host}`.toLowerCase();
  for (const a of allowedOrigins) {
    const al = a.toLowerCase().replace(/\/+$/, '');
    if (al === normal || al === name || al === '*') return OK;
  }
  return refused;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}
