// Servers under measurement run in child processes, driven over IPC, clients in the parent: a
// child's peak RSS and CPU time are then its own, and on a small machine clients and server do
// not share one event loop. The parent side is startChild; the child side is sendReady and
// serveParent. Every child started here is killed if the parent exits first.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { z } from 'zod';

export const ReadyMsg = z.object({
  type: z.literal('ready'),
  url: z.string(),
  notes: z.number(),
  chunks: z.number(),
  indexed: z.number(),
  seconds: z.number(),
});
export type Ready = z.infer<typeof ReadyMsg>;
const StatsMsg = z.object({
  type: z.literal('stats'),
  peakKb: z.number(),
  nowKb: z.number(),
  cpuUs: z.number(),
  /** process.memoryUsage() parts, in KB. */
  heapUsedKb: z.number(),
  heapTotalKb: z.number(),
  externalKb: z.number(),
  arrayBuffersKb: z.number(),
  /** Open file descriptors (/proc/self/fd; -1 where there is none). */
  fds: z.number(),
  /** RSS of anonymous memory and of mapped files (/proc/self/status; -1 where there is none). */
  rssAnonKb: z.number(),
  rssFileKb: z.number(),
  /**
   * Pages given back with MADV_FREE and not yet reclaimed (/proc/self/smaps_rollup): counted in
   * RSS until the kernel needs them, so RSS stays at its high-water mark after a peak.
   */
  lazyFreeKb: z.number(),
  /** Committed size of each V8 heap space (new_space, old_space, large_object_space, ...). */
  spacesKb: z.record(z.string(), z.number()),
});
export type ChildStats = z.infer<typeof StatsMsg>;
const UsageMsg = z.object({ type: z.literal('usage'), cpuUs: z.number(), rssKb: z.number() });
const ParentMsg = z.object({
  type: z.enum(['stats', 'usage', 'stop', 'profile-start', 'profile-stop', 'heap-snapshot']),
  dir: z.string().optional(),
  /** Collect as V8 does before running out of memory (compacting, handing free pages back). */
  reduce: z.boolean().optional(),
});
const ProfiledMsg = z.object({ type: z.literal('profiled'), file: z.string() });

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Kill this child too if the bench exits before it does (for children not started here). */
export function track(child: ChildProcess): void {
  children.add(child);
}

export function untrack(child: ChildProcess): void {
  children.delete(child);
}

// ---------------------------------------------------------------------------------------
// Child side.

function send(
  msg: z.input<typeof ReadyMsg> | z.input<typeof StatsMsg> | z.input<typeof UsageMsg> | z.input<typeof ProfiledMsg>,
): void {
  process.send?.(msg);
}

/** Tell the parent the server is listening (and what it holds). */
export function sendReady(ready: Omit<Ready, 'type'>): void {
  send({ type: 'ready', ...ready });
}

