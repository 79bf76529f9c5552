export { type Daemon, ensureInitialToken, type StartOptions, startDaemon } from './daemon.ts';
export { openRuntime, type Runtime, type RuntimeOptions } from './runtime.ts';
export { serveStdioDaemon, type StdioOptions } from './stdio.ts';
