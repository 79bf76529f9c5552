// `notes-mcp serve` spawned from bin/notes-mcp.js, as launchd runs it, for the benches that
// need the real process (kill it, restart it, read its /proc). Killed if the bench exits first.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { track, untrack } from './children.ts';
import { BIN } from './paths.ts';

export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  return port;
}

export const Health = z
  .object({
    notes: z.number(),
    chunks: z.number(),
    sessions: z.number(),
    listen_streams: z.number(),
    index: z.object({ syncing: z.boolean(), last_sync_at: z.string().nullable() }),
  })
  .loose();
export type Health = z.infer<typeof Health>;

export interface SpawnedDaemon {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  health(): Promise<Health>;
  /** stderr so far (the daemon logs at warn). */
  stderr(): string;
  exited: Promise<[number | null, string | null]>;
  kill(signal: NodeJS.Signals): Promise<[number | null, string | null]>;
}

export interface SpawnOptions {
  notes: string;
  state: string;
  /** Config file settings (the daemon reads them through NOTES_MCP_CONFIG). */
  config?: Record<string, unknown>;
  port?: number;
}

/** Start the daemon and wait until it serves and its initial index is done. */
export async function spawnDaemon(o: SpawnOptions): Promise<SpawnedDaemon> {
  const port = o.port ?? (await freePort());
  const cfg = join(o.state, '..', `bench-config-${port}.json`);
  writeFileSync(cfg, JSON.stringify({ rateLimitPerMinute: 100_000_000, ...o.config }));
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', o.notes, '--state', o.state, '--port', String(port), '--model', 'bundled'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        HOME: o.state,
        NOTES_MCP_TOKEN: BENCH_TOKEN,
        NOTES_MCP_CONFIG: cfg,
        NOTES_MCP_LOG_LEVEL: 'warn',
      },
    },
  );
  track(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  void exited.then(() => untrack(child));
  const health = async (): Promise<Health> => {
    const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) });
    return Health.parse(await r.json());
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`notes-mcp serve exited (${child.exitCode ?? child.signalCode}): ${err.slice(-2000)}`);
    }
    if (i > 6000) throw new Error('notes-mcp serve did not finish its initial index in 10 minutes');
    const h = await health().catch(() => undefined);
    if (h && !h.index.syncing && h.index.last_sync_at !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    pid: child.pid ?? -1,
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    health,
    stderr: () => err,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
