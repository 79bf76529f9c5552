// The corpus bench:mcp serves, unpacked once under CACHE_ROOT, and the chunk size that cuts it
// into about the target number of chunks (the index built from it is cached by main).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { chunkNote, DEFAULT_CHUNK_OPTIONS } from '../../src/chunk/index.ts';
import { type CorpusName, unpackCorpus } from '../lib/corpus.ts';
import { CACHE_ROOT } from './plan.ts';

function listNotes(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listNotes(p));
    else if (/\.(md|markdown)$/i.test(e.name)) out.push(p);
  }
  return out;
}

/** The corpus unpacked once under the cache root; read-only for the search bench. */
export function corpusNotes(corpus: CorpusName): string {
  const dir = join(CACHE_ROOT, corpus, 'notes');
  const marker = join(CACHE_ROOT, corpus, 'unpacked');
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    unpackCorpus(corpus, dir);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
  }
  return dir;
}

const ChoiceFile = z.object({ maxTokens: z.number().int().positive(), estimate: z.number() });

/**
 * The chunk size whose chunk count is closest to the target, found by binary search over
 * chunking alone (no embedding) on every 4th note: about a second per probe on tldr-all.
 */
export function chooseMaxTokens(corpus: CorpusName, notes: string, target: number): z.infer<typeof ChoiceFile> {
  const file = join(CACHE_ROOT, corpus, `chunk-size-for-${target}.json`);
  if (existsSync(file)) return ChoiceFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  const sample = listNotes(notes)
    .sort()
    .filter((_, i) => i % 4 === 0)
    .map((p) => ({ text: readFileSync(p, 'utf8'), name: basename(p) }));
  const estimate = (maxTokens: number): number => {
    let n = 0;
    for (const s of sample) n += chunkNote(s.text, s.name, { ...DEFAULT_CHUNK_OPTIONS, maxTokens }).chunks.length;
    return n * 4;
  };
  // Fewer tokens per chunk, more chunks: find the largest size still reaching the target.
  let lo = 8;
  let hi = 2000;
  const seen = new Map<number, number>();
  const at = (t: number): number => {
    const v = seen.get(t) ?? estimate(t);
    seen.set(t, v);
    return v;
  };
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (at(mid) >= target) lo = mid;
    else hi = mid;
  }
  const best = Math.abs(at(lo) - target) <= Math.abs(at(hi) - target) ? lo : hi;
  const choice = { maxTokens: best, estimate: at(best) };
  writeFileSync(file, JSON.stringify(choice));
  return choice;
}
