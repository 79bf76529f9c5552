import type { Config } from '../config/index.ts';
import { NotesError } from '../errors.ts';
import type { NotesIndex } from '../index/index.ts';
import type { Logger } from '../log.ts';

/**
 * Reply bytes one client (a token over HTTP, the one client over stdio) may leave unread
 * before its tool calls wait: past it, a client that stops reading grew the daemon by
 * hundreds of MB.
 */
export const MAX_UNREAD_REPLY_BYTES = 32 * 1024 * 1024;

/** What the MCP surface needs from the rest of the daemon. */
export interface McpDeps {
  index: NotesIndex;
  config: Config;
  log: Logger;
  /** Called once per tool call (metrics). */
  onToolCall?: ((tool: string, ms: number, outcome: 'ok' | 'error' | 'timeout') => void) | undefined;
  /** Counts tool calls in flight, so shutdown waits for them (the runtime's gate). */
  inflight?: { enter(): () => void } | undefined;
  /** Counts calls that have begun changing a note: shutdown lets them finish and answer. */
  changes?: { enter(): () => void } | undefined;
}

/** Per-instance facts: which era, who is calling, how to report subscriptions. */
export interface McpInstanceContext {
  era: 'legacy' | 'modern';
  /** The one method this instance will serve, when known (2026-07-28 HTTP requests). */
  method?: string | undefined;
  /** Scopes of the caller's token; undefined for stdio and --no-auth (everything allowed). */
  scopes?: readonly string[] | undefined;
  tokenId?: string | undefined;
  /** The token's name (history records who changed a note by token id and name). */
  tokenName?: string | undefined;
  /** Which transport the instance serves (history records it; stdio has no token). */
  transport?: 'http' | 'stdio' | undefined;
  sessionId?: string | undefined;
  onSubscribe?: (uri: string) => void;
  onUnsubscribe?: (uri: string) => void;
  /**
   * Whether the caller may have another reply built now: false while its earlier replies wait
   * unread past its budget (HTTP; absent for stdio, which has one reader).
   */
  replyRoom?: () => boolean;
}

