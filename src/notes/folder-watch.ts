import {
  type FSWatcher,
  lstatSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  type Stats,
  statSync,
  watch,
} from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

// One fs.watch per folder, none per file. The watcher library this replaces kept a stats
// object and a path for every file it saw (about 68 MB of RSS on tldr-all's 38k notes); a
// folder watch reports every name created, changed, renamed or removed inside that folder,
// which is all the batcher needs: it reads the disk at flush time to learn what is true.
// Folders are watched before they are read, so a name created meanwhile is either read or
// reported, and a new folder is announced (addDir) only once it and everything below it is
// watched: the batcher scans it whole when it flushes, catching what arrived before.

export interface FolderTreeHooks {
  /** Note path of an absolute path under the root; null for the root itself and outside it. */
  rel(abs: string): string | null;
  /** A folder that is never entered (hidden, node_modules, skipDirs). */
  isSkippedDir(rel: string): boolean;
  /** A name whose events are dropped (temp files, hidden non-notes, skipped folders). */
  isIgnored(abs: string): boolean;
  event(kind: 'change' | 'unlink' | 'addDir' | 'unlinkDir', abs: string): void;
  error(err: unknown): void;
  /** The system refused a watch for its limit (code): folders past it are polled every pollMs. */
  limited(code: string, pollMs: number): void;
}

interface Watched {
  abs: string;
  dev: number;
  ino: number;
  w: FSWatcher;
}

/** A folder the system would not watch (its limit of watches reached): read again on a timer. */
interface Polled {
  abs: string;
  /** What was there at the last look: name → 'd' for a folder, else ino:size:mtime:ctime. */
  seen: Map<string, string>;
}

/** Why a watch could not be set: the system's limit, not the folder (ENOSPC is inotify's). */
const LIMIT_CODES = new Set(['ENOSPC', 'EMFILE', 'ENFILE']);
/** Polled folders are read again this often at least, and never more than 1/20 of the time. */
export const POLL_MS = 10_000;

/**
 * Events one inotify instance queues before the kernel drops the rest (Linux; 0 elsewhere).
 * libuv discards the IN_Q_OVERFLOW event that says so, so a full queue is inferred from its size.
 */
