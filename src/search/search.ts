import { statSync } from 'node:fs';
import {
  type ChunkRecord,
  compoundTokens,
  type Filter,
  isEmptyFilter,
  type LexicalIndex,
  lexicalTokens,
  type NotesIndex,
} from '../index/index.ts';
import { noteUri } from '../notes/index.ts';

import { type FusionOptions, fusionFor, fuse, type Ranked } from './fusion.ts';
import { lateScores, warmLate } from './late.ts';
import { ftsMatchOf, parseQuery, queryTerms, searchTerms } from './query.ts';
import { makeSnippet, termPattern } from './snippet.ts';

export type SearchMode = 'hybrid' | 'bm25' | 'vector';

export interface SearchOptions extends Filter {
  /** Results wanted (after offset), 1..100. */
  k?: number;
  offset?: number;
  /** Return at most one passage per note (its best). */
  onePerNote?: boolean;
  mode?: SearchMode;
  fusion?: Partial<FusionOptions>;
  /** BM25 from the in-memory index (default once built) or from SQLite FTS5 (benchmarks). */
  bm25Engine?: 'memory' | 'fts5';
  /** Candidates taken from each method before fusion. */
  candidates?: number;
}

export interface SearchHit {
  path: string;
  uri: string;
  title: string;
  headings: string[];
  startLine: number;
  endLine: number;
  snippet: string;
  score: number;
  chunkId: number;
  /** When the note was last indexed (ISO 8601). */
  indexedAt: string;
  /** The file changed (or vanished) since it was indexed: the passage may be out of date. */
  stale: boolean;
}

export interface SearchResult {
  query: string;
  hits: SearchHit[];
  /** More results exist past offset + hits.length. */
  hasMore: boolean;
  nextOffset: number | undefined;
  tookMs: number;
}

const MAX_K = 100;
// Candidates taken from each method before fusion: 200 against 100 moved paraphrased
// questions' tuning half from 0.621 to 0.655 hit@10 (bench/eval/README.md).
const CANDIDATES = 200;

function isStale(c: ChunkRecord): boolean {
  try {
    const s = statSync(c.diskPath);
    return s.size !== c.size || s.mtimeMs !== c.mtimeMs;
  } catch {
    return true;
  }
}

// Query vectors repeat (agents retry and page through results): keep the last few.
const queryCache = new Map<string, Float32Array>();
async function embedQuery(index: NotesIndex, text: string): Promise<Float32Array> {
  const key = `${index.embedder.fingerprint}\u0000${text}`;
  const hit = queryCache.get(key);
  if (hit) {
    queryCache.delete(key);
    queryCache.set(key, hit);
    return hit;
  }
  const [v] = await index.embedder.embed([text]);
  if (!v) throw new Error('embedder returned no vector');
  queryCache.set(key, v);
  if (queryCache.size > 256) queryCache.delete(queryCache.keys().next().value as string);
  return v;
}

/**
 * Chunks (among `allow`, when given) holding every phrase with its words in order. Candidates
 * are the chunks with all the phrases' terms (postings intersection), checked against their
 * tokens; FTS5's phrase search stands in while there is no in-memory index.
 */
function phraseMatches(
  index: NotesIndex,
  lexical: LexicalIndex | undefined,
  phrases: readonly string[],
  allow: ReadonlySet<number> | undefined,
): Set<number> {
  const seqs = phrases.map((p) => lexicalTokens(p)).filter((t) => t.length > 0);
  if (seqs.length === 0) return new Set(allow ?? []);
  if (!lexical) {
    const match = seqs.map((t) => `"${t.join(' ')}"`).join(' AND ');
    const ids = new Set(index.fts(match, 1_000_000).map((r) => r.id));
    return allow ? new Set([...ids].filter((id) => allow.has(id))) : ids;
  }
  // A phrase with symbols ("--since", "c++", "$PATH") must appear as written (case aside): its
  // words alone ("since") are not the phrase, and tldr's `{{[-s|--since]}}` still holds it.
  const literals = phrases.filter((p) => compoundTokens(p).length > 0).map((p) => p.trim().toLowerCase());
  const candidates = [...lexical.idsWithAll(seqs.flat(), allow)].sort((a, b) => a - b);
  const out = new Set<number>();
  for (let i = 0; i < candidates.length; i += 1000) {
    for (const c of index.chunks(candidates.slice(i, i + 1000)).values()) {
      const body = `${c.title}\n${c.headings.join('\n')}\n${c.text}`;
      const tokens = lexicalTokens(body);
      if (!seqs.every((seq) => containsSeq(tokens, seq))) continue;
      if (literals.length > 0) {
        const lower = body.toLowerCase();
        if (!literals.every((l) => lower.includes(l))) continue;
      }
      out.add(c.id);
    }
  }
  return out;
}

