import { z } from 'zod';
import { okResult } from '../context.ts';
import { withCachedJsonSchema } from '../schema.ts';
import { defineTool, withDeadline } from './define.ts';

const ReindexInput = withCachedJsonSchema(
  z.object({
    full: z.boolean().default(false).describe('Re-read and re-chunk every note instead of only changed ones.'),
  }),
);

const ReindexOutput = withCachedJsonSchema(
  z.object({
    status: z.enum(['done', 'running']),
    notes: z.number(),
    chunks: z.number(),
    indexed: z.number(),
    unchanged: z.number(),
    removed: z.number(),
    skipped: z.number(),
    seconds: z.number(),
  }),
  { id: 'reindex.output' },
);

export const reindex = defineTool({
  name: 'reindex',
  title: 'Re-index notes',
  description:
    'Bring the search index up to date with the notes folder (normally automatic on every save). Use it after ' +
    'bulk changes the watcher may have missed, or with full=true to re-read every note. Sends progress ' +
    'notifications when a progress token is given; if it takes long, it keeps running in the background.',
  input: ReindexInput,
  output: ReindexOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, { deps, extra }) {
    const token = extra.mcpReq._meta?.progressToken;
    let lastSent = 0;
    const job = deps.index.sync({
      full: args.full,
      onProgress: (p) => {
        if (token === undefined || p.phase !== 'index') return;
        const now = Date.now();
        if (now - lastSent < 100 && p.done < p.total) return;
        lastSent = now;
        void extra.mcpReq
          .notify({
            method: 'notifications/progress',
            params: {
              progressToken: token,
              progress: p.done,
              total: p.total,
              message: `indexed ${p.done} of ${p.total} notes`,
            },
          })
          .catch(() => undefined);
      },
    });
    const s = await withDeadline(job, Math.max(1_000, deps.config.toolTimeoutMs - 2_000));
    if (!s) {
      job.catch((err: unknown) => deps.log.error({ err }, 'background reindex failed'));
      const st = deps.index.status();
      return okResult({
        status: 'running',
        notes: st.notes,
        chunks: st.chunks,
        indexed: 0,
        unchanged: 0,
        removed: 0,
        skipped: 0,
        seconds: 0,
      });
    }
    return okResult({
      status: 'done',
      notes: s.notes,
      chunks: s.chunks,
      indexed: s.indexed,
      unchanged: s.unchanged,
      removed: s.removed,
      skipped: s.skipped.length,
      seconds: Number(s.seconds.toFixed(3)),
    });
  },
});
