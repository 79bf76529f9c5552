import { createHash } from 'node:crypto';

/** sha256 hex of a note's bytes (strings are hashed as UTF-8). */
export function contentHash(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}
