import type { Config } from '../../config/index.ts';
import type { NotesIndex } from '../../index/index.ts';
import type { Logger } from '../../log.ts';

/**
 * Open model and index for a CLI command. Writers take the lock; read-only commands open the
 * database next to a running daemon (SQLite WAL allows concurrent readers).
 */
export async function openIndexForCli(
  config: Config,
  opts: { readOnly: boolean; log?: Logger },
): Promise<{ index: NotesIndex; log: Logger; close: () => Promise<void> }> {
  const [{ openEmbedder }, { NotesIndex }, { createLogger }] = await Promise.all([
    import('../../embed/index.ts'),
    import('../../index/index.ts'),
    import('../../log.ts'),
  ]);
  const log = opts.log ?? createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel });
  const embedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
  try {
    const index = await NotesIndex.open({ config, embedder, log, readOnly: opts.readOnly });
    return {
      index,
      log,
      close: async () => {
        await index.close();
        await embedder.dispose();
      },
    };
  } catch (err) {
    await embedder.dispose();
    throw err;
  }
}

export function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** Global options that take no value (a word after them is the command, not their value). */
const FLAG_ONLY = new Set(['--json', '-h', '--help', '-V', '--version']);

/**
 * Whether a command line (ps's words) runs `notes-mcp serve`: the word after the notes-mcp
 * script that is neither an option nor an option's value is `serve`. "serve" as a folder name
 * (`notes-mcp index --notes serve`) is not.
 */
export function isServeCommand(args: readonly string[]): boolean {
  const script = args.findIndex((a) => /(^|\/)notes-mcp(\.js)?$/.test(a));
  if (script < 0) return false;
  for (let i = script + 1; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('-')) {
      if (!a.includes('=') && !FLAG_ONLY.has(a)) i++; // its value
      continue;
    }
    return a === 'serve';
  }
  return false;
}

/**
 * Whether a process is a `notes-mcp serve` (its arguments, by ps, which works on macOS and
 * Linux alike): a lock holder that left no daemon.json is then a daemon to restart, not a
 * `notes-mcp index`. False when it cannot be asked.
 */
export async function isServeProcess(pid: number): Promise<boolean> {
  const { execFileSync } = await import('node:child_process');
  try {
    return isServeCommand(
      execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', timeout: 2_000 })
        .trim()
        .split(/\s+/),
    );
  } catch {
    return false;
  }
}
