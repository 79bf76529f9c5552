export { chunkNote, DEFAULT_CHUNK_OPTIONS } from './chunker.ts';
export { type NoteMeta, parseFrontMatter } from './front-matter.ts';
export { estimateTokens } from './tokens.ts';
export type { Chunk, ChunkOptions, ParsedNote } from './types.ts';
export { indexText } from './normalize.ts';
export {
  extractFileLinks,
  extractLinks,
  linkKey,
  MAX_LINKS_PER_NOTE,
  nameKeyOfPath,
  type NoteLink,
  relativeHref,
  resolveRelativeTarget,
} from './links.ts';
