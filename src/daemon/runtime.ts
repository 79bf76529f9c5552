import { mkdirSync } from 'node:fs';
import type { ChunkOptions } from '../chunk/index.ts';
import type { Config } from '../config/index.ts';
import { openEmbedder } from '../embed/index.ts';
import type { Embedder } from '../embed/types.ts';
import { NotesError } from '../errors.ts';
import { finishInterruptedMoves, History } from '../history/index.ts';
import { NotesIndex } from '../index/index.ts';
import { warmSearch } from '../search/index.ts';
import type { Logger } from '../log.ts';
import { type McpDeps, NotificationHub } from '../mcp/index.ts';
import { type NotesWatcher, prepareNotesFolder } from '../notes/index.ts';
import { InflightGate } from './gate.ts';
import { watchIntoIndex } from './watch.ts';

// The one composition root below the transports: HTTP (daemon.ts) and stdio (stdio.ts) both
// open exactly this, and both close it through one close() that runs every step in order
// even when an earlier one fails.

/**
 * After drainMs, how long shutdown waits for calls that have begun changing a note. With the
 * default drainMs (4 s) it ends before launchd's SIGKILL (ExitTimeOut 20 s).
 */
export const CHANGE_GRACE_MS = 10_000;

export interface RuntimeOptions {
  config: Config;
  log: Logger;
  /** Skip the initial sync (tests that drive indexing themselves). */
  skipInitialSync?: boolean;
  /** Chunk size overrides (the MCP bench indexes ~100k chunks from a 38k-note corpus). */
  chunkOptions?: Partial<ChunkOptions>;
  /** Seconds each embedding call took (metrics). */
  onEmbed?: (seconds: number) => void;
  onToolCall?: McpDeps['onToolCall'];
  /** The index found its database damaged while running (the daemon restarts to heal it). */
  onCorrupt?: (err: Error) => void;
  /** Create a missing notes folder even when it is not the default ./notes (--create). */
  createNotes?: boolean;
  /** Aborted while opening (stdin closed, SIGTERM): stop at the next step, release what was opened. */
  signal?: AbortSignal;
}

export interface Runtime {
  readonly config: Config;
  readonly log: Logger;
  readonly index: NotesIndex;
  readonly hub: NotificationHub;
  readonly deps: McpDeps;
  /** Everything in flight; shutdown waits for it (up to config.drainMs) before closing. */
  readonly gate: InflightGate;
  /**
   * Stop index work, then wait for what is in flight: everything up to drainMs, then calls
   * that have begun changing a note up to CHANGE_GRACE_MS more. `answered` (stdio's own count
   * of replies written) replaces the gate as what must go idle. Runs once per runtime. false
   * when something was left unfinished.
   */
  drain(answered?: (timeoutMs: number) => Promise<boolean>): Promise<boolean>;
  readonly embedder: Embedder;
  /** Resolves when the initial index has finished (or failed, which is logged). */
  readonly ready: Promise<void>;
  /** The note watcher's folders (undefined with --no-watch). */
  watchedFolders(): { watched: number; polled: number } | undefined;
  /** Wait for in-flight work (bounded by drainMs), then close watcher, hub, index, model. */
  close(): Promise<void>;
}

function timed(e: Embedder, observe: ((s: number) => void) | undefined): Embedder {
  if (!observe) return e;
  return {
    modelId: e.modelId,
    fingerprint: e.fingerprint,
    dims: e.dims,
    maxTokens: e.maxTokens,
    bagOfWords: e.bagOfWords,
    countTokens: (t) => e.countTokens(t),
    dispose: () => e.dispose(),
    embed: async (texts) => {
      const t0 = performance.now();
      try {
        return await e.embed(texts);
      } finally {
        observe((performance.now() - t0) / 1000);
      }
    },
  };
}

/** Run every step even if some fail; throw the first failure afterwards, the rest are logged. */
export async function closeInOrder(log: Logger, steps: ReadonlyArray<readonly [string, () => unknown]>): Promise<void> {
  let first: unknown;
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      log.error({ err, step: name }, 'shutdown step failed');
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new NotesError('NOTES_E_SHUTTING_DOWN');
}

