/** A note parsed into metadata and passages. Pure data, produced by chunkNote(). */
export interface ParsedNote {
  /** Front matter `title`, else the first heading, else the file name without extension. */
  title: string;
  /** Front matter tags plus inline #tags, lower-cased, without '#', de-duplicated, sorted. */
  tags: string[];
  aliases: string[];
  /** The parsed front matter object ({} when absent or unparsable). */
  frontMatter: Record<string, unknown>;
  /** Non-null when front matter was present but could not be parsed. */
  frontMatterError: string | null;
  chunks: Chunk[];
  /** True when the note produced more than `maxChunks` chunks and the rest was left out. */
  truncated: boolean;
}

export interface Chunk {
  /** 0-based position within the note. */
  seq: number;
  /** Heading trail from the top, e.g. ["Install", "macOS"]; [] before the first heading. */
  headings: string[];
  /** 1-based inclusive line range in the note's source. */
  startLine: number;
  endLine: number;
  /** Passage text as it appears in the note (what search shows and BM25 indexes). */
  text: string;
  /**
   * What the embedder sees: title and heading trail for context, then the passage's prose.
   * Code blocks and inline code lines may be left out (they hurt word-vector models).
   */
  embedText: string;
}

export interface ChunkOptions {
  /** Upper bound for one chunk's size in model tokens (approximated when no tokenizer is given). */
  maxTokens: number;
  /** Tokens of overlap carried from the end of one chunk into the next when a section is split. */
  overlapTokens: number;
  /** Optional exact token counter (the embedder's); defaults to an estimate. */
  countTokens?: (text: string) => number;
  /**
   * At most this many chunks per note (default 1000): a 10 MB note stays bounded; the rest of
   * the note is left out and ParsedNote.truncated is set.
   */
  maxChunks?: number;
  /**
   * Keep a prose block ending in ':' together with the code that follows it (the tldr
   * "- what it does:" + `command` pair) so a split never separates them. Default true.
   */
  keepCodeWithLead?: boolean;
  /**
   * A note that would make more than maxChunks chunks gets larger ones instead of losing its
   * end: its sections are first packed together (a heading no longer starts a chunk of its
   * own), then chunks grow up to 16 times maxTokens. The note is parsed once for all of that.
   */
  fitMaxChunks?: boolean;
}
