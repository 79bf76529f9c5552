import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Config } from '../config/index.ts';
import { NotesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { connectionSink, createMcpServer, MAX_UNREAD_REPLY_BYTES, type McpInstanceContext } from '../mcp/index.ts';
import { CHANGE_GRACE_MS, closeInOrder, openRuntime, type Runtime } from './runtime.ts';
import { StdioWire } from './stdio-transport.ts';

/** The longest message taken (the SDK's own stdio bound); maxBodyBytes when larger. */
const MAX_LINE_BYTES = 10 * 1024 * 1024;

// One local client over stdin/stdout (no auth: the client started us as the user). stdout
// carries only MCP messages; logs go to stderr or the log file.
//
// Lifecycle: stdin is read from the first moment, so its end is never missed, whether it comes
// before, during or after start-up. When it ends (or SIGTERM/SIGINT arrives), requests already
// received are answered and their work finishes (up to drainMs), then everything closes and the
// index lock is released. The SDK's own stdio transport would abort in-flight requests the
// moment stdin ends; here it reads from a pipe that is not ended, and closes only after the drain.

export interface StdioOptions {
  input?: Readable;
  output?: Writable;
  /** Create a missing notes folder that is not the default (serve --create). */
  createNotes?: boolean;
}

/** Serve until stdin ends or a signal arrives; resolves once everything is closed. */
export async function serveStdioDaemon(config: Config, log: Logger, opts: StdioOptions = {}): Promise<void> {
  const stdin = opts.input ?? process.stdin;
  const stdout = opts.output ?? process.stdout;
  const input = new PassThrough();
  const opening = new AbortController();
  let stopReason: string | undefined;
  let stopNow: (reason: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    stopNow = (reason) => {
      if (stopReason !== undefined) return;
      stopReason = reason;
      resolve(reason);
      // Whatever happens next, the process ends within the drain time and the grace for
      // changes under way (the lock file is released by its exit handler).
      setTimeout(
        () => {
          log.warn({ reason }, 'stdio shutdown took longer than the drain time: exiting');
          process.exit(0);
        },
        config.drainMs + CHANGE_GRACE_MS + 2_000,
      ).unref();
    };
  });
  const onEnd = (): void => stopNow('stdin closed');
  stdin.once('end', onEnd);
  stdin.once('close', onEnd);
  stdin.once('error', onEnd);
  stdin.pipe(input, { end: false });
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    // As in the HTTP daemon: a repeated SIGTERM lets the drain finish, a second Ctrl-C exits.
    if (signalled) {
      if (sig === 'SIGINT') process.exit(130);
      return;
    }
    signalled = true;
    stdin.unpipe(input);
    opening.abort();
    stopNow(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let rt: Runtime;
  try {
    rt = await openRuntime({ config, log, signal: opening.signal, createNotes: opts.createNotes });
  } catch (err) {
    if (err instanceof NotesError && err.code === 'NOTES_E_SHUTTING_DOWN') return;
    throw err;
  }
  const subs = new Set<string>();
  let pinned: McpServer | undefined;
  const offSink = rt.hub.add(connectionSink(() => pinned, subs));
  const maxLine = Math.max(config.maxBodyBytes, MAX_LINE_BYTES);
  const transport = new StdioWire(input, stdout, {
    maxLine,
    maxUnread: MAX_UNREAD_REPLY_BYTES,
    onRefused: ({ code, bytes }) => log.warn({ code, bytes }, 'stdio: message refused'),
    // Closed under us (stdout gone, say): nothing can be answered any more, so stop rather than
    // sit as a live process nobody can reach.
    onClosed: () => stopNow('stdio transport closed'),
  });
  const handle = serveStdio(
    (ctx) => {
      const ictx: McpInstanceContext = {
        era: ctx.era,
        transport: 'stdio',
        // A client that stops reading stdout: its next calls wait instead of piling up replies.
        replyRoom: () => stdout.writableLength <= MAX_UNREAD_REPLY_BYTES,
        onSubscribe: (uri) => subs.add(uri),
        onUnsubscribe: (uri) => subs.delete(uri),
      };
      pinned = createMcpServer(rt.deps, ictx);
      return pinned;
    },
    { transport, onerror: (err) => log.debug({ err: err.message }, 'stdio transport') },
  );

  const reason = await stopped;
  log.info({ reason }, 'stdio: shutting down');
  // Let the transport take in what already arrived, then answer it.
  await new Promise((r) => setImmediate(r));
  await closeInOrder(log, [
    // The runtime's drain, counting replies written to stdout instead of its gate.
    ['answer', () => rt.drain((ms) => transport.answered(ms))],
    ['sink', () => offSink()],
    ['transport', () => handle.close()],
    ['runtime', () => rt.close()],
  ]);
  stdin.unpipe(input);
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
}
