import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { fileKind, fsyncPathAsync, readStateFile, writeFileAtomic } from '../fs-atomic.ts';
import { NotesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { contentHash } from '../notes/index.ts';
import { withFileLock } from './lock.ts';
import { MovePlans } from './move-plan.ts';

// Every change notes-mcp makes to a note is kept here before it happens: the text before and
// after, content-addressed (blobs/<2>/<sha256>: a version already kept costs nothing), and an
// append-only journal line saying who, when, which tool and the two hashes. A journal line is
// written before the note is replaced, so a crash in between leaves the old text recoverable;
// a change that then fails gets an "abort" line and is not listed.
//
// <state>/history/<notes folder>/
//   journal.jsonl   one JSON object per line
//   blobs/ab/ab…    note versions by sha256 (the hash read_note reports)
//   trash/<id>.md   notes delete_note moved away
//   lock            held while appending or pruning

export type HistoryTool = 'write_note' | 'edit_note' | 'move_note' | 'delete_note' | 'restore_note';

/** Who made a change: the token over HTTP, or the local transport. */
export interface Who {
  transport: 'http' | 'stdio' | 'cli';
  tokenId?: string | undefined;
  tokenName?: string | undefined;
  /** The OS user, for changes made on the command line. */
  user?: string | undefined;
}

export interface HistoryEntry {
  id: string;
  /** ISO 8601 time of the change. */
  at: string;
  tool: HistoryTool;
  path: string;
  /** Where a move put the note. */
  to?: string | undefined;
  /** sha256 of the note before (null: it did not exist) and after (null: deleted). */
  before: string | null;
  after: string | null;
  who: Who;
  /** Name of the file in trash/ holding a deleted note. */
  trash?: string | undefined;
  /** The change this one followed from: a link rewrite names the move that caused it. */
  call?: string | undefined;
}

export interface ChangeInput {
  id?: string;
  tool: HistoryTool;
  path: string;
  to?: string | undefined;
  before: Uint8Array | null;
  after: Uint8Array | null;
  who: Who;
  trash?: string | undefined;
  call?: string | undefined;
}

export interface PruneSummary {
  entries: number;
  blobs: number;
  trash: number;
  keptBytes: number;
}

const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const EntryLine = z.object({
  v: z.literal(1),
  id: z.string().min(1).max(64),
  at: z.string(),
  tool: z.enum(['write_note', 'edit_note', 'move_note', 'delete_note', 'restore_note']),
  path: z.string().min(1),
  to: z.string().min(1).optional(),
  before: Hash.nullable(),
  after: Hash.nullable(),
  who: z.object({
    transport: z.enum(['http', 'stdio', 'cli']),
    token_id: z.string().optional(),
    token_name: z.string().optional(),
    user: z.string().optional(),
  }),
  trash: z
    .string()
    .regex(/^[a-z0-9-]+\.md$/)
    .optional(),
  call: z.string().min(1).max(64).optional(),
});
const AbortLine = z.object({ v: z.literal(1), abort: z.string().min(1) });

const DAY_MS = 86_400_000;
/** A process prunes at its first change and then at most this often. */
const PRUNE_EVERY_MS = 6 * 3_600_000;

function toLine(e: HistoryEntry): string {
  const who: Record<string, string> = { transport: e.who.transport };
  if (e.who.tokenId !== undefined) who['token_id'] = e.who.tokenId;
  if (e.who.tokenName !== undefined) who['token_name'] = e.who.tokenName;
  if (e.who.user !== undefined) who['user'] = e.who.user;
  const line: Record<string, unknown> = { v: 1, id: e.id, at: e.at, tool: e.tool, path: e.path };
  if (e.to !== undefined) line['to'] = e.to;
  Object.assign(line, { before: e.before, after: e.after, who });
  if (e.trash !== undefined) line['trash'] = e.trash;
  if (e.call !== undefined) line['call'] = e.call;
  return `${JSON.stringify(line)}\n`;
}

function fromLine(l: z.infer<typeof EntryLine>): HistoryEntry {
  return {
    id: l.id,
    at: l.at,
    tool: l.tool,
    path: l.path,
    to: l.to,
    before: l.before,
    after: l.after,
    who: { transport: l.who.transport, tokenId: l.who.token_id, tokenName: l.who.token_name, user: l.who.user },
    trash: l.trash,
    call: l.call,
  };
}

interface Parsed {
  entries: HistoryEntry[];
  aborted: Set<string>;
}

function parseJournal(text: string, into: Parsed): void {
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      // A line torn by a crash mid-append: what it described never happened.
      continue;
    }
    const e = EntryLine.safeParse(value);
    if (e.success) {
      into.entries.push(fromLine(e.data));
      continue;
    }
    const a = AbortLine.safeParse(value);
    if (a.success) into.aborted.add(a.data.abort);
  }
}

