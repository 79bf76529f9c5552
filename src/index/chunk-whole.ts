import { chunkNote, extractLinks, type NoteLink } from '../chunk/index.ts';
import type { ChunkOptions, ParsedNote } from '../chunk/types.ts';

/**
 * Chunk a note so that all of it is indexed. The chunk cap grows with the note's size (one
 * chunk per two lines or per ~400 bytes, so a journal with thousands of short sections keeps
 * one chunk per section), up to MAX_CHUNKS_PER_NOTE; a note past the cap gets larger chunks
 * (its sections packed, then chunks up to 16x as large). Only past that is the rest left out,
 * and the caller reports it.
 */
/** A note's chunks and its links: what the indexer stores of it. */
export function parseWhole(
  text: string,
  fileName: string,
  opts: ChunkOptions,
): { parsed: ParsedNote; links: NoteLink[] } {
  return { parsed: chunkWhole(text, fileName, opts), links: extractLinks(text) };
}

/**
 * Every chunk is embedded and stored: 600,000 of them (one note of short sections at the size
 * limit) took 4 minutes and 2.3 GB, and a few such notes ran the heap out. 10,000 is one chunk
 * per ~840 bytes of a note at the 8 MiB limit, so a note of prose keeps its usual chunks.
 */
export const MAX_CHUNKS_PER_NOTE = 10_000;

export function chunkWhole(text: string, fileName: string, opts: ChunkOptions): ParsedNote {
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  const maxChunks = Math.min(
    MAX_CHUNKS_PER_NOTE,
    Math.max(opts.maxChunks ?? 1000, Math.ceil(lines / 2), Math.ceil(text.length / 400)),
  );
  return chunkNote(text, fileName, { ...opts, maxChunks, fitMaxChunks: true });
}
