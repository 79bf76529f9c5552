import { z } from 'zod';
import { NotesError } from '../../errors.ts';
import { ChangeRecorder, History, type HistoryTool, type Who } from '../../history/index.ts';
import type { McpDeps, McpInstanceContext } from '../context.ts';
import { withDeadline } from './define.ts';

// What the tools that change notes share: who is calling (for the history), the history of
// this notes folder, and indexing what changed right after, without making that the change's
// failure.

export const HashInput = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .describe('The hash read_note returned: the change fails with a conflict if the note changed since.');

export function whoOf(ctx: McpInstanceContext): Who {
  return {
    transport: ctx.transport ?? (ctx.tokenId === undefined ? 'stdio' : 'http'),
    tokenId: ctx.tokenId,
    tokenName: ctx.tokenName,
  };
}

export function historyOf(deps: McpDeps): History {
  return History.forConfig(deps.config, deps.log);
}

/** A recorder for one call: history entries for each change, taken back if the call fails. */
export function recorderFor(deps: McpDeps, ctx: McpInstanceContext, tool: HistoryTool, beginChange: () => void) {
  return new ChangeRecorder(historyOf(deps), tool, whoOf(ctx), beginChange);
}

const INDEX_WAIT_MS = 3_000;
const RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

export type Indexing = { ok: true; note?: string } | { ok: false; note: string };

/**
 * Index notes the daemon just changed (written, moved, removed). A failure is never the
 * change's failure: it is reported as `indexed: false` with the reason, and retried in the
 * background.
 */
export async function indexNow(deps: McpDeps, paths: readonly string[]): Promise<Indexing> {
  const job = deps.index.refresh(paths);
  try {
    const done = await withDeadline(job, INDEX_WAIT_MS);
    if (done !== undefined) {
      // Indexed, but not all of it (or not at all: not text): say what was left out.
      const left = done.skipped.filter((s) => paths.includes(s.path));
      if (left.length > 0) return { ok: true, note: left.map((s) => `${s.path}: ${s.reason}`).join('; ') };
      return { ok: true };
    }
    job.catch(() => retryIndex(deps, paths, 0));
    return { ok: false, note: 'indexing is busy; the change will be searchable within seconds' };
  } catch (err) {
    if (err instanceof NotesError && err.code === 'NOTES_E_SHUTTING_DOWN')
      return { ok: false, note: 'the server is stopping; the change is indexed when it starts again' };
    deps.log.warn({ err, note_paths: paths.length }, 'indexing changed notes failed; retrying');
    retryIndex(deps, paths, 0);
    const code = err instanceof NotesError ? err.code : 'NOTES_E_INTERNAL';
    return { ok: false, note: `indexing failed (${code}); it is retried in the background` };
  }
}

function retryIndex(deps: McpDeps, paths: readonly string[], attempt: number): void {
  const delay = RETRY_DELAYS_MS[attempt];
  if (delay === undefined) return;
  setTimeout(() => {
    deps.index.refresh(paths).catch((err: unknown) => {
      if (err instanceof NotesError && err.code === 'NOTES_E_SHUTTING_DOWN') return;
      deps.log.warn({ err, attempt: attempt + 1 }, 'indexing changed notes failed again');
      retryIndex(deps, paths, attempt + 1);
    });
  }, delay).unref();
}

/** The indexed/index_note pair every changing tool returns. */
export function indexFields(i: Indexing): { indexed: boolean; index_note?: string } {
  if (i.ok) return i.note === undefined ? { indexed: true } : { indexed: true, index_note: i.note };
  return { indexed: false, index_note: i.note };
}
