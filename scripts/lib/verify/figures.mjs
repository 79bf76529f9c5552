// The numbers of verify.sh: percentiles, the baseline file and its tolerance, the record.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Nearest-rank percentile of sorted values: the smallest value with at least q of them at or below. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export const round = (ms) => Math.round(ms * 1000) / 1000;

export function readBaseline(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (/^\s*\{/.test(text)) {
    const b = JSON.parse(text);
    return typeof b.p50_ms === 'number' && typeof b.p95_ms === 'number' ? b : undefined;
  }
  // The key=value files older verify.sh versions wrote.
  const kv = Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.split('='))
      .filter((p) => p.length === 2),
  );
  const p50 = Number(kv.p50_ms);
  const p95 = Number(kv.p95_ms);
  return Number.isFinite(p50) && Number.isFinite(p95) ? { p50_ms: p50, p95_ms: p95, at: kv.date ?? null } : undefined;
}

/** Allowed value for a baseline figure: the percentage, but never tighter than the absolute slack. */
export function limitFor(base, o) {
  return round(Math.max(base * (1 + o.tolerancePct / 100), base + o.toleranceMs));
}

/** Temp file in the same folder, then rename: a reader never sees half a file. */
export function writeAtomic(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${file.split('/').pop()}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}
