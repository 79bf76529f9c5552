import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../log.ts';
import { createNoteFilter, type NoteFilter, type ScanOptions } from './filter.ts';
import { FolderTree } from './folder-watch.ts';
import { mapLimit } from './map-limit.ts';
import { isInside, nfc, reachedWithoutFolderLinks } from './paths.ts';
import { scanFolder } from './scan.ts';
import type { ChangeBatch } from './types.ts';

export interface WatchOptions extends ScanOptions {
  /** Quiet time before a batch is delivered (default 200 ms). */
  debounceMs?: number;
  /** Longest a change waits while events keep coming (default 1000 ms). */
  maxWaitMs?: number;
  /**
   * Receives each batch; never called again before the previous call settles. Apply
   * removedDirs first, then removed, then upserted: a folder deleted and re-created in one
   * batch lists the old folder in removedDirs and its new notes in upserted.
   */
  onBatch: (batch: ChangeBatch) => void | Promise<void>;
  log?: Logger;
}

export interface NotesWatcher {
  /** Stop watching; waits for a batch in progress, drops changes not yet delivered. */
  close(): Promise<void>;
  /** Folders watched, and those read again on a timer because the system would not watch them. */
  folders(): { watched: number; polled: number };
}

type Change = 'upsert' | 'remove';

