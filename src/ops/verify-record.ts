import { describeIssues } from '../errors.ts';
import { readStateFileSync } from '../fs-atomic.ts';
import { join } from 'node:path';
import { z } from 'zod';

// The last result of scripts/verify.sh for an instance: <state>/verify-last.json, written
// atomically by scripts/lib/verify-client.mjs (the launchd verify job after every boot, every
// provision and once a day). `notes-mcp doctor` reports it, so a failed verification shows
// outside the log too.

export const VERIFY_RECORD_FILE = 'verify-last.json';

const ms = z.number().nonnegative();

export const VerifyRecord = z.object({
  at: z.iso.datetime({ offset: true }),
  ok: z.boolean(),
  url: z.string(),
  /** Timed tools/list calls (0 when none could be timed). */
  samples: z.number().int().nonnegative(),
  p50_ms: ms.nullable(),
  p95_ms: ms.nullable(),
  p99_ms: ms.nullable(),
  baseline: z.object({ p50_ms: ms, p95_ms: ms, at: z.string().nullable().optional() }).nullable(),
  /** A p50 or p95 above max(baseline x (1 + pct/100), baseline + min_ms) fails. */
  tolerance: z.object({ pct: z.number().nonnegative(), min_ms: z.number().nonnegative() }),
  /** What failed, one "check: detail" per failed check; null when ok. */
  reason: z.string().nullable(),
  checks: z
    .array(z.object({ name: z.string(), status: z.enum(['PASS', 'FAIL', 'SKIP']), detail: z.string() }))
    .default([]),
});
export type VerifyRecord = z.infer<typeof VerifyRecord>;

export type VerifyRecordResult =
  | { ok: true; record: VerifyRecord }
  | { ok: false; reason: 'absent' | 'unreadable' | 'invalid'; message: string };

export function readVerifyRecord(stateDir: string): VerifyRecordResult {
  const file = join(stateDir, VERIFY_RECORD_FILE);
  let text: string;
  try {
    // doctor reads it: a FIFO left here must not hang doctor.
    text = readStateFileSync(file, 1024 * 1024).toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? { ok: false, reason: 'absent', message: `no ${file}: verify.sh has not recorded a result here` }
      : { ok: false, reason: 'unreadable', message: `${file}: ${code ?? String(err)}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid', message: `${file} is not JSON` };
  }
  const parsed = VerifyRecord.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: 'invalid', message: `${file}: ${describeIssues(parsed.error)}` };
  }
  return { ok: true, record: parsed.data };
}

export interface VerifyVerdict {
  level: 'ok' | 'warn' | 'info';
  detail: string;
}

/** What doctor says about the last verification: a failure or a stale result warns; none is info. */
export function judgeVerifyRecord(result: VerifyRecordResult, now: number, maxAgeDays = 2): VerifyVerdict {
  if (!result.ok) {
    return result.reason === 'absent'
      ? { level: 'info', detail: `never verified on this machine (${result.message})` }
      : { level: 'warn', detail: result.message };
  }
  const r = result.record;
  const ageDays = (now - Date.parse(r.at)) / 86_400_000;
  const age = ageDays < 1 ? `${Math.round(ageDays * 24)} h ago` : `${ageDays.toFixed(1)} days ago`;
  const latency = r.p50_ms === null ? '' : `; tools/list p50 ${r.p50_ms} ms, p95 ${r.p95_ms} ms, p99 ${r.p99_ms} ms`;
  if (!r.ok) return { level: 'warn', detail: `FAILED ${age} (${r.at}) for ${r.url}: ${r.reason ?? 'see the log'}` };
  if (ageDays > maxAgeDays) {
    return {
      level: 'warn',
      detail: `passed, but ${age} (${r.at}): older than ${maxAgeDays} days, so the daily verify job is not running${latency}`,
    };
  }
  return { level: 'ok', detail: `passed ${age} for ${r.url}${latency}` };
}
