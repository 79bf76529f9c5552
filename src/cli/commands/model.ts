import type { Command } from 'commander';
import { type CommandIO, configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

// `notes-mcp model list|fetch|info`. The embed module (and zod with it) is imported inside
// each action so `notes-mcp --help` stays fast.

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

interface JsonFlag {
  json?: boolean;
}

async function listAction(opts: GlobalOptions & JsonFlag, io: CommandIO): Promise<void> {
  const config = await configFrom(opts);
  const { listModels } = await import('../../embed/index.ts');
  const models = listModels(config.model, config.modelsDir);
  if (opts.json) return printJson(io, { configured: config.model, modelsDir: config.modelsDir, models });
  const rows = [['', 'ID', 'KIND', 'DIMS', 'SIZE', 'PRESENT', 'LOCATION']];
  for (const m of models) {
    rows.push([m.active ? '*' : ' ', m.id, m.kind, String(m.dims), mb(m.size), m.present ? 'yes' : 'no', m.dir]);
  }
  io.out(table(rows));
  io.out(`\n* active for --model ${config.model}`);
}

async function fetchAction(
  id: string | undefined,
  opts: GlobalOptions & JsonFlag & { force?: boolean },
  io: CommandIO,
): Promise<void> {
  const config = await configFrom(opts);
  const { fetchModel, DEFAULT_HUB_MODEL_ID, BUNDLED_MODEL_ID } = await import('../../embed/index.ts');
  const target = id ?? DEFAULT_HUB_MODEL_ID;
  if (target === 'bundled' || target === BUNDLED_MODEL_ID) {
    io.out('the bundled model ships with notes-mcp: nothing to fetch');
    return;
  }
  let onProgress: ((p: import('../../embed/index.ts').FetchProgress) => void) | undefined;
  let stop = (): void => {};
  if (io.isTTY && !opts.json) {
    const { default: cliProgress } = await import('cli-progress');
    const bar = new cliProgress.SingleBar(
      { format: '{file} [{bar}] {percentage}% {value}/{total} bytes', hideCursor: true, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    let current = '';
    onProgress = (p) => {
      if (p.file !== current) {
        if (current) bar.stop();
        current = p.file;
        bar.start(p.total, p.received, { file: `(${p.index + 1}/${p.count}) ${p.file}` });
      } else bar.update(p.received);
    };
    stop = () => {
      if (current) bar.stop();
    };
  } else if (!opts.json) {
    onProgress = (p) => {
      if (p.received === 0) io.err(`downloading (${p.index + 1}/${p.count}) ${p.file} (${p.total} bytes)`);
    };
  }
  let result: Awaited<ReturnType<typeof fetchModel>>;
  try {
    result = await fetchModel({
      id: target,
      modelsDir: config.modelsDir,
      force: Boolean(opts.force),
      ...(onProgress ? { onProgress } : {}),
    });
  } finally {
    stop();
  }
  if (opts.json) return printJson(io, result);
  io.out(
    result.downloaded
      ? `${result.id} (revision ${result.revision.slice(0, 12)}) downloaded and verified: ${result.dir}`
      : `${result.id} (revision ${result.revision.slice(0, 12)}) is already present and verified: ${result.dir}`,
  );
}

async function infoAction(
  id: string | undefined,
  opts: GlobalOptions & JsonFlag & { verify?: boolean },
  io: CommandIO,
): Promise<void> {
  const config = await configFrom(opts);
  const { describeModel, verifyModelFiles } = await import('../../embed/index.ts');
  const info = describeModel(id ?? config.model, config.modelsDir);
  const checks = opts.verify ? await verifyModelFiles(info.dir, info.files) : undefined;
  const failed = checks?.some((c) => !c.ok) ?? false;
  if (opts.json) {
    printJson(io, { ...info, ...(checks ? { verified: !failed, checks } : {}) });
  } else {
    const rows = [
      ['id', info.id],
      ['kind', info.kind],
      ['present', info.present ? 'yes' : 'no'],
      ['location', info.dir],
      ['revision', info.revision],
      ['dtype', info.dtype],
      ['dims', String(info.dims)],
      ['max tokens', String(info.maxTokens)],
      ['pooling', `${info.pooling}, L2-normalised`],
      ['fingerprint', info.fingerprint],
      ['license', info.license],
      ['about', info.description],
    ];
    io.out(table(rows));
    io.out('files:');
    const fileRows = info.files.map((f, i) => {
      const c = checks?.[i];
      const state = c
        ? c.ok
          ? 'sha256 ok'
          : `SHA256 MISMATCH (${c.actual ?? 'unreadable'})`
        : f.present
          ? 'present'
          : 'missing';
      return [`  ${f.path}`, `${f.size} bytes`, `sha256 ${f.sha256}`, state];
    });
    io.out(table(fileRows));
  }
  if (failed) process.exitCode = 1;
}

export function registerModel(program: Command): void {
  const model = program
    .command('model')
    .description('embedding models on this machine: list, fetch (the one command that downloads), info');

  model
    .command('list')
    .description('known models, whether each is on this machine, and which one is active')
    .option('--json', 'print JSON')
    .action(async (_opts: JsonFlag, cmd: Command) => {
      await listAction(cmd.optsWithGlobals(), processIO);
    });

  model
    .command('fetch [id]')
    .description(
      'download a pinned model into the state folder and verify its checksums (default: Xenova/all-MiniLM-L6-v2; base URL from HF_ENDPOINT)',
    )
    .option('--force', 're-download even when present and verified')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, _opts: JsonFlag, cmd: Command) => {
      await fetchAction(id, cmd.optsWithGlobals(), processIO);
    });

  model
    .command('info [id]')
    .description('dims, max tokens, revision, files, checksums, location and fingerprint (default: the active model)')
    .option('--verify', 'hash every file and compare with the pinned sha256')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, _opts: JsonFlag, cmd: Command) => {
      await infoAction(id, cmd.optsWithGlobals(), processIO);
    });
}
