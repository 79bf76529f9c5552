import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { STATE_FILES } from '../config/index.ts';
import { readStateFileSync, writeFileAtomicSync } from '../fs-atomic.ts';
import { indexFiles, readLockOwner } from '../index/index.ts';

// <index folder>/daemon.json: where the daemon serving this notes folder can be reached, for
// `doctor` and `status` (which then ask it over HTTP instead of echoing the configuration).
// Written once the port is bound, removed on a clean exit; a crashed daemon's file is
// recognised by its pid: dead, or alive but not the index lock's owner (the daemon holds the
// lock for as long as its file exists). After a crash and a reboot, the pid is often some other
// process's, and doctor blamed a daemon that did not run for not answering.

export const RuntimeInfo = z.object({
  pid: z.number().int(),
  url: z.string(),
  health: z.string(),
  started_at: z.string(),
  version: z.string(),
  notes: z.string(),
});
export type RuntimeInfo = z.infer<typeof RuntimeInfo>;

export function runtimeFile(indexDir: string): string {
  return join(indexDir, STATE_FILES.runtime);
}

export function writeRuntimeFile(indexDir: string, info: RuntimeInfo): void {
  writeFileAtomicSync(runtimeFile(indexDir), `${JSON.stringify(info, null, 2)}\n`, 0o600);
}

/** Remove the file if it is still this process's (a second daemon never deletes the first's). */
export function removeRuntimeFile(indexDir: string, pid = process.pid): void {
  const info = readRuntimeFile(indexDir);
  if (info?.pid === pid) rmSync(runtimeFile(indexDir), { force: true });
}

export function readRuntimeFile(indexDir: string): RuntimeInfo | undefined {
  const r = readRuntime(indexDir);
  return r.ok ? r.info : undefined;
}

/** The file's content, or why it cannot be used: absent is not the same as unreadable. */
function readRuntime(indexDir: string): { ok: true; info: RuntimeInfo } | { ok: false; reason: string | null } {
  let text: string;
  try {
    text = readStateFileSync(runtimeFile(indexDir), 64 * 1024).toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? null : `cannot be read (${code ?? 'error'})` };
  }
  try {
    const r = RuntimeInfo.safeParse(JSON.parse(text));
    return r.success ? { ok: true, info: r.data } : { ok: false, reason: 'is not what a daemon writes' };
  } catch {
    return { ok: false, reason: 'is not JSON' };
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type DaemonProbe =
  | { state: 'none' }
  | { state: 'unreadable'; reason: string }
  | { state: 'stale'; info: RuntimeInfo }
  | { state: 'silent'; info: RuntimeInfo; reason: string }
  | { state: 'serving'; info: RuntimeInfo; health: Record<string, unknown> };

/** Is a daemon serving this index, and does it answer? Asks its /health (timeoutMs). */
export async function probeDaemon(indexDir: string, timeoutMs = 2_000): Promise<DaemonProbe> {
  const r = readRuntime(indexDir);
  if (!r.ok) return r.reason === null ? { state: 'none' } : { state: 'unreadable', reason: r.reason };
  const info = r.info;
  if (!alive(info.pid) || readLockOwner(indexFiles(indexDir).lock) !== info.pid) return { state: 'stale', info };
  try {
    const r = await fetch(info.health, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await r.json()) as Record<string, unknown>;
    if (!r.ok) return { state: 'silent', info, reason: `/health answered HTTP ${r.status}` };
    return { state: 'serving', info, health: body };
  } catch (err) {
    return { state: 'silent', info, reason: `/health did not answer (${(err as Error).message})` };
  }
}
