import type { Command } from 'commander';
import { configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

export function registerToken(program: Command): void {
  const token = program.command('token').description('manage bearer tokens for HTTP clients');
  token
    .command('create')
    .description('create a token and print it once (only its SHA-256 is stored)')
    .option('--scope <scope>', 'read (search and read) or write (also write_note and reindex)', 'write')
    .option('--name <name>', 'a label to recognise it by', 'client')
    .option('--json', 'print as JSON')
    .action(async (opts: { scope: string; name: string; json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const { NotesError } = await import('../../errors.ts');
      if (opts.scope !== 'read' && opts.scope !== 'write')
        throw new NotesError('NOTES_E_USAGE', ['--scope must be read or write']);
      const { TokenStore } = await import('../../auth/tokens.ts');
      const { token: value, record } = new TokenStore(config.tokenStoreFile).create(opts.name, opts.scope);
      if (opts.json)
        return printJson(processIO, { token: value, id: record.id, name: record.name, scope: record.scope });
      processIO.out(value);
      processIO.err(`token ${record.id} (${record.name}, scope ${record.scope}) created; it is shown only once.`);
    });
  token
    .command('list')
    .description('list tokens (never their values)')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const { TokenStore } = await import('../../auth/tokens.ts');
      const list = new TokenStore(config.tokenStoreFile).list().map(({ sha256: _sha, ...r }) => r);
      if (opts.json) return printJson(processIO, list);
      if (list.length === 0) processIO.out('no tokens');
      for (const r of list) processIO.out(`${r.id}  ${r.scope.padEnd(5)}  ${r.createdAt}  ${r.name}`);
    });
  token
    .command('revoke')
    .description('revoke a token by id or name; a running daemon refuses it at once')
    .argument('<id>', 'token id (from "token list") or name')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const config = await configFrom(cmd.optsWithGlobals<GlobalOptions>());
      const { TokenStore } = await import('../../auth/tokens.ts');
      const r = new TokenStore(config.tokenStoreFile).revoke(id);
      processIO.err(`revoked token ${r.id} (${r.name})`);
    });
}
