import type { Command } from 'commander';
import { configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

// `notes-mcp history` and `notes-mcp restore`: the note history from the shell, next to a
// running daemon or without one (the journal has its own lock; the daemon's watcher picks up
// a restored note).

function short(hash: string | null): string {
  return hash === null ? '(none)' : hash.slice(0, 12);
}

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description('changes notes-mcp made to a note (or to every note), newest first')
    .argument('[path]', 'note path relative to the notes folder; omit for every note')
    .option('-n, --limit <n>', 'at most this many changes', '20')
    .option('--json', 'print as JSON')
    .action(async (path: string | undefined, opts: { limit: string; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const { NotesError } = await import('../../errors.ts');
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new NotesError('NOTES_E_USAGE', ['--limit must be a whole number ≥ 1']);
      const { History } = await import('../../history/index.ts');
      const history = History.forConfig(config);
      let entries: Awaited<ReturnType<typeof history.recent>>;
      if (path === undefined) entries = await history.recent(limit);
      else {
        const { checkNotePathSyntax } = await import('../../notes/index.ts');
        const syn = checkNotePathSyntax(path);
        if (!syn.ok) throw new NotesError('NOTES_E_PATH_INVALID', [JSON.stringify(path), syn.reason]);
        entries = (await history.versions(syn.rel)).slice(0, limit);
      }
      if (opts.json) return printJson(processIO, entries);
      if (entries.length === 0) {
        processIO.out(path === undefined ? 'no changes recorded' : `no changes recorded for ${path}`);
        return;
      }
      for (const e of entries) {
        const who =
          e.who.transport === 'http'
            ? `token ${e.who.tokenId ?? '?'}${e.who.tokenName ? ` (${e.who.tokenName})` : ''}`
            : e.who.transport === 'cli'
              ? `cli${e.who.user ? ` (${e.who.user})` : ''}`
              : 'stdio';
        const where = e.to === undefined ? e.path : `${e.path} -> ${e.to}`;
        processIO.out(
          `${e.at}  ${e.tool.padEnd(12)}  ${where}  ${short(e.before)} -> ${short(e.after)}  ${who}  ${e.id}`,
        );
      }
    });

  program
    .command('restore')
    .description('undo the last change notes-mcp made to a note, or put back a version from "history"')
    .argument('<path>', 'note path relative to the notes folder')
    .option('--to <hash>', 'the version to put back: a full hash from "notes-mcp history --json" (before or after)')
    .option('--expected-hash <hash>', "the note's current hash: needed when it changed outside notes-mcp")
    .option('--json', 'print as JSON')
    .action(async (path: string, opts: { to?: string; expectedHash?: string; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const { NotesError } = await import('../../errors.ts');
      for (const [flag, v] of [
        ['--to', opts.to],
        ['--expected-hash', opts.expectedHash],
      ] as const) {
        if (v !== undefined && !/^[0-9a-f]{64}$/.test(v))
          throw new NotesError('NOTES_E_USAGE', [`${flag} must be a full sha256 hash (64 hex digits)`]);
      }
      const [{ ChangeRecorder, History, restoreNote }, { userInfo }] = await Promise.all([
        import('../../history/index.ts'),
        import('node:os'),
      ]);
      const history = History.forConfig(config);
      const rec = new ChangeRecorder(history, 'restore_note', { transport: 'cli', user: userInfo().username });
      const r = await restoreNote(
        config.notesDir,
        history,
        { path, version: opts.to, expectedHash: opts.expectedHash },
        rec,
      );
      if (opts.json) return printJson(processIO, r);
      const what =
        r.how === 'unchanged'
          ? 'already at that version'
          : r.how === 'move'
            ? `moved back from ${r.movedFrom}`
            : r.how === 'trash'
              ? 'brought back from the trash'
              : 'version written back';
      processIO.out(`${r.path}: ${what} (hash ${r.hash})`);
      for (const l of r.linksRestored ?? []) processIO.out(`  ${l.path}: links put back`);
      for (const l of r.linksNotRestored ?? []) processIO.out(`  ${l.path}: links left as they are (${l.reason})`);
    });
}