function containsSeq(tokens: readonly string[], seq: readonly string[]): boolean {
  outer: for (let i = 0; i + seq.length <= tokens.length; i++) {
    for (let j = 0; j < seq.length; j++) if (tokens[i + j] !== seq[j]) continue outer;
    return true;
  }
  return false;
}

/** Ranked chunk ids for a query, before pagination and hydration. */
export async function rankChunks(index: NotesIndex, rawQuery: string, opts: SearchOptions = {}): Promise<Ranked[]> {
  const ranked = await rankByContent(index, rawQuery, opts);
  if ((opts.mode ?? 'hybrid') === 'vector') return ranked;
  return namedNotesFirst(index, rawQuery, ranked, opts);
}

/**
 * A query that is a note's name ("git", "tar", "Project Zebra") asks for that note: it comes
 * first, then the rest by content. By content alone, "git" ranked git.md below dozens of
 * git-* pages that repeat the word more often, and "tar" put tqdm.md first. Names resolve as
 * read_note resolves them (file name, then title or alias); a shared name puts every note
 * that has it first. Only short queries qualify: a sentence is never a name.
 */
function namedNotesFirst(index: NotesIndex, rawQuery: string, ranked: Ranked[], opts: SearchOptions): Ranked[] {
  const q = parseQuery(rawQuery);
  const text = q.text.trim();
  if (q.phrases.length > 0 || text === '' || text.length > 80 || text.split(/\s+/).length > 4) return ranked;
  const r = index.resolveName(text);
  const paths = r.status === 'resolved' ? [r.path] : r.status === 'ambiguous' ? r.candidates : [];
  if (paths.length === 0) return ranked;
  const filter: Filter = opts;
  const allow = isEmptyFilter(filter) ? undefined : index.chunkIdsMatching(filter);
  const position = new Map(ranked.map((x, i) => [x.id, i]));
  const first: number[] = [];
  for (const path of paths) {
    const ids = index.chunkIdsOf(path).filter((id) => !allow || allow.has(id));
    if (ids.length === 0) continue;
    // The note's best passage for this query when content ranked one, else its opening.
    const best = ids.filter((id) => position.has(id)).sort((a, b) => position.get(a)! - position.get(b)!)[0];
    first.push(best ?? ids[0]!);
  }
  if (first.length === 0) return ranked;
  const top = (ranked[0]?.score ?? 0) + 1;
  const lifted = new Set(first);
  return [
    ...first.map((id, i) => ({ id, score: Number((top + (first.length - i) * 1e-3).toFixed(6)) })),
    ...ranked.filter((x) => !lifted.has(x.id)),
  ];
}

async function rankByContent(index: NotesIndex, rawQuery: string, opts: SearchOptions): Promise<Ranked[]> {
  const mode = opts.mode ?? 'hybrid';
  const fusion: FusionOptions = { ...fusionFor(index.embedder), ...opts.fusion };
  const want = Math.min(MAX_K, Math.max(1, opts.k ?? 10)) + (opts.offset ?? 0);
  const n = Math.max(opts.candidates ?? CANDIDATES, want * (opts.onePerNote ? 4 : 2));
  const filter: Filter = opts;
  const parsed = parseQuery(rawQuery);
  const query = parsed.text;
  let allow = isEmptyFilter(filter) ? undefined : index.chunkIdsMatching(filter);
  // One BM25 engine for the daemon and the CLI (see NotesIndex.lexicalForSearch); FTS5 only
  // when asked for (benchmarks) or while the daemon's is still being built past the wait.
  const lexical = opts.bm25Engine === 'fts5' || mode === 'vector' ? undefined : await index.lexicalForSearch();
  if (parsed.phrases.length > 0) {
    allow = phraseMatches(index, lexical ?? (await index.lexicalForSearch()), parsed.phrases, allow);
    if (allow.size === 0) return [];
  }
  // The query vector first, then the HNSW search runs in its worker thread while BM25 scores
  // on this one: the two overlap instead of adding up.
  let vecSearch: Promise<Ranked[]> = Promise.resolve([]);
  let qvec: Float32Array | undefined;
  if (mode !== 'bm25' && query.trim() !== '') {
    const text = index.embedder.bagOfWords ? queryTerms(query).join(' ') || query : query;
    qvec = await embedQuery(index, text);
    vecSearch = index.vectors.search(qvec, n, allow);
  }
  let bm25: Ranked[] = [];
  if (mode !== 'vector') {
    // Every term counts: dropping common terms (df > 5-20% of chunks) to save BM25 time cost
    // 2-5 points of paraphrased hit@10 on bench/quality.ts, so it is not done.
    const terms = searchTerms(query);
    // Symbol-bearing runs ("--since", "c++") go in whole: queryTerms keeps only words.
    if (lexical) bm25 = lexical.search([...terms, ...compoundTokens(query)].join(' '), n, allow);
    else {
      const match = ftsMatchOf(terms);
      if (match) bm25 = index.fts(match, n, isEmptyFilter(filter) ? undefined : filter);
      if (parsed.phrases.length > 0 && allow) bm25 = bm25.filter((r) => allow.has(r.id));
    }
  }
  const vec = await vecSearch;
  if (mode === 'bm25') return bm25;
  if (mode === 'vector') return vec;
  let extraCosines: Map<number, number> | undefined;
  if (fusion.method === 'relative' && qvec && bm25.length > 0) {
    const inVec = new Set(vec.map((v) => v.id));
    const missing = new Set(bm25.filter((b) => !inVec.has(b.id)).map((b) => b.id));
    if (missing.size > 0) {
      extraCosines = index.vectors.cosines(qvec, missing);
    }
  }
  const fused = fuse({ bm25, vector: vec, ...(extraCosines ? { extraCosines } : {}) }, fusion);
  if (fusion.lateWeight <= 0 || fused.length === 0) return fused;
  // Word-level late interaction on the fused top, relative to its best there like the other
  // signals. A bonus added to the top only: the rest stays below it, in order.
  const top = fused.slice(0, fusion.lateDepth);
  const late = await lateScores(
    // A read-only index serves one CLI command: warming its words would only delay the exit.
    { owner: index, embedder: index.embedder, lexical, chunks: (ids) => index.chunks(ids), warm: !index.readOnly },
    query,
    top.map((r) => r.id),
    fusion.lateFloor,
  );
  let bestLate = 0;
  for (const l of late) bestLate = Math.max(bestLate, l);
  if (bestLate <= 0) return fused;
  const scale = fusion.lateWeight / bestLate;
  const rescored = top.map((r, i) => ({ id: r.id, score: r.score + scale * late[i]! }));
  rescored.sort((a, b) => b.score - a.score || a.id - b.id);
  return [...rescored, ...fused.slice(top.length)];
}

