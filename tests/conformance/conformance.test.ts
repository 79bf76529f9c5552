import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { BIN, REPO_ROOT, tempDir } from '../helpers/tmp.ts';

// The official MCP conformance suite (2025 revisions, no token) run against the real daemon
// on loopback with --no-auth. Scenarios that need the suite's own fixtures (tools such as
// `test_simple_text`, `test://` resources, `test_*` prompts) are listed with a reason in
// expected-failures.json; any other failure is a notes-mcp bug, and a listed scenario that
// starts passing fails the run so the list cannot go stale.

const EXPECTED_FAILURES_FILE = join(REPO_ROOT, 'tests', 'conformance', 'expected-failures.json');
const SUITE_TIMEOUT_MS = 120_000;

const ExpectedFailures = z
  .array(z.strictObject({ scenario: z.string().min(1), reason: z.string().min(10) }))
  .refine((list) => new Set(list.map((e) => e.scenario)).size === list.length, 'a scenario is listed twice');

const SuitePackage = z.object({ version: z.string(), bin: z.object({ conformance: z.string() }) });

// One entry of the suite's checks.json; only `status === 'FAILURE'` fails a scenario (as in the
// suite's own summary), WARNING and INFO are reported but do not.
const Check = z.object({
  id: z.string(),
  status: z.string().min(1),
  errorMessage: z.string().optional(),
  details: z.unknown().optional(),
});
const Checks = z.array(Check);
type Check = z.infer<typeof Check>;

const ServingLine = z.object({ msg: z.literal('serving'), url: z.url() });

interface ScenarioResult {
  scenario: string;
  failed: boolean;
  checks: Check[];
}

const NOTES: Record<string, string> = {
  'welcome.md': '---\ntitle: Welcome\ntags: [intro]\n---\n# Welcome\n\nThese notes are served over MCP.\n',
  'projects/garden.md':
    '---\ntitle: Garden plan\ntags: [home, outdoor]\n---\n# Garden plan\n\nPlant tomatoes in spring.\n\n## Watering\n\nWater every morning.\n',
  'journal/2026-11-20.md': '# Thursday\n\nMet Ana about the zeppelin museum trip.\n',
};

function suiteCli(): { cli: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('@modelcontextprotocol/conformance/package.json');
  const pkg = SuitePackage.parse(JSON.parse(readFileSync(pkgPath, 'utf8')));
  return { cli: join(dirname(pkgPath), pkg.bin.conformance), version: pkg.version };
}

/** The caller's environment without NOTES_MCP_* (a config file or log level there would change the daemon). */
function hermeticEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NOTES_MCP_')));
}

