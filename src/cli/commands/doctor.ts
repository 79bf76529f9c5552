import type { Command } from 'commander';
import { type Config, STATE_FILES } from '../../config/index.ts';
import { describeError, NotesError } from '../../errors.ts';
import { type CommandIO, configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';
import { isServeProcess } from './shared.ts';

// `notes-mcp doctor`: what is wrong with this setup, as a list of named checks. Each section
// is a function returning checks; later sections (index, tokens, server) are appended to
// DOCTOR_SECTIONS. Heavy modules are imported inside the sections that need them.

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** Shown instead of "ok" for a check that passes with something to look at. */
  level?: 'warn' | 'info';
}

export type DoctorSection = (config: Config) => Promise<DoctorCheck[]>;

async function runtimeSection(config: Config): Promise<DoctorCheck[]> {
  const { MIN_NODE, nodeIsRecentEnough } = await import('../../version.ts');
  const ok = nodeIsRecentEnough(process.versions.node);
  return [
    {
      name: 'node',
      ok,
      detail: `Node ${process.versions.node} (${process.execPath})${ok ? '' : `: notes-mcp needs Node ${MIN_NODE} or newer`}`,
    },
    {
      name: 'config',
      ok: true,
      detail: `notes ${config.notesDir}; state ${config.stateDir}; models ${config.modelsDir}; config file ${config.configFile ?? 'none'}`,
    },
  ];
}

async function modelSection(config: Config): Promise<DoctorCheck[]> {
  const embed = await import('../../embed/index.ts');
  let choice: import('../../embed/index.ts').ModelChoice;
  try {
    choice = embed.resolveModelChoice(config.model, config.modelsDir);
  } catch (err) {
    return [{ name: 'model', ok: false, detail: describeError(err) }];
  }
  const checks: DoctorCheck[] = [
    {
      name: 'model',
      ok: choice.present,
      detail: `${choice.id} (${choice.kind}) in ${choice.dir}; ${choice.reason}`,
    },
  ];
  if (!choice.present) {
    const missing =
      choice.kind === 'hub'
        ? new NotesError('NOTES_E_MODEL_MISSING', [choice.id]).message
        : `the bundled model's files are missing from ${choice.dir}`;
    checks.push({ name: 'model loads offline', ok: false, detail: missing });
    return checks;
  }

  const info = embed.describeModel(choice.id, config.modelsDir);
  const verified = await embed.verifyModelFiles(info.dir, info.files);
  const bad = verified.filter((c) => !c.ok);
  checks.push({
    name: 'model checksums',
    ok: bad.length === 0,
    detail:
      bad.length === 0
        ? `${verified.length} files match their pinned sha256`
        : bad.map((c) => `${c.path}: expected ${c.expected}, got ${c.actual ?? 'unreadable'}`).join('; '),
  });

  const started = performance.now();
  try {
    const embedder = await embed.openEmbedder({ model: config.model, modelsDir: config.modelsDir });
    try {
      const [v] = await embedder.embed(['notes-mcp doctor checks that the model embeds text']);
      let norm = 0;
      for (const x of v ?? []) norm += x * x;
      const ok = v?.length === embedder.dims && Math.abs(Math.sqrt(norm) - 1) < 1e-3;
      checks.push({
        name: 'model loads offline',
        ok,
        detail: ok
          ? `loaded and embedded in ${Math.round(performance.now() - started)} ms: ${embedder.dims} dims, max ${embedder.maxTokens} tokens; fingerprint ${embedder.fingerprint}`
          : `the model loaded but returned a ${v?.length ?? 0}-d vector of norm ${Math.sqrt(norm).toFixed(3)}`,
      });
    } finally {
      await embedder.dispose();
    }
  } catch (err) {
    checks.push({ name: 'model loads offline', ok: false, detail: describeError(err) });
  }
  return checks;
}

/** Sections in display order; append new ones here. */
async function versionSection(): Promise<DoctorCheck[]> {
  const { PROTOCOL_REVISIONS, VERSION } = await import('../../version.ts');
  return [
    { name: 'version', ok: true, detail: `notes-mcp ${VERSION}; MCP revisions ${PROTOCOL_REVISIONS.join(', ')}` },
  ];
}