/**
 * Give every word of the index a vector for late interaction now, in the background, instead
 * of from the first hybrid query on (a daemon can call it once its first sync is done; queries
 * meanwhile run as usual). Resolves when done; nothing to do for other models or a read-only
 * index.
 */
export async function warmSearch(index: NotesIndex): Promise<void> {
  if (fusionFor(index.embedder).lateWeight <= 0 || index.readOnly) return;
  const lexical = await index.lexicalForSearch();
  if (!lexical) return;
  await warmLate({ owner: index, embedder: index.embedder, lexical, chunks: (ids) => index.chunks(ids), warm: true });
}

/**
 * The heading trail without a leading heading that repeats the title (a note whose title is
 * its H1 would otherwise show as "unp › unp").
 */
export function trailBelowTitle(title: string, headings: readonly string[]): string[] {
  const first = headings[0];
  if (first !== undefined && first.trim().toLowerCase() === title.trim().toLowerCase()) return headings.slice(1);
  return [...headings];
}

export async function search(index: NotesIndex, query: string, opts: SearchOptions = {}): Promise<SearchResult> {
  const t0 = performance.now();
  const k = Math.min(MAX_K, Math.max(1, Math.floor(opts.k ?? 10)));
  const offset = Math.max(0, Math.floor(opts.offset ?? 0));
  const ranked = await rankChunks(index, query, { ...opts, k, offset });
  const pattern = termPattern(queryTerms(query));
  const picked: Array<{ r: Ranked; c: ChunkRecord }> = [];
  const notesSeen = new Set<number>();
  // Hydrate candidates a slice at a time: usually the first slice fills the page.
  const step = Math.max(16, (offset + k + 1) * (opts.onePerNote ? 2 : 1));
  fill: for (let i = 0; i < ranked.length; i += step) {
    const slice = ranked.slice(i, i + step);
    const records = index.chunks(slice.map((r) => r.id));
    for (const r of slice) {
      const c = records.get(r.id);
      if (!c) continue; // removed between ranking and hydration
      if (opts.onePerNote) {
        if (notesSeen.has(c.noteId)) continue;
        notesSeen.add(c.noteId);
      }
      picked.push({ r, c });
      if (picked.length > offset + k) break fill;
    }
  }
  const page = picked.slice(offset, offset + k);
  const hasMore = picked.length > offset + k;
  const hits: SearchHit[] = page.map(({ r, c }) => ({
    path: c.path,
    uri: noteUri(c.path),
    title: c.title,
    headings: trailBelowTitle(c.title, c.headings),
    startLine: c.startLine,
    endLine: c.endLine,
    snippet: makeSnippet(c.text, pattern),
    score: Number(r.score.toFixed(6)),
    chunkId: c.id,
    indexedAt: new Date(c.indexedAt).toISOString(),
    stale: isStale(c),
  }));
  return {
    query,
    hits,
    hasMore,
    nextOffset: hasMore ? offset + k : undefined,
    tookMs: Number((performance.now() - t0).toFixed(2)),
  };
}