/** Collects a child's output and resolves the daemon's URL from its "serving" log line. */
function startDaemon(notes: string, state: string): { child: ChildProcess; url: Promise<string>; log: () => string } {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', notes, '--state', state, '--port', '0', '--no-auth', '--model', 'bundled'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...hermeticEnv(), HOME: state } },
  );
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      // Only whole lines: a chunk may end in the middle of one.
      for (const line of out.split('\n').slice(0, -1)) {
        if (!line.includes('"msg":"serving"')) continue;
        const parsed = ServingLine.safeParse(JSON.parse(line));
        if (parsed.success) resolve(parsed.data.url);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code} before serving:\n${out}`)));
  });
  return { child, url, log: () => out };
}

async function runSuite(
  cli: string,
  url: string,
  outDir: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, 'server', '--url', url, '--output-dir', outDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), SUITE_TIMEOUT_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

// Results land in <outDir>/server-<scenario>-<ISO timestamp with ':' and '.' as '-'>/checks.json.
const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

function readResults(ran: readonly string[], outDir: string): ScenarioResult[] {
  const dirs = new Map<string, string>();
  for (const name of readdirSync(outDir)) {
    const m = RESULT_DIR.exec(name);
    if (m?.[1]) dirs.set(m[1], join(outDir, name, 'checks.json'));
  }
  return ran.map((scenario) => {
    const file = dirs.get(scenario);
    // The suite writes no checks.json when a scenario throws before producing checks.
    if (file === undefined || !existsSync(file)) {
      const missing: Check = { id: scenario, status: 'FAILURE', errorMessage: 'the suite wrote no results' };
      return { scenario, failed: true, checks: [missing] };
    }
    const checks = Checks.parse(JSON.parse(readFileSync(file, 'utf8')));
    return { scenario, failed: checks.some((c) => c.status === 'FAILURE'), checks };
  });
}

function describeFailure(r: ScenarioResult): string {
  const bad = r.checks.filter((c) => c.status === 'FAILURE');
  const text = bad.map((c) => `${c.id}: ${c.errorMessage ?? JSON.stringify(c.details ?? {})}`).join('; ');
  return `${r.scenario} (${text.slice(0, 600)})`;
}

test('the official MCP conformance suite passes, except scenarios that need its own fixtures', {
  timeout: 240_000,
}, async (t) => {
  const expected = ExpectedFailures.parse(JSON.parse(readFileSync(EXPECTED_FAILURES_FILE, 'utf8')));
  const expectedNames = new Set(expected.map((e) => e.scenario));
  const { cli, version } = suiteCli();

  const notes = tempDir(t, 'notes-mcp-conf-notes-');
  const state = tempDir(t, 'notes-mcp-conf-state-');
  const outDir = tempDir(t, 'notes-mcp-conf-results-');
  for (const [rel, text] of Object.entries(NOTES)) {
    mkdirSync(dirname(join(notes, rel)), { recursive: true });
    writeFileSync(join(notes, rel), text);
  }

  const daemon = startDaemon(notes, state);
  t.after(() => {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
  });
  const url = await daemon.url;

  const suite = await runSuite(cli, url, outDir);
  // Exit 1 only means "some scenario failed"; anything else is the suite itself breaking.
  assert.ok(suite.code === 0 || suite.code === 1, `suite exited with ${suite.code}:\n${suite.stderr}`);
  const ran = [...suite.stdout.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1] ?? '');
  const announced = /Running \w+ suite \((\d+) scenarios\)/.exec(suite.stdout)?.[1];
  assert.ok(ran.length > 0, `the suite ran no scenario:\n${suite.stdout}\n${suite.stderr}`);
  assert.equal(ran.length, Number(announced), 'every announced scenario ran');

  const results = readResults(ran, outDir);
  const unexpectedFailures = results.filter((r) => r.failed && !expectedNames.has(r.scenario)).map(describeFailure);
  const unexpectedPasses = results.filter((r) => !r.failed && expectedNames.has(r.scenario)).map((r) => r.scenario);
  const unknownListed = [...expectedNames].filter((s) => !ran.includes(s));
  const warnings = results.flatMap((r) =>
    r.checks.filter((c) => c.status === 'WARNING').map((c) => `${r.scenario}/${c.id}: ${c.errorMessage ?? ''}`),
  );

  t.diagnostic(
    `conformance ${version}: ${results.filter((r) => !r.failed).length} passed, ` +
      `${results.filter((r) => r.failed).length} failed (${expected.length} expected) of ${results.length}`,
  );
  for (const w of warnings) t.diagnostic(`warning ${w}`);

  daemon.child.kill('SIGTERM');
  const hung = setTimeout(() => daemon.child.kill('SIGKILL'), 15_000);
  const [code, signal] = (await once(daemon.child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(hung);
  const logged = daemon.log();
  const errorLines = logged.split('\n').filter((l) => /"level":"(error|fatal)"/.test(l));

  assert.deepEqual(
    { unexpectedFailures, unexpectedPasses, unknownListed },
    { unexpectedFailures: [], unexpectedPasses: [], unknownListed: [] },
    'unexpected failures are notes-mcp bugs; unexpected passes and unknown names mean expected-failures.json is stale',
  );
  assert.deepEqual(errorLines, [], 'the daemon logged no errors while the suite ran');
  assert.equal(signal, null, logged);
  assert.equal(code, 0, logged);
});
