import { Command, Option } from 'commander';
import { reportFailure } from './context.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerHistory } from './commands/history.ts';
import { registerIndex } from './commands/index-cmd.ts';
import { registerLaunchd } from './commands/launchd.ts';
import { registerModel } from './commands/model.ts';
import { registerNginx } from './commands/nginx.ts';
import { registerSearch } from './commands/search.ts';
import { registerServe } from './commands/serve.ts';
import { registerStatus } from './commands/status.ts';
import { registerToken } from './commands/token.ts';
import { LOG_LEVELS } from '../log-levels.ts';
import { VERSION } from '../version.ts';

// Command modules import only commander and types at the top and load their heavy
// dependencies (transformers.js, SQLite, the SDK) inside the action: `notes-mcp --help`
// is paid by every launchd restart and shell call, so it must stay fast.

export function buildProgram(): Command {
  const program = new Command('notes-mcp')
    .description('Serve a folder of Markdown notes to AI agents over MCP, with on-device search.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addOption(new Option('--notes <dir>', 'notes folder (env NOTES_MCP_NOTES, default ./notes)'))
    .addOption(new Option('--state <dir>', 'state folder: index, tokens, models (env NOTES_MCP_STATE)'))
    .addOption(new Option('--config <file>', 'JSON config file (env NOTES_MCP_CONFIG)'))
    .addOption(new Option('--model <id>', 'embedding model: auto, bundled or a model id (env NOTES_MCP_MODEL)'))
    .addOption(new Option('--log-level <level>', 'log level (env NOTES_MCP_LOG_LEVEL)').choices(LOG_LEVELS));
  program.exitOverride();
  // Usage mistakes in the CLI's one format (`notes-mcp: <reason> (NOTES_E_USAGE)`, exit 2), not
  // commander's own ("error: …", exit 1). Subcommands inherit this.
  program.configureOutput({
    outputError: (str, write) =>
      write(
        `notes-mcp: ${str
          .replace(/^error: /, '')
          .trim()
          .replace(/\s*\n\s*/g, ' ')} (NOTES_E_USAGE)\n`,
      ),
  });
  registerServe(program);
  registerIndex(program);
  registerSearch(program);
  registerStatus(program);
  registerDoctor(program);
  registerToken(program);
  registerHistory(program);
  registerModel(program);
  registerLaunchd(program);
  registerNginx(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    // commander reports --help/--version as "errors" with exit code 0.
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // --help and --version "fail" with exit code 0; every other commander error is usage.
      return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
    }
    return reportFailure(err);
  }
}

/** Entry point used by bin/notes-mcp.js. */
export function run(): void {
  // `notes-mcp doctor | head -1`: the reader went away; that is not an error worth a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportFailure(err);
    },
  );
}