class Batcher {
  readonly #root: string;
  readonly #filter: NoteFilter;
  readonly #opts: WatchOptions;
  readonly #debounceMs: number;
  readonly #maxWaitMs: number;
  /** Last event per note path, with the path as the disk spells it. */
  #changes = new Map<string, { change: Change; abs: string }>();
  #addedDirs = new Map<string, string>();
  #removedDirs = new Set<string>();
  #firstAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(root: string, filter: NoteFilter, opts: WatchOptions) {
    this.#root = root;
    this.#filter = filter;
    this.#opts = opts;
    this.#debounceMs = Math.max(0, opts.debounceMs ?? 200);
    this.#maxWaitMs = Math.max(this.#debounceMs, opts.maxWaitMs ?? 1000);
  }

  /** Note path of an absolute path under the root; null for the root and outside it. */
  rel(abs: string): string | null {
    const r = relative(this.#root, abs);
    if (r === '' || r.startsWith(`..${sep}`) || r === '..' || isAbsolute(r)) return null;
    return nfc(sep === '/' ? r : r.split(sep).join('/'));
  }

  /** The watcher's ignore hook: hidden names (our temp files too), node_modules, skipDirs. */
  ignored(abs: string): boolean {
    const rel = this.rel(abs);
    return rel !== null && this.#filter.isIgnored(rel);
  }

  isSkippedDir(rel: string): boolean {
    return this.#filter.isSkippedDir(rel);
  }

  #pending(): boolean {
    return this.#changes.size > 0 || this.#addedDirs.size > 0 || this.#removedDirs.size > 0;
  }

  event(event: string, abs: string): void {
    if (this.#closed) return;
    const rel = this.rel(abs);
    if (rel === null) return;
    switch (event) {
      case 'add':
      case 'change':
        if (this.#isNoteEvent(rel)) this.#changes.set(rel, { change: 'upsert', abs });
        break;
      case 'unlink':
        if (this.#isNoteEvent(rel)) this.#changes.set(rel, { change: 'remove', abs });
        break;
      case 'addDir':
        this.#addedDirs.set(rel, abs);
        break;
      case 'unlinkDir': {
        this.#removedDirs.add(rel);
        const prefix = `${rel}/`;
        for (const k of this.#changes.keys()) if (k.startsWith(prefix)) this.#changes.delete(k);
        for (const k of this.#addedDirs.keys()) if (k === rel || k.startsWith(prefix)) this.#addedDirs.delete(k);
        break;
      }
      default:
        return;
    }
    this.#schedule();
  }

  #isNoteEvent(rel: string): boolean {
    const slash = rel.lastIndexOf('/');
    return this.#filter.isNote(rel) && (slash < 0 || !this.#filter.isSkippedDir(rel.slice(0, slash)));
  }

  #schedule(): void {
    if (!this.#pending() || this.#closed) return;
    const now = Date.now();
    if (this.#timer === undefined) this.#firstAt = now;
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstAt + this.#maxWaitMs - now));
    this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#closed || !this.#pending()) return;
    // One onBatch at a time: what arrives meanwhile waits and goes out when it settles.
    if (this.#running) return;
    const changes = this.#changes;
    const addedDirs = this.#addedDirs;
    const removedDirs = this.#removedDirs;
    this.#changes = new Map();
    this.#addedDirs = new Map();
    this.#removedDirs = new Set();
    this.#running = this.#deliver(changes, addedDirs, removedDirs).finally(() => {
      this.#running = undefined;
      if (this.#pending() && this.#timer === undefined) this.#flush();
    });
  }

  async #deliver(
    changes: Map<string, { change: Change; abs: string }>,
    addedDirs: Map<string, string>,
    removedDirs: Set<string>,
  ): Promise<void> {
    try {
      const batch = await this.#settle(changes, addedDirs, removedDirs);
      if (this.#closed) return;
      if (batch.upserted.length + batch.removed.length + batch.removedDirs.length === 0) return;
      this.#opts.log?.debug(
        { upserted: batch.upserted.length, removed: batch.removed.length, removed_dirs: batch.removedDirs.length },
        'notes changed',
      );
      await this.#opts.onBatch(batch);
    } catch (err) {
      this.#opts.log?.error({ err }, 'note change batch failed');
    }
  }

  /**
   * Events say what happened in some order; the disk says what is true now. Each path ends up
   * upserted when it is a note inside the root at flush time, and removed otherwise.
   */
  async #settle(
    changes: Map<string, { change: Change; abs: string }>,
    addedDirs: Map<string, string>,
    removedDirs: Set<string>,
  ): Promise<ChangeBatch> {
    const realRoot = await realpath(this.#root);
    const candidates = new Map<string, string>();
    for (const [rel, c] of changes) candidates.set(rel, c.abs);
    // New folders (created, moved in, or a removed one that is back) are read whole: the
    // events for files inside them may have been coalesced away.
    const folders = [...addedDirs];
    for (const rel of removedDirs) folders.push([rel, join(this.#root, rel)]);
    for (const [rel, abs] of folders) {
      for (const n of await scanFolder(this.#root, { abs, rel }, this.#filter)) candidates.set(n.path, n.absPath);
    }
    const upserted: string[] = [];
    const removed: string[] = [];
    const under = (rel: string) => {
      for (const d of removedDirs) if (rel.startsWith(`${d}/`)) return true;
      return false;
    };
    // A folder's check is shared by its notes, and at most 32 checks are in flight: 20,000
    // notes copied into one folder made 60,000 file requests at once (374 ms of main thread
    // to issue them, then every other file operation of the daemon queued behind them).
    const folderChecks = new Map<string, Promise<boolean>>();
    await mapLimit([...candidates], 32, async ([rel, abs]) => {
      if (await this.#isNoteNow(realRoot, abs, folderChecks)) upserted.push(rel);
      else if (!under(rel)) removed.push(rel);
    });
    return { upserted: upserted.sort(), removed: removed.sort(), removedDirs: [...removedDirs].sort() };
  }

  /**
   * A regular file (or a link to one inside the root) reached without passing through a
   * symlinked folder. A file that is not a link is where its folder's real path says, so only
   * links need their own realpath.
   */
  async #isNoteNow(realRoot: string, abs: string, folderChecks: Map<string, Promise<boolean>>): Promise<boolean> {
    try {
      let st = await lstat(abs);
      if (st.isSymbolicLink()) {
        const [real, target] = await Promise.all([realpath(abs), stat(abs)]);
        if (!isInside(realRoot, real)) return false;
        st = target;
      }
      if (!st.isFile()) return false;
      const dir = dirname(abs);
      let reached = folderChecks.get(dir);
      if (!reached) {
        reached = reachedWithoutFolderLinks(this.#root, realRoot, abs).catch(() => false);
        folderChecks.set(dir, reached);
      }
      return await reached;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

/**
 * Watch the notes folder and deliver debounced batches of note changes: at most one batch
 * per `debounceMs` of quiet, and no change waits longer than `maxWaitMs` while events keep
 * coming (plus the time a previous batch takes). Hidden files and folders (writeNote's temp
 * files included), node_modules, skipDirs and files that are not notes are ignored.
 * Resolves once the watcher is ready.
 */
export async function watchNotes(root: string, opts: WatchOptions): Promise<NotesWatcher> {
  const abs = resolve(root);
  const filter = await createNoteFilter(abs, opts);
  const batcher = new Batcher(abs, filter, opts);
  const tree = new FolderTree(abs, {
    rel: (p) => batcher.rel(p),
    isSkippedDir: (rel) => batcher.isSkippedDir(rel),
    isIgnored: (p) => batcher.ignored(p),
    event: (kind, p) => batcher.event(kind, p),
    error: (err) => opts.log?.warn({ err }, 'note watcher error'),
    limited: (code, pollMs) =>
      opts.log?.warn(
        { code, poll_s: pollMs / 1000 },
        "the system's limit of file watches is reached: folders past it are read again on a timer (see doctor)",
      ),
  });
  await tree.start();
  return {
    async close() {
      tree.close();
      await batcher.close();
    },
    folders: () => ({ watched: tree.size, polled: tree.polled }),
  };
}