export async function openRuntime(o: RuntimeOptions): Promise<Runtime> {
  const { config, log, signal } = o;
  prepareNotesFolder(config.notesDir, { isDefault: config.notesIsDefault, create: o.createNotes ?? false });
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const raw = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
  const embedder = timed(raw, o.onEmbed);
  let index: NotesIndex | undefined;
  let hub: NotificationHub | undefined;
  let watcher: NotesWatcher | undefined;
  const release = (): Promise<void> =>
    closeInOrder(log, [
      // First, so the watcher's close is not kept waiting by the batch it is applying.
      ['index work', () => index?.stopWork()],
      ['watcher', () => watcher?.close()],
      ['hub', () => hub?.close()],
      ['index', () => index?.close()],
      ['model', () => raw.dispose()],
    ]);
  try {
    checkAborted(signal);
    // Before the first scan, so a note a killed move left under two names is indexed once.
    await finishInterruptedMoves(History.forConfig(config, log), config.notesDir, log).catch((err: unknown) =>
      log.warn({ err }, 'could not check for interrupted moves'),
    );
    index = await NotesIndex.open({ config, embedder, log, chunkOptions: o.chunkOptions });
    checkAborted(signal);
    hub = new NotificationHub(index);
    watcher = await watchIntoIndex(config, index, log);
    checkAborted(signal);
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
  const idx = index;
  idx.once('corrupt', (err) => {
    log.fatal({ err }, 'the index database is damaged: exiting so the restart moves it aside and rebuilds it');
    o.onCorrupt?.(err);
  });
  const gate = new InflightGate();
  const changes = new InflightGate();
  const deps: McpDeps = { index: idx, config, log, inflight: gate, changes, onToolCall: o.onToolCall };
  // Once per runtime: the transport's drain and close() share it, instead of waiting twice.
  let drained: Promise<boolean> | undefined;
  const drain = (answered = (ms: number) => gate.idle(ms)): Promise<boolean> => {
    drained ??= drainOnce(answered);
    return drained;
  };
  const drainOnce = async (answered: (ms: number) => Promise<boolean>): Promise<boolean> => {
    // Index work stops first: a call waiting for its note to be indexed behind a large job
    // then answers at once ("indexed": false, the next start indexes it) instead of running
    // past the drain time unanswered.
    idx.stopWork();
    if (await answered(config.drainMs)) return true;
    if (changes.size === 0) return false;
    // A write under way past the drain time (a large note, a slow disk) is finished and
    // answered: cut, it was on disk while its client heard nothing, and a retry appends twice.
    log.info({ changes: changes.size }, 'drain: letting changes under way finish');
    if (!(await changes.idle(CHANGE_GRACE_MS))) return false;
    return answered(1_000);
  };
  const ready = o.skipInitialSync
    ? Promise.resolve()
    : idx.sync().then(
        (s) => {
          log.info(
            {
              notes: s.notes,
              chunks: s.chunks,
              indexed: s.indexed,
              unchanged: s.unchanged,
              removed: s.removed,
              seconds: Number(s.seconds.toFixed(2)),
            },
            'initial index done',
          );
        },
        (err: unknown) => {
          if (!(err instanceof NotesError && err.code === 'NOTES_E_SHUTTING_DOWN'))
            log.error({ err }, 'initial index failed');
        },
      );
  // Once the first index is done, give every word a vector for late interaction in the
  // background, so the first searches are not the ones paying for it.
  void ready
    .then(() => warmSearch(idx))
    .catch((err: unknown) => log.warn({ err }, 'warming search failed (searches warm as they go)'));
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    index: idx,
    hub: hub,
    deps,
    gate,
    drain,
    embedder,
    ready,
    watchedFolders: () => watcher?.folders(),
    close: () => {
      closing ??= (async () => {
        if (!(await drain())) log.warn({ inflight: gate.size }, 'drain timed out; closing under remaining work');
        await release();
      })();
      return closing;
    },
  };
}
