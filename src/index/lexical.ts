import { stemmer } from 'stemmer';
import { indexText } from '../chunk/index.ts';

// BM25 in memory. SQLite FTS5 scores every matching row through its bm25() function at about
// 1.3 µs a row, so a natural-language question whose words are common ("list the files in a
// directory") cost 20-40 ms at 100k chunks. Here postings are typed arrays and scoring is a
// term-at-a-time pass into a dense accumulator, a few nanoseconds a posting. FTS5 stays as
// the durable copy and answers until this index has been built in the background.

const K1 = 1.2;
const B = 0.75;
const MAX_TOKEN = 40;
// Bumped when serialize()'s layout or the tokenisation changes: old files are then rebuilt.
// 3: files written by format 2 after a load may hold other terms' postings (see bytesOf).
const LEXICAL_FORMAT = 3;

/**
 * The bytes of a typed array's first `length` elements, wherever it starts in its buffer. A
 * loaded index's postings are views into one shared buffer: read from byte 0 of it, a second
 * save wrote every term it had not changed with the first term's bytes.
 */
function bytesOf(a: Int32Array | Uint16Array | Float32Array, length: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, length * a.BYTES_PER_ELEMENT);
}

const stemCache = new Map<string, string>();

// ASCII text (most notes) skips Unicode normalisation and Unicode-aware regexes, which cost
// several times more per character.
const NON_ASCII = /[^\x00-\x7f]/;
const ASCII_WORD = /[a-z0-9]+/g;
const UNICODE_WORD = /[\p{L}\p{N}]+/gu;
const MARKS = /\p{M}+/gu;

/** Lower-cased, accent-free, Porter-stemmed word tokens (the same for chunks and queries). */
export function lexicalTokens(text: string): string[] {
  let t = indexText(text).toLowerCase();
  const ascii = !NON_ASCII.test(t);
  if (!ascii) t = t.normalize('NFKD').replace(MARKS, '');
  const words = t.match(ascii ? ASCII_WORD : UNICODE_WORD);
  if (!words) return [];
  const out: string[] = [];
  for (const w of words) {
    if (w.length > MAX_TOKEN) continue;
    let s = stemCache.get(w);
    if (s === undefined) {
      s = /^[a-z]+$/.test(w) ? stemmer(w) : w;
      if (stemCache.size < 500_000) stemCache.set(w, s);
    }
    out.push(s);
  }
  return out;
}

// Identifiers and symbols ("--since", "snake_case", "$PATH", "~/.ssh/config", "c++", "[[")
// lose what makes them specific when split into words: "--since" becomes the common word
// "since". Each whitespace-separated run holding anything but letters and digits is indexed
// a second time whole, lower-cased, so a query that contains the same run finds it exactly.
/**
 * `text` with each `{{...}}` placeholder (no `}` inside) replaced by a space, in one pass. The
 * regex /\{\{[^}]*\}\}/g it replaces rescanned to the next `}` from every `{{`: quadratic, 5 s
 * of the main thread for 128 KB of `{{` in a note or a query.
 */
