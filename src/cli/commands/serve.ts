import type { Command } from 'commander';
import { configFrom, type GlobalOptions } from '../context.ts';

interface ServeOptions {
  stdio?: boolean;
  auth?: boolean;
  host?: string;
  port?: string;
  logFile?: string;
  watch?: boolean;
  create?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the MCP daemon over HTTP (default) or stdio')
    .option('--stdio', 'serve one client over stdin/stdout instead of HTTP')
    .option('--host <addr>', 'address to bind (env NOTES_MCP_HOST, default 127.0.0.1)')
    .option('--port <n>', 'port to listen on (env NOTES_MCP_PORT, default 8765)')
    .option('--no-auth', 'accept requests without a bearer token (only on a loopback address)')
    .option('--log-file <file>', 'append JSON logs to this file, reopened on SIGHUP (env NOTES_MCP_LOG_FILE)')
    .option('--no-watch', 'do not watch the notes folder for changes')
    .option('--create', 'create the notes folder if it does not exist (only ./notes is created without it)')
    .addHelpText(
      'after',
      '\nAuth is on by default: on first start a token is created and its file printed.\n' +
        'Stop with SIGTERM or Ctrl-C: index work stops (the next start indexes the rest), in-flight calls\n' +
        'finish (up to 4 s; a change under way up to 10 s more), then the index is saved.',
    )
    .action(async (opts: ServeOptions, cmd: Command) => {
      // SIGHUP's default action kills the process; newsyslog may send it while the modules
      // below still load (bin/notes-mcp.js covers the time before this). The daemon installs
      // the real handler (reopen the log file) once it runs.
      const earlyHup = (): void => undefined;
      process.on('SIGHUP', earlyHup);
      const g = cmd.optsWithGlobals<GlobalOptions & ServeOptions>();
      const extra: Record<string, unknown> = { host: opts.host, port: opts.port, logFile: opts.logFile };
      if (opts.auth === false) extra.auth = false;
      if (opts.watch === false) extra.watch = false;
      const config = await configFrom(g, extra);
      const [{ isLoopbackHost }, { NotesError }, { createLogger }] = await Promise.all([
        import('../../config/index.ts'),
        import('../../errors.ts'),
        import('../../log.ts'),
      ]);
      if (!config.auth && !opts.stdio && !isLoopbackHost(config.host)) {
        throw new NotesError('NOTES_E_USAGE', [
          `--no-auth is allowed only on a loopback address, not ${config.host}: create a token with "notes-mcp token create"`,
        ]);
      }
      // A person at a terminal reads lines; launchd and files get JSON lines.
      const onTerminal = Boolean(process.stderr.isTTY) && !config.logFile;
      const log = createLogger({ level: config.logLevel, file: config.logFile, pretty: onTerminal });
      process.on('uncaughtException', (err) => {
        log.fatal({ err }, 'uncaught exception: exiting so the supervisor restarts notes-mcp');
        log.flush?.();
        process.exit(70);
      });
      process.on('unhandledRejection', (err) => {
        log.fatal({ err }, 'unhandled rejection: exiting so the supervisor restarts notes-mcp');
        log.flush?.();
        process.exit(70);
      });
      if (opts.stdio) {
        const { serveStdioDaemon } = await import('../../daemon/stdio.ts');
        await serveStdioDaemon(config, log, { createNotes: opts.create ?? false });
        process.exit(0);
      }
      const { startDaemon } = await import('../../daemon/daemon.ts');
      const d = await startDaemon({ config, log, installSignalHandlers: true, createNotes: opts.create ?? false });
      process.off('SIGHUP', earlyHup);
      if (onTerminal) process.stderr.write(`${startLine(config, d)}\n`);
      await d.closed;
    });
}

/** The one line a person starting the daemon by hand needs: where it is, and how to connect. */
function startLine(
  config: import('../../config/index.ts').Config,
  d: { url: string; tokenFile: string | undefined; model: string },
): string {
  const auth = !config.auth
    ? 'no token needed (--no-auth)'
    : d.tokenFile
      ? `token: cat "${d.tokenFile}"`
      : config.token
        ? 'token: the one in NOTES_MCP_TOKEN'
        : 'token: "notes-mcp token create"';
  return `notes-mcp serving ${d.url} for ${config.notesDir} (model ${d.model}); ${auth}`;
}