export interface ToolTextResult {
  [key: string]: unknown;
  content: Array<{ type: 'text'; text: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export function okResult(data: Record<string, unknown>): ToolTextResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

export function errorResult(message: string): ToolTextResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

// Tool bodies run at most TOOL_SLOTS at a time per daemon, each after a turn of the event
// loop. A body's synchronous part (a whole 8 MB note's links, its lines, its hash) runs in the
// callback of the read it awaited, and reads that finish together run back to back before the
// loop looks at a socket again: 20 connections pipelining read_note of a note with 170k links
// held /health for 5 s. Two at a time bounds that to two bodies. reindex is exempt: it slices
// its own work, and joined calls would otherwise hold every slot for the length of a re-index.
// resources/read shares the slots: its replies are the largest, and 64 built at once were
// hundreds of MB at the same moment.
//
// A call whose caller's earlier replies still wait unread past its budget (the context's
// replyRoom) is not built until they drain: it waits, outside the slots, instead of adding its
// reply to memory. Checked once a slot is held, so at most TOOL_SLOTS replies are built past it.
const TOOL_SLOTS = 2;
const ROOM_POLL_MS = 50;

interface Slots {
  free: number;
  waiting: Array<() => void>;
}
const slotsOf = new WeakMap<McpDeps, Slots>();

function timedOut(deps: McpDeps, tool: string): NotesError {
  return new NotesError('NOTES_E_TIMEOUT', [tool, deps.config.toolTimeoutMs]);
}

/** Resolves after ms, or rejects as a timeout when the call is aborted first. */
function pause(deps: McpDeps, signal: AbortSignal, tool: string, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(timedOut(deps, tool));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(timedOut(deps, tool));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function takeSlot(deps: McpDeps, s: Slots, signal: AbortSignal, tool: string): Promise<void> {
  if (s.free > 0) {
    s.free--;
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const go = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      const i = s.waiting.indexOf(go);
      if (i >= 0) s.waiting.splice(i, 1);
      reject(timedOut(deps, tool));
    };
    s.waiting.push(go);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function giveSlot(s: Slots): void {
  const next = s.waiting.shift();
  if (next) next();
  else s.free++;
}

export async function inSlot<T>(
  deps: McpDeps,
  signal: AbortSignal,
  tool: string,
  run: () => Promise<T>,
  room: () => boolean = () => true,
): Promise<T> {
  let slots = slotsOf.get(deps);
  if (!slots) {
    slots = { free: TOOL_SLOTS, waiting: [] };
    slotsOf.set(deps, slots);
  }
  const s = slots;
  for (;;) {
    while (!room()) await pause(deps, signal, tool, ROOM_POLL_MS);
    await takeSlot(deps, s, signal, tool);
    if (room()) break;
    giveSlot(s);
  }
  try {
    await new Promise((r) => setImmediate(r));
    if (signal.aborted) throw timedOut(deps, tool);
    return await run();
  } finally {
    giveSlot(s);
  }
}

export function canWrite(ctx: McpInstanceContext): boolean {
  return ctx.scopes === undefined || ctx.scopes.includes('write');
}

/**
 * Run a tool body with a timeout, one log line per call and metrics. Expected failures
 * (NotesError) become isError results with their message; anything else is logged with its
 * stack and reported to the model as an internal error without details.
 */
/** How a tool body learns it should stop, and says it has started changing a note. */
export interface CallControl {
  signal: AbortSignal;
  beginChange(): void;
}

export async function runTool(
  deps: McpDeps,
  ctx: McpInstanceContext,
  tool: string,
  body: (control: CallControl) => Promise<ToolTextResult>,
  cancelled?: AbortSignal,
): Promise<ToolTextResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let outcome: 'ok' | 'error' | 'timeout' = 'ok';
  let code: string | undefined;
  const abort = new AbortController();
  let changing = false;
  let leaveChange: (() => void) | undefined;
  const onCancel = (): void => abort.abort();
  cancelled?.addEventListener('abort', onCancel, { once: true });
  const control: CallControl = {
    signal: abort.signal,
    beginChange: () => {
      if (abort.signal.aborted) throw new NotesError('NOTES_E_TIMEOUT', [tool, deps.config.toolTimeoutMs]);
      changing = true;
      leaveChange ??= deps.changes?.enter();
    },
  };
  try {
    const timeout = new Promise<ToolTextResult>((resolve) => {
      timer = setTimeout(() => {
        // A change already under way is finished and reported as what it is, never as a
        // failure: a client that retried a "timed out" append would append twice.
        if (changing) return;
        abort.abort();
        outcome = 'timeout';
        const e = new NotesError('NOTES_E_TIMEOUT', [tool, deps.config.toolTimeoutMs]);
        code = e.code;
        resolve(errorResult(`${e.message}; nothing was changed. Try a narrower request.`));
      }, deps.config.toolTimeoutMs);
    });
    // Counted until the body really ends, not until the call answers: a body that outlives
    // its timeout still holds shutdown back.
    const leave = deps.inflight?.enter();
    const work =
      tool === 'reindex' ? body(control) : inSlot(deps, abort.signal, tool, () => body(control), ctx.replyRoom);
    const done = (): void => {
      leave?.();
      leaveChange?.();
    };
    void work.then(done, done);
    const result = await Promise.race([work, timeout]);
    if (result.isError && outcome === 'ok') outcome = 'error';
    return result;
  } catch (err) {
    outcome = 'error';
    if (err instanceof NotesError) {
      code = err.code;
      return errorResult(err.message);
    }
    code = 'NOTES_E_INTERNAL';
    deps.log.error({ err, tool }, 'tool failed');
    // The details (paths, errno text) went to the log; the model gets the fact and a way on.
    return errorResult(`internal error in ${tool}: the server log has the details; try again or ask the user.`);
  } finally {
    cancelled?.removeEventListener('abort', onCancel);
    if (timer) clearTimeout(timer);
    const ms = performance.now() - t0;
    deps.onToolCall?.(tool, ms, outcome);
    deps.log.info(
      {
        tool,
        duration_ms: Number(ms.toFixed(1)),
        outcome,
        code,
        session_id: ctx.sessionId,
        token_id: ctx.tokenId,
        era: ctx.era,
      },
      'tool call',
    );
  }
}
