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
      const { ago, isServeProcess, openIndexForCli } = await import('./shared.ts');
      const owner = readLockOwner(indexFiles(config.indexDir).lock);
      const { probeDaemon } = await import('../../daemon/runtime-file.ts');
      const probe = await probeDaemon(config.indexDir);
      // A lock holder without a readable daemon.json is a daemon that cannot be asked (restart
      // it) or a `notes-mcp index`: never "not serving" while it serves.
      const ownerServes =
        owner !== undefined && probe.state !== 'serving' && probe.state !== 'silent' && (await isServeProcess(owner));
      // The running daemon, asked over HTTP: its real URL and index lag, or why none answers.
      const daemon =
        probe.state === 'serving'
          ? { running: true, pid: probe.info.pid, url: probe.info.url, health: probe.health }
          : probe.state === 'silent'
            ? { running: true, pid: probe.info.pid, url: probe.info.url, problem: probe.reason }
            : ownerServes
              ? { running: true, pid: owner, problem: 'it left no readable daemon.json: restart it' }
              : { running: false, pid: owner ?? null };
      const daemonLine =
        probe.state === 'serving'
          ? `serving ${probe.info.url} (pid ${probe.info.pid})`
          : probe.state === 'silent'
            ? `pid ${probe.info.pid} should serve ${probe.info.url}, but ${probe.reason}`
            : ownerServes
              ? `pid ${owner} (notes-mcp serve) holds the index, but its daemon.json ${probe.state === 'unreadable' ? probe.reason : probe.state === 'stale' ? `names pid ${probe.info.pid}, which has stopped` : 'is missing'}: restart it so status can reach it`
              : owner
                ? `not serving; pid ${owner} holds the index${probe.state === 'unreadable' ? ` (daemon.json ${probe.reason})` : ''}`
                : 'not running';
      if (!existsSync(indexFiles(config.indexDir).database)) {
        const empty = {
          notesDir: config.notesDir,
          indexDir: config.indexDir,
          indexed: false,
          daemonPid: owner ?? null,
          daemon,
        };
        if (opts.json) return printJson(processIO, empty);
        processIO.out(
          `notes:   ${config.notesDir}\nindex:   ${config.indexDir} (not built yet: run "notes-mcp index")\ndaemon:  ${daemonLine}`,
        );
        return;
      }
      const { index, close } = await openIndexForCli(config, { readOnly: true });
      try {
        const s = index.status();
        const tags = index.tagCounts(10);
        if (opts.json)
          return printJson(processIO, { ...s, indexed: true, daemonPid: owner ?? null, daemon, topTags: tags });
        processIO.out(
          [
            `notes:   ${s.notesDir}`,
            `index:   ${s.indexDir}`,
            `daemon:  ${daemonLine}`,
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
