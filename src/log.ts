import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: LevelWithSilent;
  /** Where JSON lines go. Defaults to stderr so stdout stays free for stdio MCP and CLI data. */
  destination?: DestinationStream;
  /** Log file to append to, reopened on SIGHUP (see reopenLog). */
  file?: string;
}

// Paths that may carry secrets anywhere in a log object; pino replaces them with "[Redacted]".
const REDACT = [
  'authorization',
  'token',
  'req.headers.authorization',
  'headers.authorization',
  '*.authorization',
  '*.token',
  'content',
  '*.content',
];

let fileStream: ReturnType<typeof pino.destination> | undefined;

export function createLogger(opts: LogOptions = {}): Logger {
  let dest: DestinationStream;
  if (opts.destination) dest = opts.destination;
  else if (opts.file) {
    // Synchronous: a crash line must reach the file before the process exits.
    fileStream = pino.destination({ dest: opts.file, append: true, mkdir: true, sync: true });
    dest = fileStream;
  } else dest = pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid, name: 'notes-mcp' },
      redact: { paths: REDACT, censor: '[Redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** Reopen the log file after newsyslog moved it away (SIGHUP). */
export function reopenLog(): void {
  fileStream?.reopen();
}

/** A logger that discards everything, for tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
