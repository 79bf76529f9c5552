import type { Command } from 'commander';
import { configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('what is indexed: notes, chunks, model, freshness')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const config = await configFrom(g);
      const { existsSync } = await import('node:fs');
      const { indexFiles, readLockOwner } = await import('../../index/index.ts');
      const { ago, openIndexForCli } = await import('./shared.ts');
      const owner = readLockOwner(indexFiles(config.indexDir).lock);
      if (!existsSync(indexFiles(config.indexDir).database)) {
        const empty = {
          notesDir: config.notesDir,
          indexDir: config.indexDir,
          indexed: false,
          daemonPid: owner ?? null,
        };
        if (opts.json) return printJson(processIO, empty);
        processIO.out(`notes:  ${config.notesDir}\nindex:  ${config.indexDir} (not built yet: run "notes-mcp index")`);
        return;
      }
      const { index, close } = await openIndexForCli(config, { readOnly: true });
      try {
        const s = index.status();
        const tags = index.tagCounts(10);
        if (opts.json) return printJson(processIO, { ...s, indexed: true, daemonPid: owner ?? null, topTags: tags });
        processIO.out(
          [
            `notes:   ${s.notesDir}`,
            `index:   ${s.indexDir}`,
            `daemon:  ${owner ? `running (pid ${owner})` : 'not running'}`,
            `model:   ${s.model} (${s.dims} dims)`,
            `content: ${s.notes} notes, ${s.chunks} chunks, ${s.vectors} distinct vectors`,
            `fresh:   last note indexed ${ago(s.lastIndexedAt)}`,
            `skipped: ${s.skipped.count === 0 ? 'none' : `${s.skipped.count} file(s) not indexed: ${s.skipped.first.map((x) => `${x.path} (${x.reason})`).join(', ')}`}`,
            `tags:    ${tags.map((t) => `#${t.tag} (${t.notes})`).join(', ') || 'none'}`,
          ].join('\n'),
        );
      } finally {
        await close();
      }
    });
}
