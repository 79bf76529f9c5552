import type { Config } from '../config/index.ts';
import { describeError, NotesError } from '../errors.ts';

/** Options every command accepts (see PRODUCT.md: --notes, --state, --json). */
export interface GlobalOptions {
  notes?: string;
  state?: string;
  config?: string;
  model?: string;
  logLevel?: string;
  json?: boolean;
}

export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
}

export const processIO: CommandIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  isTTY: Boolean(process.stderr.isTTY),
};

/**
 * Build the frozen config from global flags plus command-specific overrides. The config
 * module (and zod with it) loads here, not at startup: `notes-mcp --help` stays fast.
 */
export async function configFrom(opts: GlobalOptions, extra: Record<string, unknown> = {}): Promise<Config> {
  const { loadConfig } = await import('../config/index.ts');
  return loadConfig({
    configFile: opts.config,
    flags: { notes: opts.notes, state: opts.state, model: opts.model, logLevel: opts.logLevel, ...extra },
  });
}

export function printJson(io: CommandIO, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** One line on stderr with the code, non-zero exit: the CLI contract. */
export function reportFailure(err: unknown, io: CommandIO = processIO): number {
  if (err instanceof NotesError) {
    io.err(`notes-mcp: ${err.message} (${err.code})`);
    return err.exit;
  }
  io.err(`notes-mcp: ${describeError(err)}`);
  if (process.env.NOTES_MCP_DEBUG && err instanceof Error && err.stack) io.err(err.stack);
  return 1;
}
