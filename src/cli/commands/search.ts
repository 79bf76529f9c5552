import type { Command } from 'commander';
import { configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

interface SearchCmdOptions {
  k?: string;
  json?: boolean;
  folder?: string;
  tag?: string[];
  mode?: string;
  all?: boolean;
}

export function registerSearch(program: Command): void {
  program
    .command('search')
    .description('search the notes from the shell')
    .argument('<query...>', 'what to look for (a "quoted phrase" must appear word for word)')
    .option('-k, --k <n>', 'number of results', '10')
    .option('--folder <dir>', 'only notes under this folder')
    .option('--tag <tag...>', 'only notes with these tags')
    .option('--mode <mode>', 'hybrid, bm25 or vector', 'hybrid')
    .option('--all', 'allow several passages of the same note')
    .option('--json', 'print results as JSON')
    .action(async (words: string[], opts: SearchCmdOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions & SearchCmdOptions>();
      const config = await configFrom(g);
      const { NotesError } = await import('../../errors.ts');
      const k = Number(opts.k ?? '10');
      if (!Number.isInteger(k) || k < 1 || k > 100)
        throw new NotesError('NOTES_E_USAGE', ['-k must be a whole number from 1 to 100']);
      const mode = opts.mode ?? 'hybrid';
      if (mode !== 'hybrid' && mode !== 'bm25' && mode !== 'vector') {
        throw new NotesError('NOTES_E_USAGE', ['--mode must be hybrid, bm25 or vector']);
      }
      const { openIndexForCli } = await import('./shared.ts');
      const { search, toWire } = await import('../../search/index.ts');
      const { index, close } = await openIndexForCli(config, { readOnly: true });
      try {
        const r = await search(index, words.join(' '), {
          k,
          folder: opts.folder,
          tags: opts.tag,
          mode,
          onePerNote: !opts.all,
        });
        // The same field names as the search_notes tool's result.
        if (opts.json) return printJson(processIO, toWire(r, false));
        if (r.hits.length === 0) processIO.out('no results');
        r.hits.forEach((h, i) => {
          const where = `${h.path}:${h.startLine}-${h.endLine}`;
          const heading = h.headings.length ? ` › ${h.headings.join(' › ')}` : '';
          processIO.out(`${i + 1}. ${where}  ${h.title}${heading}  (${h.score.toFixed(3)}${h.stale ? ', stale' : ''})`);
          processIO.out(`   ${h.snippet}`);
        });
      } finally {
        await close();
      }
    });
}
