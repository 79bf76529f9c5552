import { SERVICE_LOG_LEVELS } from '../log-levels.ts';
// Command-line flags shared by `notes-mcp launchd …` and `notes-mcp nginx …`, as plain data so
// the command files can register them without loading zod or the generators (--help stays fast).

export interface FlagSpec {
  readonly flags: string;
  readonly description: string;
  readonly choices?: readonly string[];
  /** Collect every occurrence into an array. */
  readonly repeatable?: boolean;
}

export const LAYOUT_FLAGS: readonly FlagSpec[] = [
  {
    flags: '--instance <name>',
    description: 'instance name: label, port, folders and logs are per instance (default "default")',
  },
  {
    flags: '--mode <mode>',
    description: 'daemon: system LaunchDaemon (headless Mac); agent: LaunchAgent',
    choices: ['daemon', 'agent'],
  },
  {
    flags: '--arch <arch>',
    description: 'CPU, picks the Homebrew prefix (arm64: /opt/homebrew, x86_64: /usr/local)',
    choices: ['arm64', 'x86_64'],
  },
  { flags: '--prefix <dir>', description: 'install root (default /opt/notes-mcp; agent: ~/Library/notes-mcp)' },
  { flags: '--app <dir>', description: 'folder holding bin/notes-mcp.js (default <prefix>/current)' },
  { flags: '--node <file>', description: 'node binary (default <brew-prefix>/opt/node@24/bin/node)' },
  { flags: '--brew-prefix <dir>', description: 'Homebrew prefix (default from --arch)' },
  { flags: '--user <name>', description: 'user the daemon runs as (daemon default _notesmcp; agent: you)' },
  { flags: '--group <name>', description: 'group for files and log rotation' },
  { flags: '--home <dir>', description: "agent mode: the user's home folder (default $HOME)" },
  { flags: '--notes <dir>', description: 'notes folder of this instance' },
  { flags: '--state <dir>', description: 'state folder of this instance' },
  { flags: '--logs <dir>', description: 'log folder of this instance (no spaces)' },
  { flags: '--host <addr>', description: 'address the daemon listens on (default 127.0.0.1)' },
  { flags: '--port <n>', description: 'port the daemon listens on (default 8765)' },
  { flags: '--server-name <host>', description: 'public DNS name or IPv4 address clients use' },
  {
    flags: '--allowed-origin <origin>',
    description: 'browser origin allowed to call /mcp (repeatable)',
    repeatable: true,
  },
  { flags: '--model <id>', description: 'embedding model: auto, bundled or a model id' },
  {
    flags: '--log-level <level>',
    description: 'daemon log level',
    choices: [...SERVICE_LOG_LEVELS],
  },
  { flags: '--throttle-interval <s>', description: 'launchd ThrottleInterval: seconds between restarts (default 10)' },
  { flags: '--exit-timeout <s>', description: 'launchd ExitTimeOut: seconds from SIGTERM to SIGKILL (default 20)' },
  { flags: '--max-files <n>', description: 'open-file limit of the job (default 8192)' },
  { flags: '--root <dir>', description: 'prefix for every default system path (tests only)' },
];

export const OUT_FLAG: FlagSpec = {
  flags: '--out <file>',
  description: 'write to this file (atomically) instead of stdout',
};

const LAYOUT_KEYS = [
  'instance',
  'mode',
  'arch',
  'prefix',
  'app',
  'node',
  'brewPrefix',
  'user',
  'group',
  'home',
  'notes',
  'state',
  'logs',
  'host',
  'port',
  'serverName',
  'model',
  'logLevel',
  'throttleInterval',
  'exitTimeout',
  'maxFiles',
  'root',
] as const;

export interface LayoutDefaults {
  arch: 'arm64' | 'x86_64';
  home: string | undefined;
  user: string | undefined;
}

/** Map parsed commander options onto the generators' LayoutInput (unvalidated: zod does that). */
export function layoutInputFrom(opts: Record<string, unknown>, defaults: LayoutDefaults): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of LAYOUT_KEYS) if (opts[key] !== undefined) input[key] = opts[key];
  if (Array.isArray(opts.allowedOrigin)) input.allowedOrigins = opts.allowedOrigin;
  input.arch ??= defaults.arch;
  if (input.mode === 'agent') {
    input.home ??= defaults.home;
    input.user ??= defaults.user;
  }
  return input;
}
