// What bench:mcp measures and how much of it: the command-line flags turned into a Plan.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ERAS, type Era } from '../lib/clients.ts';
import type { CorpusName } from '../lib/corpus.ts';

/** The bearer token both the bench's daemon and its clients use. */
export const TOKEN = 'bench-token-0123456789abcdef';
export const CLIENTS = 16;
/** Unpacked corpora, chunk-size choices and built indexes survive between runs here. */
export const CACHE_ROOT = join(tmpdir(), 'notes-mcp-bench-mcp');
/**
 * The paced (open-loop) mode runs at this share of the capacity notes-mcp showed in the same
 * run (its 16-concurrent throughput for that request and protocol): latency below saturation,
 * which a closed loop on a 2-core machine cannot show.
 */
export const PACED_SHARE = 0.5;
/** notes-mcp and the baseline alternate this many times per measurement. */
export const BLOCKS = 10;

/** list_notes is the daemon's trivial tool call: its HTTP, auth and tool plumbing without search. */
export type Op = 'tools/list' | 'list_notes' | 'search_notes';
export type Mode = 'sequential' | '16 concurrent' | '16 paced';
export const MODES: readonly Mode[] = ['sequential', '16 concurrent', '16 paced'];

export interface Plan {
  corpus: CorpusName;
  chunksTarget: number | undefined;
  sequential: number;
  perClient: number;
  /** Requests per client in the paced mode. */
  pacedPerClient: number;
  warmup: number;
  /**
   * Further warm-up calls on the first client before the sequential blocks: with only
   * `warmup` per client, the 100 sequential calls of --quick ran while V8 was still
   * optimising the daemon's code, and list_notes showed 1.7x the echo where a warmed daemon
   * shows 1.2-1.3x (both servers get the same number).
   */
  sequentialWarmup: number;
  shutdownLoadMs: number;
  ops: readonly Op[];
  eras: readonly Era[];
  /** Write the daemon's V8 CPU profile (.cpuprofile) into this folder. */
  profileDir: string | undefined;
  shutdown: boolean;
}

export function parsePlan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'chunks-target': { type: 'string' },
      only: { type: 'string' },
      era: { type: 'string' },
      profile: { type: 'string' },
    },
  });
  const target = values['chunks-target'] === undefined ? undefined : Number(values['chunks-target']);
  if (target !== undefined && !(Number.isInteger(target) && target > 0)) {
    throw new Error('--chunks-target takes a positive whole number of chunks, e.g. 100000');
  }
  const ops = z
    .enum(['tools/list', 'list_notes', 'search_notes'])
    .optional()
    .parse(values.only, { error: () => '--only takes tools/list, list_notes or search_notes' });
  const era = z
    .enum(['2025-11-25', '2026-07-28'])
    .optional()
    .parse(values.era, { error: () => '--era takes 2025-11-25 or 2026-07-28' });
  const slice = {
    ops: ops ? [ops] : (['tools/list', 'list_notes', 'search_notes'] as const),
    eras: era ? [era] : ERAS,
    profileDir: values.profile,
    // A partial run is for looking at one thing: skip the shutdown part.
    shutdown: ops === undefined && era === undefined,
  };
  return values.quick
    ? {
        corpus: 'tldr-en',
        chunksTarget: target,
        sequential: 300,
        perClient: 25,
        pacedPerClient: 10,
        warmup: 3,
        sequentialWarmup: 300,
        shutdownLoadMs: 1000,
        ...slice,
      }
    : {
        corpus: 'tldr-all',
        chunksTarget: target ?? 100_000,
        sequential: 300,
        perClient: 100,
        pacedPerClient: 40,
        warmup: 10,
        sequentialWarmup: 500,
        shutdownLoadMs: 2000,
        ...slice,
      };
}
