// pino's level names plus silent: the one list that config, the CLI and the ops generators
// validate against. A module of its own, without pino, so `notes-mcp --help` stays cheap.
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The levels a service may run at: every one but silent (a daemon that logs nothing cannot be diagnosed). */
export const SERVICE_LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
] as const satisfies readonly Exclude<LogLevel, 'silent'>[];
