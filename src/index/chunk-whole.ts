import { chunkNote, extractLinks, type NoteLink } from '../chunk/index.ts';
import type { ChunkOptions, ParsedNote } from '../chunk/types.ts';

/**
 * Chunk a note so that all of it is indexed. The chunk cap grows with the note's size (one
 * chunk per ~400 bytes at most, so a journal with thousands of short sections fits whole), and
 * a note that still overflows is chunked again with larger chunks (each doubling halves the
 * count). Only past that is the rest left out, and the caller reports it.
 */
/** A note's chunks and its links: what the indexer stores of it. */
export function parseWhole(
  text: string,
  fileName: string,
  opts: ChunkOptions,
): { parsed: ParsedNote; links: NoteLink[] } {
  return { parsed: chunkWhole(text, fileName, opts), links: extractLinks(text) };
}

export function chunkWhole(text: string, fileName: string, opts: ChunkOptions): ParsedNote {
  // At most one chunk per two lines (a heading and its line) or per ~400 bytes, whichever allows more.
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  const maxChunks = Math.max(opts.maxChunks ?? 1000, Math.ceil(lines / 2), Math.ceil(text.length / 400));
  let parsed = chunkNote(text, fileName, { ...opts, maxChunks });
  for (let scale = 2; parsed.truncated && scale <= 16; scale *= 2) {
    parsed = chunkNote(text, fileName, {
      ...opts,
      maxChunks,
      maxTokens: opts.maxTokens * scale,
      overlapTokens: opts.overlapTokens * scale,
    });
  }
  return parsed;
}