/** Answer the parent's stats/stop/profile requests until told to stop. */
export function serveParent(stop: () => Promise<void>): void {
  let profiler: Session | undefined;
  process.on('message', async (raw: unknown) => {
    const m = ParentMsg.safeParse(raw);
    if (!m.success) return;
    if (m.data.type === 'usage') {
      const cpu = process.cpuUsage();
      send({ type: 'usage', cpuUs: cpu.user + cpu.system, rssKb: Math.round(process.memoryUsage.rss() / 1024) });
    } else if (m.data.type === 'stats') {
      // A child started with --expose-gc (the soak) is sampled after a full collection, so
      // its heap figures are what is live, not what the collector has not reached yet. A full
      // collection keeps the freed pages resident for reuse (RSS stays at its peak); the
      // memory-reducing one gives them back, so RSS is then what the process holds.
      const gc = (globalThis as { gc?: (o?: object) => void }).gc;
      if (m.data.reduce) gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      else gc?.();
      const cpu = process.cpuUsage();
      const mem = process.memoryUsage();
      const kb = (v: number) => Math.round(v / 1024);
      let fds = -1;
      let status = '';
      let rollup = '';
      try {
        fds = readdirSync('/proc/self/fd').length;
        status = readFileSync('/proc/self/status', 'utf8');
        rollup = readFileSync('/proc/self/smaps_rollup', 'utf8');
      } catch {
        // not Linux
      }
      const field = (text: string, key: string) =>
        Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? -1);
      send({
        type: 'stats',
        peakKb: process.resourceUsage().maxRSS,
        nowKb: kb(mem.rss),
        cpuUs: cpu.user + cpu.system,
        heapUsedKb: kb(mem.heapUsed),
        heapTotalKb: kb(mem.heapTotal),
        externalKb: kb(mem.external),
        arrayBuffersKb: kb(mem.arrayBuffers),
        fds,
        rssAnonKb: field(status, 'RssAnon'),
        rssFileKb: field(status, 'RssFile'),
        lazyFreeKb: field(rollup, 'LazyFree'),
        spacesKb: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, kb(sp.space_size)])),
      });
    } else if (m.data.type === 'heap-snapshot') {
      // After a full collection, so two snapshots differ by what stayed live, not by garbage.
      (globalThis as { gc?: () => void }).gc?.();
      const file = writeHeapSnapshot(join(m.data.dir ?? tmpdir(), `daemon-${Date.now()}.heapsnapshot`));
      send({ type: 'profiled', file });
    } else if (m.data.type === 'profile-start') {
      // Main thread only, and only while requests are measured (not the index load).
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
    } else if (m.data.type === 'profile-stop') {
      if (!profiler) return;
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      const file = join(m.data.dir ?? tmpdir(), `daemon-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      send({ type: 'profiled', file });
    } else {
      void stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  // The parent died: do not linger (a daemon would hold its index lock).
  process.on('disconnect', () => void stop().finally(() => process.exit(1)));
}

// ---------------------------------------------------------------------------------------
// Parent side.

export interface Child {
  proc: ChildProcess;
  ready: Ready;
  /** Peak and current RSS, and CPU time used so far (all threads); reduce: see ParentMsg. */
  stats(opts?: { reduce?: boolean }): Promise<ChildStats>;
  /**
   * CPU time used so far (all threads) and RSS now, nothing else: what a measured block
   * brackets itself with, and what a sampler polls. stats() reads /proc (smaps_rollup walks
   * the page tables, milliseconds in the daemon) after taking its CPU figure, which charged
   * that read to the block measured next, and stalled the daemon's main thread while it ran.
   */
  usage(): Promise<{ cpuUs: number; rssKb: number }>;
  stop(): Promise<number | null>;
  /** Profile the child's main thread until `profileStop`, which returns the file written. */
  profileStart(): void;
  profileStop(dir: string): Promise<string>;
  /** Write a heap snapshot of the child into dir; resolves to the file written. */
  heapSnapshot(dir: string): Promise<string>;
}

/** Fork `file` with `args` and wait for its ready message. */
export async function startChild(label: string, file: string, args: string[], execArgv?: string[]): Promise<Child> {
  const proc = fork(file, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(execArgv ? { execArgv: [...process.execArgv, ...execArgv] } : {}),
  });
  children.add(proc);
  const messages: unknown[] = [];
  let wake: (() => void) | undefined;
  proc.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  proc.on('exit', () => wake?.());
  const next = async <T>(schema: z.ZodType<T>): Promise<T> => {
    for (;;) {
      const m = messages.shift();
      if (m !== undefined) return schema.parse(m);
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`${label} exited (${proc.exitCode ?? proc.signalCode}) before answering`);
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  };
  const ready = await next(ReadyMsg);
  return {
    proc,
    ready,
    stats: (opts) => {
      proc.send({ type: 'stats', ...opts });
      return next(StatsMsg);
    },
    usage: async () => {
      proc.send({ type: 'usage' });
      return next(UsageMsg);
    },
    profileStart: () => proc.send({ type: 'profile-start' }),
    profileStop: async (dir) => {
      proc.send({ type: 'profile-stop', dir });
      return (await next(ProfiledMsg)).file;
    },
    heapSnapshot: async (dir) => {
      proc.send({ type: 'heap-snapshot', dir });
      return (await next(ProfiledMsg)).file;
    },
    stop: async () => {
      if (proc.exitCode === null) {
        proc.send({ type: 'stop' });
        await once(proc, 'exit');
      }
      children.delete(proc);
      return proc.exitCode;
    },
  };
}
