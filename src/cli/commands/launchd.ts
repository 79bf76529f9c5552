import { homedir, userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { type FlagSpec, LAYOUT_FLAGS, type LayoutDefaults, layoutInputFrom, OUT_FLAG } from '../../ops/flags.ts';

// `notes-mcp launchd …`: print (or write with --out) the launchd and newsyslog files of an
// instance. provision.sh calls these; the generators live in src/ops and are loaded lazily.

type Ops = typeof import('../../ops/index.ts');

export function addFlags(cmd: Command, flags: readonly FlagSpec[]): Command {
  for (const f of flags) {
    const opt = new Option(f.flags, f.description);
    if (f.choices) opt.choices(f.choices);
    if (f.repeatable) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
  return cmd;
}

export function layoutDefaults(): LayoutDefaults {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER;
  }
  return { arch: process.arch === 'x64' ? 'x86_64' : 'arm64', home: process.env.HOME || homedir(), user };
}

/** Run a generator; turn its input errors into the CLI's usage error. */
export async function generate(
  cmd: Command,
  render: (ops: Ops, opts: Record<string, unknown>) => string,
): Promise<void> {
  const ops = await import('../../ops/index.ts');
  const { NotesError } = await import('../../errors.ts');
  const opts = cmd.optsWithGlobals() as Record<string, unknown>;
  let text: string;
  try {
    text = render(ops, opts);
  } catch (err) {
    if (err instanceof ops.LayoutError) throw new NotesError('NOTES_E_USAGE', [err.message]);
    throw err;
  }
  if (typeof opts.out === 'string') {
    const { writeFileAtomicSync } = await import('../../fs-atomic.ts');
    const { resolve } = await import('node:path');
    writeFileAtomicSync(resolve(opts.out), text, 0o644, { writeThrough: true });
  } else process.stdout.write(text);
}

export function layoutOf(ops: Ops, opts: Record<string, unknown>) {
  return ops.resolveLayout(layoutInputFrom(opts, layoutDefaults()) as Parameters<Ops['resolveLayout']>[0]);
}

function sub(parent: Command, name: string, description: string): Command {
  return addFlags(parent.command(name).description(description), [...LAYOUT_FLAGS, OUT_FLAG]);
}

export function registerLaunchd(program: Command): void {
  const launchd = program
    .command('launchd')
    .description('generate launchd plists and newsyslog entries for an instance (used by scripts/provision.sh)');

  sub(launchd, 'plist', "the instance's LaunchDaemon (--mode daemon) or LaunchAgent (--mode agent) plist").action(
    async (_o: unknown, cmd: Command) => generate(cmd, (ops, o) => ops.instancePlist(layoutOf(ops, o))),
  );

  sub(launchd, 'config', 'the instance config file (NOTES_MCP_CONFIG) the plist points to').action(
    async (_o: unknown, cmd: Command) => generate(cmd, (ops, o) => ops.instanceConfig(layoutOf(ops, o))),
  );

  sub(launchd, 'newsyslog', 'the /etc/newsyslog.d entry rotating the instance logs (SIGHUP to reopen)').action(
    async (_o: unknown, cmd: Command) => generate(cmd, (ops, o) => ops.instanceNewsyslog(layoutOf(ops, o))),
  );

  sub(launchd, 'nginx-plist', 'the LaunchDaemon that keeps nginx running (KeepAlive on)').action(
    async (_o: unknown, cmd: Command) => generate(cmd, (ops, o) => ops.nginxPlist(layoutOf(ops, o))),
  );

  sub(launchd, 'nginx-newsyslog', 'the /etc/newsyslog.d entry rotating the nginx logs (SIGUSR1 to reopen)').action(
    async (_o: unknown, cmd: Command) => generate(cmd, (ops, o) => ops.nginxNewsyslog(layoutOf(ops, o))),
  );

  addFlags(
    sub(launchd, 'renew-plist', "the LaunchDaemon renewing the instance's Let's Encrypt certificate twice a day"),
    [
      { flags: '--client <client>', description: 'ACME client', choices: ['certbot', 'acme.sh'] },
      { flags: '--cert-name <name>', description: 'certbot certificate name (default: --server-name)' },
    ],
  ).action(async (_o: unknown, cmd: Command) =>
    generate(cmd, (ops, o) => {
      const layout = layoutOf(ops, o);
      const certName = (o.certName as string | undefined) ?? layout.serverName ?? '';
      return ops.renewPlist(layout, { client: (o.client as 'certbot' | 'acme.sh' | undefined) ?? 'certbot', certName });
    }),
  );

  addFlags(sub(launchd, 'verify-plist', 'the job running scripts/verify.sh after every boot and once a day'), [
    { flags: '--url <url>', description: 'endpoint to verify (default http://<host>:<port>, the daemon itself)' },
    { flags: '--resolve-ip <ip>', description: 'connect to this address whatever the name resolves to' },
    { flags: '--cacert <file>', description: 'CA to trust besides the built-in ones (the private CA)' },
  ]).action(async (_o: unknown, cmd: Command) =>
    generate(cmd, (ops, o) => {
      const layout = layoutOf(ops, o);
      const host = layout.host.includes(':') ? `[${layout.host}]` : layout.host;
      return ops.verifyPlist(layout, {
        url: (o.url as string | undefined) ?? `http://${host}:${layout.port}`,
        resolveIp: o.resolveIp as string | undefined,
        cacert: o.cacert as string | undefined,
      });
    }),
  );

  addFlags(sub(launchd, 'layout', 'every path, label and port of the instance (scripts read this)'), [
    { flags: '--format <format>', description: 'json, or shell (KEY=value lines to eval)', choices: ['json', 'shell'] },
  ]).action(async (_o: unknown, cmd: Command) =>
    generate(cmd, (ops, o) => {
      const layout = layoutOf(ops, o);
      return o.format === 'shell' ? ops.layoutAsShell(layout) : `${JSON.stringify(layout, null, 2)}\n`;
    }),
  );
}
