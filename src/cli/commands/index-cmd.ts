import type { Command } from 'commander';
import { configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

interface IndexOptions {
  full?: boolean;
  create?: boolean;
  json?: boolean;
}

export function registerIndex(program: Command): void {
  program
    .command('index')
    .description('index the notes folder (incrementally: only changed notes) and exit')
    .option('--full', 're-read and re-chunk every note')
    .option('--create', 'create the notes folder if it does not exist (only ./notes is created without it)')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', '\nShows a progress bar on a terminal, plain progress lines otherwise.')
    .action(async (opts: IndexOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions & IndexOptions>();
      const config = await configFrom(g);
      const { prepareNotesFolder } = await import('../../notes/index.ts');
      prepareNotesFolder(config.notesDir, { isDefault: config.notesIsDefault, create: opts.create ?? false });
      const { openIndexForCli } = await import('./shared.ts');
      const { index, close } = await openIndexForCli(config, { readOnly: false });
      const io = processIO;
      let bar:
        | { start(t: number, v: number): void; update(v: number): void; setTotal(t: number): void; stop(): void }
        | undefined;
      let lastLine = 0;
      try {
        if (io.isTTY && !opts.json) {
          const { default: cliProgress } = await import('cli-progress');
          bar = new cliProgress.SingleBar(
            {
              format: 'indexing [{bar}] {percentage}% | {value}/{total} notes | {eta_formatted} left',
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
        }
        let started = false;
        const summary = await index.sync({
          full: opts.full ?? false,
          onProgress: (p) => {
            if (p.phase !== 'index') return;
            if (bar) {
              if (!started) {
                bar.start(p.total, p.done);
                started = true;
              } else bar.update(p.done);
            } else if (!opts.json && p.total > 0 && (p.done === p.total || Date.now() - lastLine > 2000)) {
              lastLine = Date.now();
              io.err(`indexed ${p.done}/${p.total} notes`);
            }
          },
        });
        bar?.stop();
        if (opts.json) printJson(io, summary);
        else {
          io.out(
            `${summary.notes} notes, ${summary.chunks} chunks: ${summary.indexed} indexed, ${summary.unchanged} unchanged, ` +
              `${summary.removed} removed, ${summary.skipped.length} skipped in ${summary.seconds.toFixed(2)} s`,
          );
          for (const s of summary.skipped.slice(0, 20)) io.err(`skipped ${s.path}: ${s.reason}`);
        }
      } finally {
        bar?.stop();
        await close();
      }
    });
}