async function notesSection(config: Config): Promise<DoctorCheck[]> {
  const { accessSync, constants, statSync } = await import('node:fs');
  try {
    if (!statSync(config.notesDir).isDirectory()) {
      return [{ name: 'notes folder', ok: false, detail: `${config.notesDir} is not a folder` }];
    }
    accessSync(config.notesDir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? `${config.notesDir} does not exist yet (serve and index create it)`
        : `${config.notesDir}: ${describeError(err)}${code === 'EPERM' || code === 'EACCES' ? ' (on macOS: keep notes outside Desktop/Documents/Downloads, or grant Full Disk Access)' : ''}`;
    return [{ name: 'notes folder', ok: code === 'ENOENT', detail }];
  }
  const { scanNotes } = await import('../../notes/index.ts');
  const files = await scanNotes(config.notesDir, {
    include: config.include,
    exclude: config.exclude,
    skipDirs: [config.stateDir],
  });
  return [
    { name: 'notes folder', ok: true, detail: `${config.notesDir}: ${files.length} notes, readable and writable` },
  ];
}

/** A state folder the daemon may not write stops every start (NOTES_E_STATE_UNWRITABLE). */
async function stateWritableCheck(config: Config): Promise<DoctorCheck[]> {
  const { accessSync, constants, existsSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  for (const dir of [config.stateDir, dirname(config.indexDir), config.indexDir]) {
    if (!existsSync(dir)) continue;
    try {
      accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return [
        {
          name: 'state folder',
          ok: false,
          detail: describeError(new NotesError('NOTES_E_STATE_UNWRITABLE', [dir, code])),
        },
      ];
    }
  }
  return [];
}

async function indexSection(config: Config): Promise<DoctorCheck[]> {
  const { existsSync } = await import('node:fs');
  const { indexFiles, readLockOwner } = await import('../../index/index.ts');
  const owner = readLockOwner(indexFiles(config.indexDir).lock);
  const [daemon, ...watching] = await daemonChecks(config, owner);
  const unwritable = await stateWritableCheck(config);
  if (unwritable.length > 0) return [daemon, ...watching, ...unwritable];
  if (!existsSync(indexFiles(config.indexDir).database)) {
    return [
      daemon,
      ...watching,
      {
        name: 'index',
        ok: true,
        detail: `not built yet at ${config.indexDir}: "notes-mcp index" or "serve" builds it`,
      },
    ];
  }
  const { openIndexForCli } = await import('./shared.ts');
  try {
    const { index, close } = await openIndexForCli(config, { readOnly: true });
    try {
      const s = index.status();
      const out: DoctorCheck[] = [
        daemon,
        ...watching,
        {
          name: 'index',
          ok: true,
          detail: `${s.notes} notes, ${s.chunks} chunks, model ${s.model}; vector graph ${s.vectorIndex.loaded === 'loaded' ? 'matches the database' : `would be rebuilt (${s.vectorIndex.reason})`}`,
        },
      ];
      if (s.skipped.count > 0) {
        const first = s.skipped.first.map((x) => `${x.path}: ${x.reason}`).join('; ');
        out.push({
          name: 'not indexed',
          ok: true,
          level: 'warn',
          detail: `${s.skipped.count} file(s) under the notes folder are not indexed: ${first}${s.skipped.count > s.skipped.first.length ? '; …' : ''}`,
        });
      }
      out.push(...(await setAsideCheck(config.indexDir)));
      return out;
    } finally {
      await close();
    }
  } catch (err) {
    return [daemon, ...watching, { name: 'index', ok: false, detail: describeError(err) }];
  }
}

/**
 * What the daemon moved aside (and rebuilt from the notes), kept for a post-mortem: unreadable
 * databases in the index folder, and an index folder (or <state>/index) that was no folder.
 */
async function setAsideCheck(indexDir: string): Promise<DoctorCheck[]> {
  const { readdirSync } = await import('node:fs');
  const { basename, dirname, join } = await import('node:path');
  const aside = (dir: string, prefix: string): string[] => {
    try {
      return readdirSync(dir)
        .filter((n) => n.startsWith(prefix) && !/-(wal|shm)$/.test(n))
        .map((n) => join(dir, n));
    } catch {
      return [];
    }
  };
  const names = [
    ...aside(indexDir, 'index.db.corrupt-'),
    ...aside(dirname(indexDir), `${basename(indexDir)}.corrupt-`),
    ...aside(dirname(dirname(indexDir)), `${basename(dirname(indexDir))}.corrupt-`),
  ];
  if (names.length === 0) return [];
  const latest = names.reduce((a, b) =>
    a.slice(a.lastIndexOf('.corrupt-')) > b.slice(b.lastIndexOf('.corrupt-')) ? a : b,
  );
  return [
    {
      name: 'index repair',
      ok: true,
      level: 'warn',
      detail: `an unreadable index was moved aside and rebuilt from the notes ${names.length} time(s); latest kept as ${latest} (delete it once looked at)`,
    },
  ];
}

/**
 * The daemon actually serving this notes folder, asked over HTTP (its runtime file says where),
 * never the configuration echoed back: a daemon started on another port is reported there.
 */
async function daemonChecks(config: Config, lockOwner: number | undefined): Promise<[DoctorCheck, ...DoctorCheck[]]> {
  const { probeDaemon } = await import('../../daemon/runtime-file.ts');
  const p = await probeDaemon(config.indexDir);
  if (p.state !== 'serving') return [await daemonCheck(lockOwner, p)];
  const up = typeof p.health.uptime_s === 'number' ? `, up ${p.health.uptime_s} s` : '';
  const serving: DoctorCheck = {
    name: 'daemon',
    ok: true,
    detail: `serving ${p.info.url} (pid ${p.info.pid}, version ${p.info.version}${up})`,
  };
  const watch = p.health.watch as { folders?: unknown; polled?: unknown; poll_s?: unknown } | null | undefined;
  if (typeof watch?.polled !== 'number' || watch.polled === 0) return [serving];
  return [
    serving,
    {
      name: 'note watcher',
      ok: true,
      level: 'warn',
      detail:
        `${watch.polled} of ${String(watch.folders)} folders cannot be watched (the system's limit of file watches): ` +
        `they are read again every ${String(watch.poll_s)} s, so their changes arrive that late; raise the limit ` +
        '(Linux: sysctl fs.inotify.max_user_watches) and each is watched at its next read',
    },
  ];
}

async function daemonCheck(
  lockOwner: number | undefined,
  p: Exclude<Awaited<ReturnType<typeof import('../../daemon/runtime-file.ts').probeDaemon>>, { state: 'serving' }>,
): Promise<DoctorCheck> {
  switch (p.state) {
    case 'silent':
      return { name: 'daemon', ok: false, detail: `pid ${p.info.pid} should serve ${p.info.url}, but ${p.reason}` };
    case 'stale':
      return {
        name: 'daemon',
        ok: true,
        level: 'warn',
        detail: `not running: the daemon that served ${p.info.url} (pid ${p.info.pid}) stopped without a clean exit`,
      };
    case 'unreadable':
      // A garbled file must not read as "nothing runs" while a daemon holds the index.
      return {
        name: 'daemon',
        ok: true,
        level: 'warn',
        detail: lockOwner
          ? `${STATE_FILES.runtime} ${p.reason}; pid ${lockOwner} holds the index: restart the daemon to write it again`
          : `${STATE_FILES.runtime} ${p.reason} and no process holds the index: no daemon runs (the file can be removed)`,
      };
    default: {
      // No runtime file: a `notes-mcp index` may hold the index, or a daemon whose file was
      // removed; its command line tells which, so a serving daemon is never reported absent.
      const serves = lockOwner !== undefined && (await isServeProcess(lockOwner));
      if (serves)
        return {
          name: 'daemon',
          ok: true,
          level: 'warn',
          detail: `pid ${lockOwner} (notes-mcp serve) holds the index but left no ${STATE_FILES.runtime}: restart it so doctor and status can reach it`,
        };
      return {
        name: 'daemon',
        ok: true,
        detail: lockOwner
          ? `no daemon serves this notes folder; pid ${lockOwner} (e.g. "notes-mcp index") holds its index`
          : 'no daemon serves this notes folder',
      };
    }
  }
}

async function authSection(config: Config): Promise<DoctorCheck[]> {
  const { statSync } = await import('node:fs');
  const { isLoopbackHost } = await import('../../config/index.ts');
  const out: DoctorCheck[] = [];
  const { TokenStore } = await import('../../auth/tokens.ts');
  try {
    const tokens = new TokenStore(config.tokenStoreFile, config.token).list();
    let mode = '';
    try {
      mode = (statSync(config.tokenStoreFile).mode & 0o777).toString(8);
    } catch {
      mode = '';
    }
    const loose = mode !== '' && mode !== '600';
    out.push({
      name: 'tokens',
      ok: !loose,
      detail: `${tokens.length} stored (${tokens.filter((t) => t.scope === 'write').length} write)${config.token ? ' + NOTES_MCP_TOKEN' : ''}${loose ? `; ${config.tokenStoreFile} has mode ${mode}, run: chmod 600 "${config.tokenStoreFile}"` : ''}${tokens.length === 0 && !config.token ? '; the first serve creates one' : ''}`,
    });
  } catch (err) {
    out.push({ name: 'tokens', ok: false, detail: describeError(err) });
  }
  const exposed = !isLoopbackHost(config.host);
  out.push({
    name: 'serving',
    ok: config.auth || !exposed,
    detail: `configured for http://${config.host}:${config.port}/mcp, auth ${config.auth ? 'on' : 'OFF'}${exposed && config.allowedHosts.length === 0 ? '; bound beyond loopback but NOTES_MCP_ALLOWED_HOSTS is empty, so clients using a public name get 403' : ''}`,
  });
  return out;
}

async function verifySection(config: Config): Promise<DoctorCheck[]> {
  const { judgeVerifyRecord, readVerifyRecord } = await import('../../ops/verify-record.ts');
  const v = judgeVerifyRecord(readVerifyRecord(config.stateDir), Date.now());
  return [{ name: 'last verify', ok: true, detail: v.detail, ...(v.level === 'ok' ? {} : { level: v.level }) }];
}

/**
 * The note history cannot be recreated: a journal that cannot be read (a FIFO, a folder, no
 * permission) or kept versions gone from the last changes mean restore will fail for them.
 */
async function historySection(config: Config): Promise<DoctorCheck[]> {
  const { existsSync } = await import('node:fs');
  if (!existsSync(config.historyDir)) return [];
  const { History } = await import('../../history/index.ts');
  const history = History.forConfig(config);
  let entries: Awaited<ReturnType<typeof history.entries>>;
  try {
    entries = await history.entries();
  } catch (err) {
    return [{ name: 'history', ok: false, detail: `${describeError(err)}: restore it from a backup (RUNBOOK.md)` }];
  }
  // The most recent changes are the ones restore is asked for; checking all could take long.
  const recent = entries.slice(-50);
  let bad = 0;
  for (const e of recent) {
    for (const hash of [e.before, e.after]) {
      if (hash && !(await history.blob(hash)).ok) bad++;
    }
  }
  return [
    {
      name: 'history',
      ok: true,
      ...(bad > 0 ? { level: 'warn' as const } : {}),
      detail: `${entries.length} change(s) recorded in ${config.historyDir}${bad > 0 ? `; ${bad} kept version(s) of the last ${recent.length} changes are missing or damaged: restore of those fails` : ''}`,
    },
  ];
}

export const DOCTOR_SECTIONS: DoctorSection[] = [
  versionSection,
  runtimeSection,
  notesSection,
  modelSection,
  indexSection,
  authSection,
  historySection,
  verifySection,
];

export async function runDoctor(
  config: Config,
  sections: readonly DoctorSection[] = DOCTOR_SECTIONS,
): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  for (const section of sections) out.push(...(await section(config)));
  return out;
}

async function doctorAction(opts: GlobalOptions, io: CommandIO): Promise<void> {
  const config = await configFrom(opts);
  const checks = await runDoctor(config);
  const ok = checks.every((c) => c.ok);
  if (opts.json) printJson(io, { ok, checks });
  else {
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks)
      io.out(`${(c.ok ? (c.level ?? 'ok') : 'FAIL').padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`);
  }
  if (!ok) process.exitCode = 1;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this setup: Node, paths, the active embedding model and whether it loads offline')
    .option('--json', 'print JSON')
    .action(async (_opts: { json?: boolean }, cmd: Command) => {
      await doctorAction(cmd.optsWithGlobals(), processIO);
    });
}
