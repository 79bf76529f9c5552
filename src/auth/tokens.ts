import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { describeIssues, NotesError } from '../errors.ts';
import { readStateFileSync, writeFileAtomicSync } from '../fs-atomic.ts';

// Bearer tokens are stored as SHA-256 digests only. The file is re-read whenever it changes
// on disk, so `notes-mcp token revoke` takes effect on the next request of a running daemon.

export type Scope = 'read' | 'write';

const TokenRecord = z.object({
  id: z.string().regex(/^[a-z0-9]{8}$/),
  name: z.string(),
  scope: z.enum(['read', 'write']),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;
const TokenFile = z.object({ version: z.literal(1), tokens: z.array(TokenRecord) });

export interface TokenIdentity {
  id: string;
  name: string;
  scope: Scope;
}

const PREFIX = 'nmcp_';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(file, text, 0o600);
}

export class TokenStore {
  readonly file: string;
  #extra: { digest: Buffer; identity: TokenIdentity } | undefined;
  #cache: { key: string; records: TokenRecord[]; digests: Buffer[] } | undefined;

  readonly #onUnreadable: ((err: NotesError) => void) | undefined;
  #reported: string | undefined;
  #unreadable = false;

  /**
   * `extraToken` (NOTES_MCP_TOKEN) is accepted with write scope in addition to stored tokens.
   * `onUnreadable` hears (once per version of the file) that tokens.json cannot be read: the
   * daemon then refuses stored tokens (401) but keeps serving the extra one, instead of answering
   * every request with a 500.
   */
  constructor(file: string, extraToken?: string, onUnreadable?: (err: NotesError) => void) {
    this.file = file;
    this.#onUnreadable = onUnreadable;
    if (extraToken)
      this.#extra = { digest: digest(extraToken), identity: { id: 'env', name: 'NOTES_MCP_TOKEN', scope: 'write' } };
  }

  #load(): { records: TokenRecord[]; digests: Buffer[] } {
    // Checked on every request so revocation takes effect at once; throwIfNoEntry keeps the
    // common "no token file, NOTES_MCP_TOKEN only" case from building an exception each time.
    const s = statSync(this.file, { throwIfNoEntry: false });
    if (s === undefined) return { records: [], digests: [] };
    const key = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (this.#cache?.key === key) return this.#cache;
    let parsed: z.infer<typeof TokenFile>;
    try {
      const r = TokenFile.safeParse(JSON.parse(readStateFileSync(this.file).toString('utf8')));
      if (!r.success) throw new Error(describeIssues(r.error));
      parsed = r.data;
    } catch (err) {
      throw new NotesError('NOTES_E_STATE_CORRUPT', [this.file, (err as Error).message]);
    }
    this.#cache = { key, records: parsed.tokens, digests: parsed.tokens.map((t) => Buffer.from(t.sha256, 'hex')) };
    return this.#cache;
  }

  /** The stored tokens, or none (reported to onUnreadable) when tokens.json cannot be read. */
  #loadOrNone(): { records: TokenRecord[]; digests: Buffer[] } {
    try {
      const loaded = this.#load();
      this.#unreadable = false;
      return loaded;
    } catch (err) {
      if (!(err instanceof NotesError)) throw err;
      this.#unreadable = true;
      const key = statSync(this.file, { throwIfNoEntry: false })?.mtimeMs.toString() ?? 'gone';
      if (this.#reported !== key) {
        this.#reported = key;
        this.#onUnreadable?.(err);
      }
      return { records: [], digests: [] };
    }
  }

  /**
   * Whether the last look at tokens.json failed: a token verify() refused then may be a good
   * one the server cannot check, which the client must not be told is wrong or revoked.
   */
  unreadable(): boolean {
    return this.#unreadable;
  }

  /** Whether a verified identity is still valid (revoked since: false), for long-lived streams. */
  isLive(id: string): boolean {
    if (id === 'env') return this.#extra !== undefined;
    return this.#loadOrNone().records.some((r) => r.id === id);
  }

  list(): TokenRecord[] {
    return [...this.#load().records];
  }

  /** True when at least one token (stored or extra) can authenticate. */
  hasAny(): boolean {
    return this.#extra !== undefined || this.#load().records.length > 0;
  }

  create(name: string, scope: Scope): { token: string; record: TokenRecord } {
    const token = PREFIX + randomBytes(32).toString('base64url');
    const { records } = this.#load();
    let id: string;
    do
      id = randomBytes(6)
        .toString('base64url')
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')
        .padEnd(8, '0')
        .slice(0, 8);
    while (records.some((r) => r.id === id));
    const record: TokenRecord = {
      id,
      name,
      scope,
      sha256: digest(token).toString('hex'),
      createdAt: new Date().toISOString(),
    };
    writeAtomic(this.file, `${JSON.stringify({ version: 1, tokens: [...records, record] }, null, 2)}\n`);
    this.#cache = undefined;
    return { token, record };
  }

  revoke(idOrName: string): TokenRecord {
    const { records } = this.#load();
    const hit = records.find((r) => r.id === idOrName) ?? records.find((r) => r.name === idOrName);
    if (!hit) throw new NotesError('NOTES_E_TOKEN_NOT_FOUND', [idOrName]);
    writeAtomic(this.file, `${JSON.stringify({ version: 1, tokens: records.filter((r) => r !== hit) }, null, 2)}\n`);
    this.#cache = undefined;
    return hit;
  }

  /**
   * The identity of a presented token, or undefined. Every stored digest is compared with
   * timingSafeEqual (equal lengths: both are SHA-256), so timing does not reveal which matched.
   */
  verify(token: string): TokenIdentity | undefined {
    const d = digest(token);
    let found: TokenIdentity | undefined;
    if (this.#extra && timingSafeEqual(d, this.#extra.digest)) found = this.#extra.identity;
    const { records, digests } = this.#loadOrNone();
    for (let i = 0; i < records.length; i++) {
      if (timingSafeEqual(d, digests[i]!) && !found) {
        const r = records[i]!;
        found = { id: r.id, name: r.name, scope: r.scope };
      }
    }
    return found;
  }
}
