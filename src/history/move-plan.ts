import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { fsyncPathAsync, readStateFile, writeFileAtomic } from '../fs-atomic.ts';
import type { Logger } from '../log.ts';
import type { Who } from './history.ts';

// A move's link rewrites, kept on disk from before the move until the last rewrite ran: a
// daemon killed in between (a move with 1,000 linking notes takes seconds) finishes them at
// its next start, instead of leaving most of the links pointing at a name that is gone.

/** Replace text[start, end) by `text`; edits ascend and do not overlap. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** One linking note's rewrite: its path before the move, the hash its edits were planned on. */
export interface LinkRewrite {
  path: string;
  hash: string;
  edits: TextEdit[];
}

export interface MovePlan {
  /** The move's history entry id; rewrites are recorded with it as their `call`. */
  id: string;
  from: string;
  to: string;
  who: Who;
  rewrites: LinkRewrite[];
}

const PlanFile = z.object({
  v: z.literal(1),
  id: z.string().regex(/^[0-9a-z-]{1,64}$/),
  from: z.string().min(1),
  to: z.string().min(1),
  who: z.object({
    transport: z.enum(['http', 'stdio', 'cli']),
    tokenId: z.string().optional(),
    tokenName: z.string().optional(),
    user: z.string().optional(),
  }),
  rewrites: z.array(
    z.object({
      path: z.string().min(1),
      hash: z.string().regex(/^[0-9a-f]{64}$/),
      edits: z.array(
        z.object({ start: z.number().int().nonnegative(), end: z.number().int().nonnegative(), text: z.string() }),
      ),
    }),
  ),
});

export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

/** Edits that fit the text they are applied to: ascending, inside it, not overlapping. */
export function editsFit(text: string, edits: readonly TextEdit[]): boolean {
  let at = 0;
  for (const e of edits) {
    if (e.start < at || e.end < e.start || e.end > text.length) return false;
    at = e.end;
  }
  return true;
}

export class MovePlans {
  readonly #dir: string;

  constructor(historyDir: string) {
    this.#dir = join(historyDir, 'moves');
  }

  #file(id: string): string {
    return join(this.#dir, `${id}.json`);
  }

  async save(plan: MovePlan): Promise<void> {
    const made = await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    if (made !== undefined) await fsyncPathAsync(join(this.#dir, '..'));
    const body: z.infer<typeof PlanFile> = { v: 1, ...plan };
    await writeFileAtomic(this.#file(plan.id), Buffer.from(JSON.stringify(body)), { mode: 0o600 });
  }

  async drop(id: string): Promise<void> {
    try {
      await unlink(this.#file(id));
      await fsyncPathAsync(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** The plans left by moves that did not finish; an unreadable one is logged and removed. */
  async pending(log: Logger): Promise<MovePlan[]> {
    let names: string[];
    try {
      names = (await readdir(this.#dir)).filter((n) => n.endsWith('.json')).sort();
    } catch {
      return [];
    }
    const out: MovePlan[] = [];
    for (const name of names) {
      const file = join(this.#dir, name);
      try {
        const parsed = PlanFile.safeParse(JSON.parse((await readStateFile(file)).toString('utf8')));
        if (parsed.success && `${parsed.data.id}.json` === name) {
          const { v: _v, ...plan } = parsed.data;
          out.push(plan);
          continue;
        }
      } catch {
        // read or JSON failure: handled below
      }
      log.warn({ file: name }, 'a move plan in the history folder is unreadable; removed, its links stay as they are');
      await unlink(file).catch(() => undefined);
    }
    return out;
  }
}
