import type { Command } from 'commander';
import type { Config } from '../../config/index.ts';
import { describeError, NotesError } from '../../errors.ts';
import { type CommandIO, configFrom, type GlobalOptions, printJson, processIO } from '../context.ts';

// `notes-mcp doctor`: what is wrong with this setup, as a list of named checks. Each section
// is a function returning checks; later sections (index, tokens, server) are appended to
// DOCTOR_SECTIONS. Heavy modules are imported inside the sections that need them.

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export type DoctorSection = (config: Config) => Promise<DoctorCheck[]>;

const MIN_NODE_MAJOR = 22;

async function runtimeSection(config: Config): Promise<DoctorCheck[]> {
  const major = Number(process.versions.node.split('.')[0]);
  return [
    {
      name: 'node',
      ok: major >= MIN_NODE_MAJOR,
      detail: `Node ${process.versions.node} (${process.execPath})${major >= MIN_NODE_MAJOR ? '' : `: notes-mcp needs Node ${MIN_NODE_MAJOR} or newer`}`,
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
export const DOCTOR_SECTIONS: DoctorSection[] = [runtimeSection, modelSection];

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
    for (const c of checks) io.out(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
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
