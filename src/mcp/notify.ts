import type { McpServer } from '@modelcontextprotocol/server';
import type { NoteEvent, NotesIndex } from '../index/index.ts';
import { noteUri } from '../notes/index.ts';

/** Somewhere change notifications go: the modern bus, a 2025 session, a stdio connection. */
export interface NotificationSink {
  resourceUpdated(uri: string): void;
  resourcesChanged(): void;
}

/**
 * Turns index events into MCP notifications for every connected lane. Updates are sent per
 * changed note; list changes (adds and removes) are coalesced, so a `git checkout` of a
 * thousand files sends one `list_changed`, not a thousand.
 */
export class NotificationHub {
  #sinks = new Set<NotificationSink>();
  #listTimer: NodeJS.Timeout | undefined;
  #coalesceMs: number;
  #off: () => void;

  constructor(index: NotesIndex, coalesceMs = 200) {
    this.#coalesceMs = coalesceMs;
    const onNote = (e: NoteEvent): void => this.#onNote(e);
    index.on('note', onNote);
    this.#off = () => index.off('note', onNote);
  }

  add(sink: NotificationSink): () => void {
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  #onNote(e: NoteEvent): void {
    const uri = noteUri(e.path);
    for (const s of this.#sinks) safe(() => s.resourceUpdated(uri));
    if (e.type !== 'changed' && !this.#listTimer) {
      this.#listTimer = setTimeout(() => {
        this.#listTimer = undefined;
        for (const s of this.#sinks) safe(() => s.resourcesChanged());
      }, this.#coalesceMs);
      this.#listTimer.unref();
    }
  }

  close(): void {
    this.#off();
    if (this.#listTimer) clearTimeout(this.#listTimer);
    this.#sinks.clear();
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // A sink whose client went away must not stop the others.
  }
}

/**
 * The sink of one 2025-style connection (a legacy HTTP session, a stdio client): updates only
 * for the URIs it subscribed to, list changes always. Sends that fail (the client went away)
 * are dropped: the connection's own close handling cleans up.
 */
export function connectionSink(server: () => McpServer | undefined, subs: ReadonlySet<string>): NotificationSink {
  return {
    resourceUpdated: (uri) => {
      const s = server();
      if (s && subs.has(uri)) void s.server.sendResourceUpdated({ uri }).catch(() => undefined);
    },
    resourcesChanged: () => server()?.sendResourceListChanged(),
  };
}
