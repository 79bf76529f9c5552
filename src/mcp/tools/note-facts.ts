import { extractLinks, type NoteLink, type NoteMeta, parseFrontMatter } from '../../chunk/index.ts';

// What read_note and related_notes derive from a note's whole text, kept for the last few long
// notes by content hash. Paging through an 8 MB note re-read its links on every page (100 ms
// of the main thread each), and so did clients pipelining reads of one note. Keyed by the
// hash of the bytes, an entry is never stale; short notes are cheap to derive and not kept.

const MIN_CACHED_CHARS = 64 * 1024;
const MAX_ENTRIES = 8;

export interface NoteFacts {
  links: readonly NoteLink[];
  meta: NoteMeta;
}

const cache = new Map<string, NoteFacts>();

export function noteFacts(hash: string, text: string): NoteFacts {
  const hit = cache.get(hash);
  if (hit) {
    // Most recently used last.
    cache.delete(hash);
    cache.set(hash, hit);
    return hit;
  }
  const facts: NoteFacts = { links: extractLinks(text), meta: parseFrontMatter(text) };
  if (text.length < MIN_CACHED_CHARS) return facts;
  // A link's strings are slices of the note's text, and V8 keeps the whole text behind a
  // slice: eight cached 4 MB notes held 33 MB for eight links. A copy holds only the links.
  const kept = structuredClone(facts);
  cache.set(hash, kept);
  for (const old of cache.keys()) {
    if (cache.size <= MAX_ENTRIES) break;
    cache.delete(old);
  }
  return kept;
}