function inotifyQueueLimit(): number {
  if (process.platform !== 'linux') return 0;
  try {
    return Number.parseInt(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'), 10) || 0;
  } catch {
    return 0;
  }
}

function lstatOrUndefined(abs: string, follow = false): Stats | undefined {
  try {
    return (follow ? statSync : lstatSync)(abs, { throwIfNoEntry: false });
  } catch {
    return undefined; // unreadable (EACCES) counts as gone: nothing there can be indexed
  }
}

export class FolderTree {
  readonly #root: string;
  readonly #h: FolderTreeHooks;
  /** Watched folders by note path ('' for the root). */
  readonly #dirs = new Map<string, Watched>();
  /** Events are handled one at a time, in the order they came: a folder's add awaits readdir. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /**
   * Links to files, by the root-relative path of what they point at: a note that is a link
   * gets no event when its target changes or goes, so the target's events are passed on.
   */
  readonly #links = new Map<string, Set<string>>();
  #realRoot = '';
  /** Events seen in this turn of the event loop, all read from the kernel's queue at once. */
  #burst = 0;
  readonly #queueLimit = inotifyQueueLimit();
  /** Files directly in the root: what to remove if the root itself is replaced. */
  readonly #rootFiles = new Set<string>();
  #rootTimer: NodeJS.Timeout | undefined;
  /** Folders polled instead of watched, by note path. */
  readonly #polled = new Map<string, Polled>();
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;
  readonly #pollMs = POLL_MS;

  constructor(root: string, hooks: FolderTreeHooks) {
    this.#root = root;
    this.#h = hooks;
  }

  /** Watch the root and every folder below it; resolves once all are watched. */
  async start(): Promise<void> {
    this.#realRoot = realpathSync(this.#root);
    await this.#addTree('', this.#root, false);
  }

  /** Folders watched (one descriptor or handle each). */
  get size(): number {
    return this.#dirs.size;
  }

  /** Folders read again on a timer because the system would not watch them. */
  get polled(): number {
    return this.#polled.size;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#rootTimer);
    clearTimeout(this.#pollTimer);
    for (const d of this.#dirs.values()) d.w.close();
    this.#dirs.clear();
  }

  #enqueue(fn: () => void | Promise<void>): void {
    this.#queue = this.#queue.then(fn).catch((err: unknown) => this.#h.error(err));
  }

  #onEvent(dirAbs: string, type: string, name: string | null): void {
    if (this.#closed) return;
    if (this.#queueLimit > 0) {
      if (this.#burst++ === 0) setImmediate(() => (this.#burst = 0));
      // A queue read full (the loop was busy during a burst): events past it were dropped.
      if (this.#burst === this.#queueLimit - 16) this.#enqueue(() => this.#rescan());
    }
    // The root's own watch names the root itself when it is moved or deleted (so may a child
    // of the same name: the check is one stat).
    if (dirAbs === this.#root && type === 'rename' && name === basename(this.#root)) {
      this.#enqueue(() => this.#checkRoot());
    }
    if (name === null) {
      // No name (not seen on Linux, macOS or Windows, allowed by the API): read the folder again.
      this.#enqueue(() => this.#addTree(this.#h.rel(dirAbs) ?? '', dirAbs, true));
      return;
    }
    const abs = join(dirAbs, name);
    const rel = this.#h.rel(abs);
    if (rel === null || this.#h.isIgnored(abs)) return;
    this.#enqueue(() => this.#settle(rel, abs, type === 'rename'));
  }

  /** What a name in a watched folder is now: a folder to watch, one gone, or a file. */
  async #settle(rel: string, abs: string, renamed: boolean): Promise<void> {
    if (this.#closed) return;
    const st = lstatOrUndefined(abs);
    const known = this.#dirs.get(rel);
    // Symlinked folders are not followed: lstat sees the link, which is not a directory.
    if (st?.isDirectory()) {
      // A 'change' is its attributes. A 'rename' may be a new folder on the same inode (deleted
      // and made again at once: the file system reuses the number), whose watch is gone.
      if (known && !renamed && known.dev === st.dev && known.ino === st.ino) return;
      const polled = this.#polled.get(rel);
      if (polled && !renamed) return;
      if (known) this.#drop(rel, abs);
      // A polled folder deleted and made again: what it held is gone too (forgotten instead,
      // its notes stayed in the index for good).
      else if (polled) this.#unpoll(rel, polled.abs);
      // A folder where no folder was watched may have replaced a note of the same name
      // (x.md deleted, then a folder x.md made or moved there): that note is gone.
      else this.#h.event('unlink', abs);
      if (!this.#h.isSkippedDir(rel)) await this.#addTree(rel, abs, true);
      return;
    }
    if (known) this.#drop(rel, abs);
    else if (this.#polled.has(rel)) this.#unpoll(rel, abs);
    if (!rel.includes('/')) {
      if (st) this.#rootFiles.add(abs);
      else this.#rootFiles.delete(abs);
    }
    if (st?.isSymbolicLink()) this.#noteLink(abs);
    this.#h.event(st ? 'change' : 'unlink', abs);
    this.#linksTo(rel, false);
  }

  #noteLink(abs: string): void {
    let target: string;
    try {
      target = realpathSync(abs);
    } catch {
      try {
        target = resolve(dirname(abs), readlinkSync(abs)); // dangling: where it will point once made
      } catch {
        return;
      }
    }
    const r = relative(isAbsolute(target) && target.startsWith(this.#realRoot) ? this.#realRoot : this.#root, target);
    if (r === '' || r.startsWith('..') || isAbsolute(r)) return; // outside the root: never a note
    const key = sep === '/' ? r : r.split(sep).join('/');
    const set = this.#links.get(key) ?? new Set<string>();
    set.add(abs);
    this.#links.set(key, set);
  }

  /** Pass a change of `rel` (or, with `under`, of anything below it) on to the links to it. */
  #linksTo(rel: string, under: boolean): void {
    if (this.#links.size === 0) return;
    for (const [target, links] of this.#links) {
      if (target !== rel && !(under && target.startsWith(`${rel}/`))) continue;
      for (const l of links) if (!this.#h.isIgnored(l)) this.#h.event('change', l);
    }
  }

  /**
   * The notes folder moved away or deleted (and perhaps made again): every watch follows the old
   * folder, so all are dropped with what they held, and the folder at the root path is read anew.
   */
  async #checkRoot(): Promise<void> {
    if (this.#closed) return;
    this.#rootTimer = undefined;
    const was = this.#dirs.get('');
    const st = lstatOrUndefined(this.#root, true);
    if (was && st?.isDirectory() && st.dev === was.dev && st.ino === was.ino) return;
    for (const [rel, d] of [...this.#dirs]) if (rel !== '' && !rel.includes('/')) this.#drop(rel, d.abs);
    for (const d of this.#dirs.values()) d.w.close();
    this.#dirs.clear();
    for (const [rel, p] of this.#polled) if (rel !== '' && !rel.includes('/')) this.#h.event('unlinkDir', p.abs);
    this.#polled.clear();
    for (const abs of this.#rootFiles) this.#h.event('unlink', abs);
    this.#rootFiles.clear();
    if (!st?.isDirectory()) {
      // Gone for now: look again each second (a restore or a sync tool may make it again).
      this.#rootTimer = setTimeout(() => this.#enqueue(() => this.#checkRoot()), 1000);
      return;
    }
    await this.#rescan();
  }

  /** After events were lost: watch what is unwatched, and have every top-level entry read again. */
  async #rescan(): Promise<void> {
    this.#h.error(new Error('the file event queue overflowed: reading the notes folder again'));
    await this.#addTree('', this.#root, false);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(this.#root, { withFileTypes: true });
    } catch {
      return;
    }
    const seen = new Set<string>();
    for (const e of entries) {
      const abs = join(this.#root, e.name);
      const rel = this.#h.rel(abs);
      if (rel === null || this.#h.isIgnored(abs)) continue;
      seen.add(rel);
      if (this.#dirs.has(rel)) {
        // The indexer drops what is under a removed folder and not found again by the scan.
        this.#h.event('unlinkDir', abs);
        this.#h.event('addDir', abs);
      } else this.#h.event('change', abs);
    }
    for (const [rel, d] of [...this.#dirs])
      if (rel !== '' && !rel.includes('/') && !seen.has(rel)) this.#drop(rel, d.abs);
    for (const abs of [...this.#rootFiles]) {
      const rel = this.#h.rel(abs);
      if (rel !== null && !seen.has(rel)) {
        this.#rootFiles.delete(abs);
        this.#h.event('unlink', abs);
      }
    }
  }

  /** Watch `abs` and the folders below it, breadth first; then announce it when `announce`. */
  async #addTree(rel: string, abs: string, announce: boolean): Promise<void> {
    const level = [{ rel, abs }];
    while (level.length > 0 && !this.#closed) {
      const d = level.shift()!;
      const how = this.#watch(d.rel, d.abs);
      if (how === 'gone') continue;
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(d.abs, { withFileTypes: true });
      } catch {
        continue; // gone or unreadable meanwhile: its parent's watch reports what happened
      }
      // What the poll compares with: a folder polled from the first look misses nothing after it.
      if (how === 'polled') await this.#look(d.rel, d.abs, entries);
      for (const e of entries) {
        if (e.isSymbolicLink()) this.#noteLink(join(d.abs, e.name));
        if (d.rel === '' && !e.isDirectory()) this.#rootFiles.add(join(d.abs, e.name));
        if (!e.isDirectory()) continue;
        const childAbs = join(d.abs, e.name);
        const childRel = this.#h.rel(childAbs);
        if (childRel !== null && !this.#h.isSkippedDir(childRel)) level.push({ rel: childRel, abs: childAbs });
      }
    }
    if (announce && !this.#closed) {
      this.#h.event('addDir', abs);
      this.#linksTo(rel, true);
    }
  }

  /**
   * Watch a folder: 'watched'; 'polled' when the system's limit of watches is reached (the
   * folder is read again every pollMs instead, and watched once the limit allows); 'gone'
   * when it is not a folder (any more) or cannot be read.
   */
  #watch(rel: string, abs: string): 'watched' | 'polled' | 'gone' {
    if (this.#dirs.has(rel)) return 'watched';
    let w: FSWatcher;
    try {
      w = watch(abs, { encoding: 'utf8' }, (type, name) => this.#onEvent(abs, type, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && LIMIT_CODES.has(code)) return this.#poll(rel, abs, code);
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES' && code !== 'EPERM') this.#h.error(err);
      return 'gone';
    }
    // Checked after the watch is set: a folder replaced by a file in between is not kept. The
    // notes folder itself may be a link to a folder; links below it are not followed.
    const st = lstatOrUndefined(abs, rel === '');
    if (!st?.isDirectory()) {
      w.close();
      return 'gone';
    }
    w.on('error', (err: unknown) => {
      // A watched folder that vanished may report an error; its parent reports the removal.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') this.#h.error(err);
      if (this.#dirs.get(rel)?.w === w) this.#dirs.delete(rel);
      w.close();
    });
    this.#dirs.set(rel, { abs, dev: st.dev, ino: st.ino, w });
    return 'watched';
  }

  #poll(rel: string, abs: string, code: string): 'polled' | 'gone' {
    if (!lstatOrUndefined(abs, rel === '')?.isDirectory()) return 'gone';
    if (!this.#polled.has(rel)) {
      // Once per run of refusals, not once per folder: 60 folders made 60 stack traces.
      if (this.#polled.size === 0) this.#h.limited(code, this.#pollMs);
      this.#polled.set(rel, { abs, seen: new Map() });
    }
    this.#schedulePoll(this.#pollMs);
    return 'polled';
  }

  #schedulePoll(ms: number): void {
    if (this.#pollTimer !== undefined || this.#polling || this.#closed || this.#polled.size === 0) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#polling = true;
      this.#enqueue(async () => {
        const t0 = performance.now();
        try {
          await this.#pollAll();
        } finally {
          this.#polling = false;
        }
        // Never more than 1/20 of the time spent polling, however many folders.
        this.#schedulePoll(Math.max(this.#pollMs, 20 * (performance.now() - t0)));
      });
    }, ms);
    this.#pollTimer.unref();
  }

  /** Read each polled folder again: watch it if the limit now allows, report what changed. */
  async #pollAll(): Promise<void> {
    for (const [rel, p] of [...this.#polled]) {
      if (this.#closed) return;
      if (this.#polled.get(rel) !== p) continue;
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(p.abs, { withFileTypes: true });
      } catch {
        this.#unpoll(rel, p.abs);
        continue;
      }
      // Watched from now on when the system allows it; this last look covers the time before.
      const how = this.#watch(rel, p.abs);
      if (how === 'gone') {
        this.#unpoll(rel, p.abs);
        continue;
      }
      if (how === 'watched') this.#polled.delete(rel);
      await this.#look(rel, p.abs, entries, p.seen);
    }
  }

  /**
   * Record what a polled folder holds; with `before`, report each name that changed since
   * (new, changed or gone files; new folders are watched or polled in turn).
   */
  async #look(
    rel: string,
    abs: string,
    entries: import('node:fs').Dirent[],
    before?: Map<string, string>,
  ): Promise<void> {
    const now = new Map<string, string>();
    await Promise.all(
      entries.map(async (e) => {
        if (e.isDirectory()) return now.set(e.name, 'd');
        const st = await stat(join(abs, e.name)).catch(() => null);
        // ctime too: an edit of the same length whose mtime was set back (cp -p, rsync -a).
        now.set(e.name, st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : 'x');
      }),
    );
    const p = this.#polled.get(rel);
    if (p?.abs === abs) p.seen = now;
    if (!before) return;
    for (const name of new Set([...before.keys(), ...now.keys()])) {
      const was = before.get(name);
      const is = now.get(name);
      if (was === is) continue;
      const childAbs = join(abs, name);
      const childRel = this.#h.rel(childAbs);
      if (childRel === null || this.#h.isIgnored(childAbs)) continue;
      if (was === 'd' && this.#polled.has(childRel)) this.#unpoll(childRel, childAbs);
      if (was === 'd' && is === 'd') continue;
      await this.#settle(childRel, childAbs, true);
    }
  }

  /** A polled folder is gone: forget it and what was polled below it, and say so. */
  #unpoll(rel: string, abs: string): void {
    const prefix = `${rel}/`;
    for (const k of [...this.#polled.keys()]) if (k === rel || k.startsWith(prefix)) this.#polled.delete(k);
    this.#drop(rel, abs);
  }

  /** A watched folder is gone (or replaced): stop watching it and everything below it. */
  #drop(rel: string, abs: string): void {
    const prefix = `${rel}/`;
    for (const [k, d] of this.#dirs) {
      if (k === rel || k.startsWith(prefix)) {
        d.w.close();
        this.#dirs.delete(k);
      }
    }
    this.#h.event('unlinkDir', abs);
    this.#linksTo(rel, true);
  }
}
