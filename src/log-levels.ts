// pino's level names plus silent: the one list that config, the CLI and the ops generators
// validate against. A module of its own, without pino, so `notes-mcp --help` stays cheap.
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