export function blankPlaceholders(text: string): string {
  let out = '';
  let from = 0;
  let at = text.indexOf('{{');
  while (at !== -1) {
    const close = text.indexOf('}', at + 2);
    if (close === -1) break; // no `}` left: no placeholder either
    if (text.charCodeAt(close + 1) === 125) {
      out += `${text.slice(from, at)} `;
      from = close + 2;
    }
    // A `{{` before `close` cannot match either: its first `}` is the same one.
    at = text.indexOf('{{', close + 1);
  }
  return from === 0 ? text : out + text.slice(from);
}
const RUN_SPLIT = /[\s=,;`"'|<>]+/;
const LEAD = /^[([{]+/;
const TRAIL = /[)\]}.:!?]+$/;
const HAS_WORD_CHAR = /[\p{L}\p{N}]/u;
const ONLY_WORD_CHARS = /^[\p{L}\p{N}]+$/u;
const MAX_COMPOUND = 64;
// Ellipses and stray full stops are everywhere and name nothing.
const DOTS = /^\.+$/;

/** The symbol-bearing runs of a text, lower-cased (see above); [] for plain words. */
export function compoundTokens(text: string): string[] {
  if (ONLY_WORD_CHARS.test(text)) return [];
  const out: string[] = [];
  const src = text.includes('{{') ? blankPlaceholders(text) : text;
  for (const raw of src.toLowerCase().split(RUN_SPLIT)) {
    if (raw.length === 0 || raw.length > MAX_COMPOUND) continue;
    let run = raw;
    // Brackets and sentence punctuation around a run are not part of it, unless the run is
    // nothing but symbols ("((", "[[", "$", "~" name pages of their own).
    if (HAS_WORD_CHAR.test(run)) {
      if (!(run.startsWith('[') && run.endsWith(']'))) run = run.replace(LEAD, '');
      run = run.replace(TRAIL, '');
      // An unbalanced closing bracket left over: "value)" -> "value".
      if (run.endsWith(')') && !run.includes('(')) run = run.slice(0, -1);
    }
    if (run.length === 0 || ONLY_WORD_CHARS.test(run) || DOTS.test(run)) continue;
    out.push(run);
  }
  return out;
}

/** The terms a query is scored by: its word stems, then its symbol-bearing runs. */
export function queryTokens(query: string): string[] {
  return [...new Set([...lexicalTokens(query), ...compoundTokens(query)])];
}

class Postings {
  ids: Int32Array = new Int32Array(4);
  tfs: Uint16Array = new Uint16Array(4);
  length = 0;

  push(id: number, tf: number): void {
    if (this.length === this.ids.length) {
      const ids = new Int32Array(Math.max(4, this.ids.length * 2));
      ids.set(this.ids);
      this.ids = ids;
      const tfs = new Uint16Array(Math.max(4, this.tfs.length * 2));
      tfs.set(this.tfs);
      this.tfs = tfs;
    }
    this.ids[this.length] = id;
    this.tfs[this.length] = Math.min(tf, 65535);
    this.length++;
  }
}

/** Postings entries one compaction step visits (a millisecond or two at most). */
const SWEEP_POSTINGS = 50_000;

/** Keep the postings of live ids only; the number kept. */
function dropDead(p: Postings, dead: Uint8Array): number {
  let w = 0;
  for (let r = 0; r < p.length; r++) {
    const id = p.ids[r]!;
    if (dead[id]) continue;
    p.ids[w] = id;
    p.tfs[w] = p.tfs[r]!;
    w++;
  }
  p.length = w;
  return w;
}

export interface LexicalDoc {
  id: number;
  text: string;
  title: string;
  headings: readonly string[];
}

export interface LexicalHit {
  id: number;
  score: number;
  /** 0..1: how rare the rarest query term in this chunk is (1 = found in one chunk only). */
  rarity: number;
}

/** A LexicalIndex holding every doc of an iterable (the one way CLI and daemon build it). */
export function buildLexicalIndex(docs: Iterable<LexicalDoc>): LexicalIndex {
  const ix = new LexicalIndex();
  for (const d of docs) ix.add(d);
  return ix;
}

export class LexicalIndex {
  #terms = new Map<string, Postings>();
  // Postings and the arrays below are indexed by slot, not chunk id: chunk ids only grow (a
  // full re-index of tldr-all's 47k chunks adds 47k to the highest), so arrays indexed by id
  // grew with the index's history (1M slots, ~26 MB, for 47k chunks after 17 re-indexes).
  // A slot is reused once compaction has dropped its postings.
  #slotOf = new Map<number, number>();
  #idOf = new Int32Array(1024);
  #nextSlot = 0;
  #free: number[] = [];
  // Dense per-slot arrays: no hashing on the hot path.
  #docLen = new Float32Array(1024);
  #dead = new Uint8Array(1024);
  #acc = new Float64Array(1024);
  // Ids scored by the current query: reused, since a growing array of up to one entry per
  // chunk was about 1 MB of garbage per question at 100k chunks.
  #touched = new Int32Array(1024);
  // K1 * (1 - B + B * len / avgdl) per id, 0 for absent ids: the length part of BM25 read
  // once per posting instead of recomputed. Rebuilt (~0.3 ms at 100k chunks) when the
  // collection changed since the last query.
  #norm = new Float32Array(1024);
  // Per id, the rarity of the rarest query term seen while scoring (valid for touched ids).
  #rarity = new Float32Array(1024);
  #normFresh = false;
  #live = 0;
  #totalLen = 0;
  #deletedCount = 0;
  /** A compaction in progress, a step per add/remove call (see #sweepStep). */
  #sweep: { dead: Uint8Array; count: number; terms: Iterator<[string, Postings]> } | undefined;

  get size(): number {
    return this.#live;
  }

  #ensure(slot: number): void {
    if (slot < this.#docLen.length) return;
    let n = this.#docLen.length;
    while (n <= slot) n *= 2;
    const len = new Float32Array(n);
    len.set(this.#docLen);
    this.#docLen = len;
    const idOf = new Int32Array(n);
    idOf.set(this.#idOf);
    this.#idOf = idOf;
    const dead = new Uint8Array(n);
    dead.set(this.#dead);
    this.#dead = dead;
    this.#acc = new Float64Array(n);
    this.#touched = new Int32Array(n);
    this.#norm = new Float32Array(n);
    this.#rarity = new Float32Array(n);
    this.#normFresh = false;
  }

  #norms(avgdl: number): Float32Array {
    if (this.#normFresh) return this.#norm;
    const norm = this.#norm;
    const docLen = this.#docLen;
    for (let id = 0; id < docLen.length; id++) {
      const dl = docLen[id]!;
      norm[id] = dl === 0 ? 0 : K1 * (1 - B + (B * dl) / avgdl);
    }
    this.#normFresh = true;
    return norm;
  }

  add(doc: LexicalDoc): void {
    if (this.#slotOf.has(doc.id)) return;
    if (this.#sweep) this.#sweepStep();
    // A re-added id gets a fresh slot: its old postings stay with the old, dead one.
    const slot = this.#free.pop() ?? this.#nextSlot++;
    this.#ensure(slot);
    this.#idOf[slot] = doc.id;
    this.#slotOf.set(doc.id, slot);
    const all = `${doc.title}\n${doc.headings.join('\n')}\n${doc.text}`;
    const tokens = lexicalTokens(all);
    const tf = new Map<string, number>();
    for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
    // Whole runs count as extra terms, not extra length: length normalisation stays a
    // measure of how much prose a chunk has.
    for (const t of compoundTokens(all)) tf.set(t, (tf.get(t) ?? 0) + 1);
    for (const [term, n] of tf) {
      let p = this.#terms.get(term);
      if (!p) {
        p = new Postings();
        this.#terms.set(term, p);
      }
      p.push(slot, n);
    }
    // Length 0 marks "absent", so an empty chunk counts as length 1.
    const len = Math.max(1, tokens.length);
    this.#docLen[slot] = len;
    this.#totalLen += len;
    this.#live++;
    this.#normFresh = false;
  }

  remove(ids: Iterable<number>): void {
    for (const id of ids) {
      const slot = this.#slotOf.get(id);
      if (slot === undefined) continue;
      this.#slotOf.delete(id);
      const len = this.#docLen[slot]!;
      this.#docLen[slot] = 0;
      this.#dead[slot] = 1;
      this.#totalLen -= len;
      this.#live--;
      this.#deletedCount++;
      this.#normFresh = false;
    }
    if (!this.#sweep && this.#deletedCount > 1000 && this.#deletedCount > this.#live / 5) {
      this.#sweep = { dead: this.#dead.slice(), count: this.#deletedCount, terms: this.#terms.entries() };
    }
    if (this.#sweep) this.#sweepStep();
  }

  /**
   * Compact a slice of the terms: the removed chunks' postings go in steps of about
   * SWEEP_POSTINGS entries, one step per add or remove, instead of all at once. Compacting
   * tldr-all's postings whole took up to 95 ms on the main thread, several times per full
   * re-index (every chunk is removed and added again). Ids removed after the sweep started
   * are left for the next one; until then they are skipped at query time like any removed id.
   */
  #sweepStep(): void {
    const sw = this.#sweep!;
    let budget = SWEEP_POSTINGS;
    while (budget > 0) {
      const next = sw.terms.next();
      if (next.done) {
        const dead = this.#dead;
        for (let slot = 0; slot < sw.dead.length; slot++) {
          if (!sw.dead[slot]) continue;
          dead[slot] = 0;
          this.#free.push(slot);
        }
        this.#deletedCount -= sw.count;
        this.#sweep = undefined;
        return;
      }
      const [term, p] = next.value;
      budget -= p.length + 16;
      if (dropDead(p, sw.dead) === 0) this.#terms.delete(term);
    }
  }

  /** Drop postings of removed chunks (skipped at query time until then). */
  #compact(): void {
    this.#sweep = undefined;
    const dead = this.#dead;
    for (const [term, p] of this.#terms) if (dropDead(p, dead) === 0) this.#terms.delete(term);
    for (let slot = 0; slot < this.#nextSlot; slot++) if (dead[slot]) this.#free.push(slot);
    dead.fill(0);
    this.#deletedCount = 0;
  }

  /**
   * The best `n` chunks for the query terms by BM25 (k1 1.2, b 0.75, Lucene's always-positive
   * IDF), optionally only among `allow`. Scores are positive, higher is better.
   */
  search(query: string, n: number, allow?: ReadonlySet<number>): LexicalHit[] {
    const terms = queryTokens(query);
    const N = this.#live;
    if (terms.length === 0 || N === 0 || n <= 0) return [];
    // Rarity of a term: 1 for a term in one chunk, falling with its IDF to 0 for a term in
    // 1% of the chunks (at least 2) or more. Each hit carries the rarity of the rarest query
    // term it contains: the fusion's measure of lexical certainty.
    const idfOf = (df: number) => Math.log(1 + (N - df + 0.5) / (df + 0.5));
    const idfTop = idfOf(1);
    const idfRef = idfOf(Math.max(2, N / 100));
    const rarity = this.#rarity;
    const norm = this.#norms(this.#totalLen / N || 1);
    const acc = this.#acc;
    const touched = this.#touched;
    const idOf = this.#idOf;
    let count = 0;
    for (const term of terms) {
      const p = this.#terms.get(term);
      if (!p) continue;
      const idf = idfOf(p.length);
      const w = idf * (K1 + 1);
      const rare = idfTop > idfRef ? Math.min(1, Math.max(0, (idf - idfRef) / (idfTop - idfRef))) : 0;
      const ids = p.ids;
      const tfs = p.tfs;
      for (let i = 0; i < p.length; i++) {
        const slot = ids[i]!;
        const nm = norm[slot]!;
        if (nm === 0) continue; // removed
        if (allow && !allow.has(idOf[slot]!)) continue;
        const tf = tfs[i]!;
        if (acc[slot] === 0) {
          touched[count++] = slot;
          rarity[slot] = 0;
        }
        acc[slot]! += (w * tf) / (tf + nm);
        if (rare > rarity[slot]!) rarity[slot] = rare;
      }
    }
    const out = topN(touched, count, acc, idOf, n);
    for (const hit of out) {
      hit.rarity = rarity[hit.id]!;
      hit.id = idOf[hit.id]!;
    }
    for (let i = 0; i < count; i++) acc[touched[i]!] = 0;
    return out;
  }

  /**
   * The index as bytes, for a reader (the read-only CLI) to load instead of re-tokenising
   * every chunk: building costs ~3 s at 47k chunks (tldr-all), loading a fraction of that.
   * `generation` is the store generation the index reflects; load() refuses another.
   */
  serialize(generation: number): Buffer {
    if (this.#deletedCount > 0) this.#compact();
    const enc = new TextEncoder();
    const parts: Uint8Array[] = [];
    const slots = this.#nextSlot;
    const head = new Float64Array([LEXICAL_FORMAT, generation, this.#live, this.#totalLen, slots, this.#terms.size]);
    parts.push(new Uint8Array(head.buffer), bytesOf(this.#docLen, slots), bytesOf(this.#idOf, slots));
    for (const [term, p] of this.#terms) {
      const name = enc.encode(term);
      const meta = new Uint32Array([name.length, p.length]);
      parts.push(new Uint8Array(meta.buffer), name, new Uint8Array((4 - (name.length % 4)) % 4));
      parts.push(bytesOf(p.ids, p.length), bytesOf(p.tfs, p.length), new Uint8Array((p.length * 2) % 4));
    }
    return Buffer.concat(parts);
  }

  /** An index from serialize()'s bytes, or undefined when they are not for `generation`. */
  static load(bytes: Uint8Array, generation: number): LexicalIndex | undefined {
    if (bytes.byteLength < 48) return undefined;
    // Copy once into an aligned buffer: typed-array views need 4-byte alignment.
    const buf = new Uint8Array(bytes.byteLength);
    buf.set(bytes);
    const head = new Float64Array(buf.buffer, 0, 6);
    if (head[0] !== LEXICAL_FORMAT || head[1] !== generation) return undefined;
    const ix = new LexicalIndex();
    const slots = head[4]!;
    ix.#ensure(slots);
    let at = 48;
    if (48 + slots * 8 > buf.byteLength) return undefined;
    ix.#docLen.set(new Float32Array(buf.buffer, at, slots));
    at += slots * 4;
    ix.#idOf.set(new Int32Array(buf.buffer, at, slots));
    at += slots * 4;
    ix.#nextSlot = slots;
    // serialize() compacts first: a slot of length 0 holds no postings and is free.
    for (let slot = 0; slot < slots; slot++) {
      if (ix.#docLen[slot]! > 0) ix.#slotOf.set(ix.#idOf[slot]!, slot);
      else ix.#free.push(slot);
    }
    ix.#live = head[2]!;
    ix.#totalLen = head[3]!;
    const dec = new TextDecoder();
    for (let t = 0; t < head[5]!; t++) {
      const [nameLen = 0, len = 0] = new Uint32Array(buf.buffer, at, 2);
      at += 8;
      const term = dec.decode(buf.subarray(at, at + nameLen));
      at += nameLen + ((4 - (nameLen % 4)) % 4);
      if (at + len * 6 > buf.byteLength) return undefined;
      const p = new Postings();
      // Views into the one buffer, not a copy per term: tldr-all has ~300k terms, and 600k
      // small ArrayBuffers cost ~80 MB more RSS than their bytes. A view is full (length ==
      // capacity), so the first push() moves that term to its own array.
      p.ids = new Int32Array(buf.buffer, at, len);
      at += len * 4;
      p.tfs = new Uint16Array(buf.buffer, at, len);
      at += len * 2 + ((len * 2) % 4);
      p.length = len;
      ix.#terms.set(term, p);
    }
    if (at !== buf.byteLength) return undefined;
    return ix;
  }

  /** Ids of the chunks held, in increasing order. */
  *ids(): Generator<number> {
    yield* [...this.#slotOf.keys()].sort((a, b) => a - b);
  }

  /**
   * The BM25 IDF of a term (a token, as lexicalTokens gives), a term found nowhere counted as
   * found once: how much a query word weighs when it is matched some other way (late.ts).
   */
  idf(term: string): number {
    const N = Math.max(1, this.#live);
    const df = Math.max(1, this.#terms.get(term)?.length ?? 0);
    return Math.log(1 + (N - df + 0.5) / (df + 0.5));
  }

  /** Chunks holding every one of `terms` (already tokens), optionally only among `allow`. */
  idsWithAll(terms: readonly string[], allow?: ReadonlySet<number>): Set<number> {
    const lists: Postings[] = [];
    for (const t of new Set(terms)) {
      const p = this.#terms.get(t);
      if (!p) return new Set();
      lists.push(p);
    }
    if (lists.length === 0) return new Set();
    lists.sort((a, b) => a.length - b.length);
    // Intersected as slots, answered as chunk ids.
    let slots = new Set<number>();
    const first = lists[0]!;
    const idOf = this.#idOf;
    for (let i = 0; i < first.length; i++) {
      const slot = first.ids[i]!;
      if (this.#docLen[slot] !== 0 && (!allow || allow.has(idOf[slot]!))) slots.add(slot);
    }
    for (const p of lists.slice(1)) {
      const next = new Set<number>();
      for (let i = 0; i < p.length && next.size < slots.size; i++) if (slots.has(p.ids[i]!)) next.add(p.ids[i]!);
      slots = next;
      if (slots.size === 0) break;
    }
    const ids = new Set<number>();
    for (const slot of slots) ids.add(idOf[slot]!);
    return ids;
  }
}

/**
 * The n highest of the first `count` slots, best first (ties by lower chunk id; hits carry the
 * slot, which the caller turns into the id): a bounded min-heap in
 * typed arrays, so a query touching tens of thousands of chunks allocates nothing per chunk.
 */
function topN(ids: Int32Array, count: number, acc: Float64Array, idOf: Int32Array, n: number): LexicalHit[] {
  const k = Math.min(n, count);
  if (k <= 0) return [];
  const hid = new Int32Array(k);
  const hs = new Float64Array(k);
  // Root = the worst kept entry: lower score, or the same score and a higher id.
  const worse = (i: number, j: number): boolean =>
    hs[i]! < hs[j]! || (hs[i] === hs[j] && idOf[hid[i]!]! > idOf[hid[j]!]!);
  const swap = (i: number, j: number): void => {
    const id = hid[i]!;
    hid[i] = hid[j]!;
    hid[j] = id;
    const sc = hs[i]!;
    hs[i] = hs[j]!;
    hs[j] = sc;
  };
  let size = 0;
  for (let c = 0; c < count; c++) {
    const id = ids[c]!;
    const score = acc[id]!;
    if (size < k) {
      hid[size] = id;
      hs[size] = score;
      for (let i = size++; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!worse(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
      continue;
    }
    if (score < hs[0]! || (score === hs[0] && idOf[id]! > idOf[hid[0]!]!)) continue;
    hid[0] = id;
    hs[0] = score;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(l, m)) m = l;
      if (r < size && worse(r, m)) m = r;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
  }
  const out: LexicalHit[] = [];
  for (let i = 0; i < size; i++) out.push({ id: hid[i]!, score: hs[i]!, rarity: 0 });
  return out.sort((a, b) => b.score - a.score || idOf[a.id]! - idOf[b.id]!);
}
