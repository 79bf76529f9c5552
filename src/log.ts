import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

import type { LogLevel } from './log-levels.ts';

export type { Logger };
export { LOG_LEVELS, type LogLevel } from './log-levels.ts';

export interface LogOptions {
  level?: LevelWithSilent | LogLevel;
  /** Where JSON lines go. Defaults to stderr so stdout stays free for stdio MCP and CLI data. */
  destination?: DestinationStream;
  /** Log file to append to, reopened on SIGHUP (see reopenLogs). */
  file?: string;
  /**
   * Human-readable lines (pino-pretty) instead of JSON: for a person at a terminal. launchd and
   * log files always get JSON lines.
   */
  pretty?: boolean;
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

// Every log file this process writes, so SIGHUP reopens each one (newsyslog moved them all).
const fileStreams = new Set<ReturnType<typeof pino.destination>>();

export function createLogger(opts: LogOptions = {}): Logger {
  let dest: DestinationStream;
  if (opts.destination) dest = opts.destination;
  else if (opts.file) {
    // Synchronous: a crash line must reach the file before the process exits.
    const stream = pino.destination({ dest: opts.file, append: true, mkdir: true, sync: true });
    fileStreams.add(stream);
    dest = stream;
  } else if (opts.pretty) {
    dest = pretty({
      destination: 2,
      sync: true,
      colorize: true,
      translateTime: 'HH:MM:ss',
      ignore: 'pid,name,hostname',
    });
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

/** Reopen every log file after newsyslog moved them away (SIGHUP). */
export function reopenLogs(): void {
  for (const s of fileStreams) s.reopen();
}

/** A logger that discards everything, for tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
