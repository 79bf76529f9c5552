// bench:mcp's table: one row per operation, protocol and load, notes-mcp beside the baseline.
import type { Row, Stats } from './measure.ts';

/** search_notes may cost the daemon this many times the CPU of a trivial SDK tool call. */
export const SEARCH_CPU_RATIO = 2;

export const ms = (v: number) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
export const int = (v: number) => Math.round(v).toLocaleString('en-US');

export function table(rows: Row[]): string {
  const head = [
    'request',
    'protocol',
    'load',
    'notes p50',
    'p95',
    'p99',
    'req/s',
    'err',
    'CPU/req srv+cli',
    'baseline p50',
    'p95',
    'p99',
    'req/s',
    'err',
    'CPU/req srv+cli',
    'p50 ratio',
    'srv CPU ratio',
    'target',
  ];
  const side = (s: Stats) => [
    ms(s.p50),
    ms(s.p95),
    ms(s.p99),
    int(s.rps),
    String(s.errors),
    `${s.serverCpuMs.toFixed(2)}+${s.clientCpuMs.toFixed(2)}`,
  ];
  const body = rows.map((r) => {
    const ratio = r.notes.p50 / r.base.p50;
    let target = '';
    const cpuRatio = r.notes.serverCpuMs / r.base.serverCpuMs;
    if (r.op === 'tools/list') target = `p50 <= 1.5x: ${ratio <= 1.5 ? 'met' : 'MISSED'}`;
    else if (r.op === 'list_notes') target = "(the daemon's own trivial path)";
    else if (r.mode === 'sequential')
      target = `srv CPU <= ${SEARCH_CPU_RATIO}x: ${cpuRatio <= SEARCH_CPU_RATIO ? 'met' : 'MISSED'}`;
    else if (r.mode === '16 concurrent') target = `(capacity ${int(r.notes.rps)} req/s)`;
    else if (r.mode === '16 paced') target = `(open loop at ${int(r.rate ?? Number.NaN)} req/s, half capacity)`;
    return [
      r.op === 'tools/list' ? 'tools/list' : `${r.op} (baseline: echo)`,
      r.era,
      r.mode,
      ...side(r.notes),
      ...side(r.base),
      `${ratio.toFixed(2)}x`,
      `${(r.notes.serverCpuMs / r.base.serverCpuMs).toFixed(2)}x`,
      target,
    ];
  });
  const text = new Set([0, 1, 2, 17]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (text.has(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (text.has(i) ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/**
 * Where search_notes' server CPU goes, per protocol (sequential rows): the SDK floor (echo),
 * what the daemon adds to any tool call (list_notes minus echo: HTTP layer, auth, tool
 * plumbing, a one-row query), and the search itself (search_notes minus list_notes).
 */
export function cpuSplit(rows: Row[]): string[] {
  const out: string[] = [];
  for (const era of new Set(rows.map((r) => r.era))) {
    const seq = (op: Row['op']) => rows.find((r) => r.op === op && r.era === era && r.mode === 'sequential');
    const trivial = seq('list_notes');
    const search = seq('search_notes');
    if (!trivial || !search) continue;
    const floor = (trivial.base.serverCpuMs + search.base.serverCpuMs) / 2;
    const daemon = trivial.notes.serverCpuMs;
    out.push(
      `server CPU per call, ${era} (sequential): SDK echo ${floor.toFixed(2)} ms; daemon list_notes ${daemon.toFixed(2)} ms ` +
        `(+${(daemon - floor).toFixed(2)} ms over echo: HTTP, auth, tool plumbing); search_notes ` +
        `${search.notes.serverCpuMs.toFixed(2)} ms (+${(search.notes.serverCpuMs - daemon).toFixed(2)} ms over list_notes: the search)`,
    );
  }
  return out;
}