export interface HistoryOptions {
  dir: string;
  maxAgeDays: number;
  maxBytes: number;
  log?: Logger | undefined;
  now?: () => number;
  /** Prune at the first change and every few hours after (default true). */
  autoPrune?: boolean;
}

export class History {
  readonly dir: string;
  readonly trashDir: string;
  /** Link rewrites of moves in flight, finished at start when a crash cut them short. */
  readonly movePlans: MovePlans;
  readonly #journal: string;
  readonly #blobs: string;
  readonly #lock: string;
  readonly #o: HistoryOptions;
  #cache: { ino: number; size: number; parsed: Parsed } | undefined;
  #lastPrune = 0;
  #pruning: Promise<PruneSummary> | undefined;

  constructor(o: HistoryOptions) {
    this.#o = o;
    this.dir = o.dir;
    this.trashDir = join(o.dir, 'trash');
    this.movePlans = new MovePlans(o.dir);
    this.#journal = join(o.dir, 'journal.jsonl');
    this.#blobs = join(o.dir, 'blobs');
    this.#lock = join(o.dir, 'lock');
  }

  /** The history of config's notes folder; one instance per folder in a process. */
  static forConfig(config: Config, log?: Logger): History {
    let h = instances.get(config.historyDir);
    if (!h) {
      h = new History({
        dir: config.historyDir,
        maxAgeDays: config.historyMaxAgeDays,
        maxBytes: config.historyMaxBytes,
        log,
      });
      instances.set(config.historyDir, h);
    }
    return h;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** A fresh entry id: sortable by time, unique across processes. */
  newId(): string {
    return `${this.#now().toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
  }

  async #ensureDir(dir: string): Promise<void> {
    const made = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (made === undefined) return;
    // A new folder's entry lives in its parent: sync the parents, from the first one created.
    for (let d = dir; ; d = dirname(d)) {
      await fsyncPathAsync(dirname(d));
      if (d === made || dirname(d) === d) break;
    }
  }

  /** Keep one version's bytes (nothing to do when that content is kept already). */
  async #putBlob(data: Uint8Array): Promise<string> {
    const hash = contentHash(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    const dir = join(this.#blobs, hash.slice(0, 2));
    const file = join(dir, hash);
    try {
      await stat(file);
      return hash;
    } catch {
      // not kept yet
    }
    await this.#ensureDir(dir);
    await writeFileAtomic(file, data, { mode: 0o600 });
    return hash;
  }

  async #append(line: string): Promise<void> {
    const fh = await open(
      this.#journal,
      // O_NOFOLLOW: a journal replaced by a link must not have lines appended to its target.
      constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | constants.O_NONBLOCK | constants.O_NOFOLLOW,
      0o600,
    ).catch((err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ELOOP'
          ? 'a symbolic link, not a regular file'
          : err.code === 'EISDIR'
            ? 'a folder, not a regular file'
            : `cannot be opened (${err.code ?? 'error'})`;
      throw new NotesError('NOTES_E_STATE_CORRUPT', [this.#shownJournal(), why]);
    });
    try {
      const st = await fh.stat();
      // A FIFO or device here would swallow the entry (or block once its buffer is full).
      if (!st.isFile())
        throw new NotesError('NOTES_E_STATE_CORRUPT', [
          this.#shownJournal(),
          `${fileKind(st.mode)}, not a regular file`,
        ]);
      let text = line;
      if (st.size > 0) {
        // A crash mid-append leaves a line without its end: start on a fresh one.
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, st.size - 1);
        if (last[0] !== 0x0a) text = `\n${line}`;
      }
      await fh.write(text);
      await fh.sync();
      if (st.size === 0) await fsyncPathAsync(this.dir);
    } finally {
      await fh.close();
    }
  }

  /**
   * Keep a change before it is made: both versions' bytes, then the journal line (durable when
   * this returns). Call it right before replacing the note; if the change then fails, abort().
   */
  async record(c: ChangeInput): Promise<HistoryEntry> {
    // The lock file lives in the folder: it has to exist first.
    await this.#ensureDir(this.dir);
    const entry = await withFileLock(this.#lockFile(), async () => {
      const before = c.before === null ? null : await this.#putBlob(c.before);
      const after = c.after === null ? null : await this.#putBlob(c.after);
      const e: HistoryEntry = {
        id: c.id ?? this.newId(),
        at: new Date(this.#now()).toISOString(),
        tool: c.tool,
        path: c.path,
        to: c.to,
        before,
        after,
        who: c.who,
        trash: c.trash,
        call: c.call,
      };
      await this.#append(toLine(e));
      return e;
    });
    this.#maybePrune();
    return entry;
  }

  /** The change recorded as `id` did not happen (it failed after record()). */
  async abort(id: string): Promise<void> {
    await this.#ensureDir(this.dir);
    await withFileLock(this.#lockFile(), () => this.#append(`${JSON.stringify({ v: 1, abort: id })}\n`));
  }

  #lockFile(): string {
    return this.#lock;
  }

  /** The journal as errors name it: write_note shows them to clients, who get no absolute paths. */
  #shownJournal(): string {
    return `<state>/history/${basename(this.dir)}/journal.jsonl`;
  }

  /** Every change not aborted, oldest first; reads only what was appended since last time. */
  async entries(): Promise<HistoryEntry[]> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.#journal);
    } catch {
      return [];
    }
    const c = this.#cache;
    if (!c || c.ino !== st.ino || st.size < c.size) {
      const parsed: Parsed = { entries: [], aborted: new Set() };
      // Never readFile: on a FIFO left at this path it blocked the start for good.
      const text = await readStateFile(this.#journal, 2 ** 31 - 1).then(
        (b) => b.toString('utf8'),
        (err: NodeJS.ErrnoException) => {
          // The code, not Node's message: that names the absolute path, which reached clients.
          throw new NotesError('NOTES_E_STATE_CORRUPT', [this.#shownJournal(), readFailure(err)]);
        },
      );
      // Only whole lines: one being appended right now is read next time.
      const end = text.lastIndexOf('\n') + 1;
      parseJournal(text.slice(0, end), parsed);
      this.#cache = { ino: st.ino, size: Buffer.byteLength(text.slice(0, end)), parsed };
    } else if (st.size > c.size) {
      const fh = await open(this.#journal, 'r');
      try {
        const buf = Buffer.alloc(st.size - c.size);
        const { bytesRead } = await fh.read(buf, 0, buf.length, c.size);
        const tail = buf.subarray(0, bytesRead);
        const end = tail.lastIndexOf(0x0a) + 1;
        parseJournal(tail.subarray(0, end).toString('utf8'), c.parsed);
        c.size += end;
      } finally {
        await fh.close();
      }
    }
    const { entries, aborted } = this.#cache!.parsed;
    return aborted.size === 0 ? [...entries] : entries.filter((e) => !aborted.has(e.id));
  }

  /**
   * Changes to one note, newest first: those at its path (a move from or to it included), and,
   * past each move that brought it there, those at the path it came from.
   */
  async versions(path: string): Promise<HistoryEntry[]> {
    const entries = await this.entries();
    const names = new Set([path]);
    const out: HistoryEntry[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      const movedHere = e.to !== undefined && names.has(e.to);
      if (!movedHere && !names.has(e.path)) continue;
      out.push(e);
      // Older changes at the name it came from are its own too (a move never overwrites).
      if (movedHere) names.add(e.path);
    }
    return out;
  }

  /** Changes to every note, newest first. */
  async recent(limit: number): Promise<HistoryEntry[]> {
    return (await this.entries()).slice(-limit).reverse();
  }

  /**
   * A kept version's bytes, checked against its hash. A version a journal entry still lists is
   * never pruned on its own, so "missing" and "damaged" mean someone changed the state folder.
   */
  async blob(hash: string): Promise<{ ok: true; data: Buffer } | { ok: false; why: 'missing' | 'damaged' }> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return { ok: false, why: 'missing' };
    let data: Buffer;
    try {
      data = await readStateFile(join(this.#blobs, hash.slice(0, 2), hash), 2 ** 31 - 1);
    } catch {
      return { ok: false, why: 'missing' };
    }
    return contentHash(data) === hash ? { ok: true, data } : { ok: false, why: 'damaged' };
  }

  trashFile(name: string): string {
    return join(this.trashDir, name);
  }

  #maybePrune(): void {
    if (this.#o.autoPrune === false || this.#pruning || this.#now() - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = this.#now();
    this.#pruning = this.prune().finally(() => {
      this.#pruning = undefined;
    });
    this.#pruning.catch((err: unknown) => this.#o.log?.warn({ err }, 'pruning note history failed'));
  }

  /**
   * Drop history past the age bound, then the oldest entries while the versions kept (and the
   * trash) take more than the size bound; remove blobs and trash files nothing refers to.
   */
  async prune(): Promise<PruneSummary> {
    await this.#ensureDir(this.dir);
    return withFileLock(this.#lockFile(), async () => {
      this.#cache = undefined;
      const all = await this.entries();
      const oldest = this.#now() - this.#o.maxAgeDays * DAY_MS;
      const sizes = new Map<string, number>();
      const sizeOf = async (file: string): Promise<number> => {
        if (!sizes.has(file))
          sizes.set(
            file,
            await stat(file).then(
              (s) => s.size,
              () => 0,
            ),
          );
        return sizes.get(file)!;
      };
      const keep: HistoryEntry[] = [];
      const kept = new Set<string>();
      // The newest change (with the link rewrites of its move) stays, whatever its size: a
      // change larger than the bound otherwise lost its own undo at the next prune.
      const last = all.at(-1);
      const newest = last?.call ?? last?.id;
      let bytes = 0;
      for (let i = all.length - 1; i >= 0; i--) {
        const e = all[i]!;
        if (Date.parse(e.at) < oldest) break;
        // The journal line counts too: a move keeps no new version, only its line.
        let add = Buffer.byteLength(toLine(e));
        const files = [e.before, e.after]
          .filter((h): h is string => h !== null)
          .map((h) => join(this.#blobs, h.slice(0, 2), h));
        if (e.trash) files.push(this.trashFile(e.trash));
        for (const f of files) if (!kept.has(f)) add += await sizeOf(f);
        if (bytes + add > this.#o.maxBytes && e.id !== newest && e.call !== newest) break;
        bytes += add;
        for (const f of files) kept.add(f);
        keep.push(e);
      }
      keep.reverse();
      const dropped = all.length - keep.length;
      if (dropped > 0) {
        await writeFileAtomic(this.#journal, Buffer.from(keep.map(toLine).join('')), { mode: 0o600 });
      }
      this.#cache = undefined;
      let blobs = 0;
      for (const sub of await readdir(this.#blobs).catch(() => [] as string[])) {
        const dir = join(this.#blobs, sub);
        for (const name of await readdir(dir).catch(() => [] as string[])) {
          const f = join(dir, name);
          if (kept.has(f)) continue;
          await unlink(f).catch(() => undefined);
          blobs++;
        }
      }
      let trash = 0;
      for (const name of await readdir(this.trashDir).catch(() => [] as string[])) {
        const f = this.trashFile(name);
        if (kept.has(f)) continue;
        await unlink(f).catch(() => undefined);
        trash++;
      }
      // Temp files of lock holders killed before they could remove them.
      for (const name of await readdir(this.dir).catch(() => [] as string[])) {
        if (!name.startsWith('lock.')) continue;
        const f = join(this.dir, name);
        const st = await stat(f).catch(() => undefined);
        if (st && this.#now() - st.mtimeMs > 60_000) await unlink(f).catch(() => undefined);
      }
      if (dropped + blobs + trash > 0)
        this.#o.log?.info({ entries: dropped, blobs, trash, kept_bytes: bytes }, 'note history pruned');
      return { entries: dropped, blobs, trash, keptBytes: bytes };
    });
  }
}

const instances = new Map<string, History>();

const ENTRY_ID = /^[0-9a-z]{9,}-[0-9a-f]{8}$/;

/**
 * One page of entries (newest first) after the cursor `before` (the id of the last entry of
 * the previous page). Ids start with their time but not every entry of one millisecond sorts
 * by id, so the page starts right after that entry; one pruned since falls back to the time.
 * A cursor that is no id of ours is a usage error, never an empty page.
 */
export function pageEntries(
  all: readonly HistoryEntry[],
  before: string | undefined,
  limit: number,
): { page: HistoryEntry[]; next?: string } {
  let from = 0;
  if (before !== undefined) {
    if (!ENTRY_ID.test(before)) throw new NotesError('NOTES_E_USAGE', ['invalid cursor: pass next_cursor unchanged']);
    const at = all.findIndex((e) => e.id === before);
    const time = before.slice(0, before.indexOf('-'));
    from = at >= 0 ? at + 1 : all.findIndex((e) => e.id.slice(0, e.id.indexOf('-')) < time);
    if (from < 0) from = all.length;
  }
  const page = all.slice(from, from + limit);
  const last = page[page.length - 1];
  return from + limit < all.length && last ? { page, next: last.id } : { page };
}

/** How often a change overtaken by another program's save is tried again, and the pause. */
const RACE_RETRIES = 4;
const RACE_PAUSE_MS = 15;

/**
 * Record the changes one tool call makes, and take them back from the journal when the call
 * fails after recording: `hook` goes to writeNote's beforeWrite (or the move and trash
 * equivalents), `run` wraps the call.
 */
export class ChangeRecorder {
  readonly #history: History;
  readonly #tool: HistoryTool;
  readonly #who: Who;
  readonly #begin: () => void;
  readonly recorded: HistoryEntry[] = [];

  constructor(history: History, tool: HistoryTool, who: Who, beginChange: () => void = () => undefined) {
    this.#history = history;
    this.#tool = tool;
    this.#who = who;
    this.#begin = beginChange;
  }

  /** A recorder for a change made beside this one's: if it fails, only its own entries go. */
  another(): ChangeRecorder {
    return new ChangeRecorder(this.#history, this.#tool, this.#who, this.#begin);
  }

  /** Called right before a note is replaced, moved or trashed. */
  async before(c: Omit<ChangeInput, 'tool' | 'who'>): Promise<HistoryEntry> {
    this.#begin();
    const e = await this.#history.record({ ...c, tool: this.#tool, who: this.#who });
    this.recorded.push(e);
    return e;
  }

  /**
   * Run one change; if it throws after its history was recorded, the entry is aborted. A
   * change that another program's save overtook (NOTES_E_NOTE_RACED: nothing was written) is
   * run again from the start, on the text now on disk, a few times after a short pause.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const mark = this.recorded.length;
      try {
        return await fn();
      } catch (err) {
        for (const e of this.recorded.splice(mark)) await this.#history.abort(e.id).catch(() => undefined);
        if (!(err instanceof NotesError && err.code === 'NOTES_E_NOTE_RACED') || attempt >= RACE_RETRIES) throw err;
        await sleep(RACE_PAUSE_MS * (1 + attempt) * (0.5 + Math.random()));
      }
    }
  }
}

/** Why a state file could not be read, without the path Node's message carries. */
function readFailure(err: NodeJS.ErrnoException): string {
  // "EACCES: permission denied, open '/abs/path'" -> "permission denied"
  return err.message.replace(/^[A-Z]+: /, '').replace(/, [a-z]+ '[^']*'$/, '');
}
