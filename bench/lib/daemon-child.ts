// The daemon (startDaemon, in process) as a bench child: the parent drives it over HTTP and asks
// it over IPC for its RSS, heap, CPU and descriptors (bench/lib/children.ts). Benches that need
// the shipped launcher itself (kill it, restart it) use bench/lib/daemon.ts instead.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type Child, sendReady, serveParent, startChild } from './children.ts';

export const CHILD_TOKEN = 'bench-token-0123456789abcdef';
const SELF = fileURLToPath(import.meta.url);

const Args = z.object({ notes: z.string(), state: z.string(), maxSessions: z.number().int().positive() });
export type DaemonChildArgs = z.infer<typeof Args>;

/** Fork the daemon on these folders; resolves once its initial index is done. */
export function startDaemonChild(args: DaemonChildArgs, execArgv: string[] = []): Promise<Child> {
  return startChild('daemon', SELF, ['--daemon-child', JSON.stringify(args)], execArgv);
}

async function run(a: DaemonChildArgs): Promise<void> {
  const [{ startDaemon }, { loadConfig }, { silentLogger }] = await Promise.all([
    import('../../src/daemon/daemon.ts'),
    import('../../src/config/index.ts'),
    import('../../src/log.ts'),
  ]);
  const config = loadConfig({
    env: { HOME: a.state },
    flags: {
      notes: a.notes,
      state: a.state,
      model: 'bundled',
      logLevel: 'silent',
      port: 0,
      token: CHILD_TOKEN,
      rateLimitPerMinute: 100_000_000,
      maxSessions: a.maxSessions,
      maxSessionsPerToken: Math.max(8, Math.floor(a.maxSessions / 2)),
    },
  });
  const t0 = performance.now();
  const d = await startDaemon({ config, log: silentLogger() });
  let indexed = 0;
  d.index.once('synced', (s) => {
    indexed = s.indexed;
  });
  await d.ready;
  await d.index.idle();
  const s = d.index.status();
  sendReady({ url: d.url, notes: s.notes, chunks: s.chunks, indexed, seconds: (performance.now() - t0) / 1000 });
  serveParent(() => d.shutdown('bench done'));
}

if (process.argv[2] === '--daemon-child') {
  run(Args.parse(JSON.parse(process.argv[3] ?? '{}'))).catch((err: unknown) => {
    process.stderr.write(`bench daemon child failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
