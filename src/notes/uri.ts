import { checkNotePathSyntax } from './paths.ts';

const SCHEME = 'note://';

function encodeSegment(seg: string): string {
  // encodeURIComponent leaves !'()* alone; RFC 3986 unreserved is only A-Z a-z 0-9 - . _ ~
  return encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `note://` + the note's path with every segment percent-encoded except RFC 3986 unreserved
 * characters ('/' separates segments), so `%`, `[`, `#`, `?`, spaces and non-ASCII are safe.
 */
export function noteUri(rel: string): string {
  return SCHEME + rel.normalize('NFC').split('/').map(encodeSegment).join('/');
}

/**
 * The note path a `note://` URI names, decoded exactly once and held to the same checks as a
 * plain path (so `note://%2e%2e/x.md` is refused); null when it is not a valid note URI.
 */
export function parseNoteUri(uri: string): string | null {
  if (typeof uri !== 'string' || uri.slice(0, SCHEME.length).toLowerCase() !== SCHEME) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(uri.slice(SCHEME.length));
  } catch {
    return null;
  }
  const check = checkNotePathSyntax(decoded);
  return check.ok ? check.rel : null;
}
