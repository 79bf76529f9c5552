import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, SCRIPTS } from './helpers.ts';

// Every shell script: shellcheck-clean (default severity, following sourced files), strict
// mode, and a --help that works without any stand-in or side effect; provision.sh's phases
// one file each under scripts/lib/provision/, run in one visible order.

const TOP = readdirSync(SCRIPTS).filter((f) => f.endsWith('.sh'));
const LIB = readdirSync(join(SCRIPTS, 'lib')).filter((f) => f.endsWith('.sh'));
const PHASE_FILES = readdirSync(join(SCRIPTS, 'lib', 'provision')).filter((f) => f.endsWith('.sh'));
const STUBS = readdirSync(join(FIXTURES, 'macos', 'bin'));

test('the ops kit ships the four scripts', () => {
  for (const s of ['provision.sh', 'provision-remote.sh', 'verify.sh', 'uninstall.sh'])
    assert.ok(TOP.includes(s), `${s} is missing`);
});

test('shellcheck finds nothing in scripts/ and the stand-in macOS commands', () => {
  // A missing shellcheck fails here rather than skipping: .ci/run installs it.
  assert.equal(
    spawnSync('shellcheck', ['--version']).status,
    0,
    'shellcheck is not installed (apt-get install shellcheck)',
  );
  // The top-level scripts with -x cover what they source (lib/common.sh, lib/provision/*.sh).
  const files = [
    ...TOP.map((f) => join(SCRIPTS, f)),
    ...LIB.map((f) => join(SCRIPTS, 'lib', f)),
    ...STUBS.map((f) => join(FIXTURES, 'macos', 'bin', f)),
  ];
  const r = spawnSync('shellcheck', ['-x', '--severity=style', ...files], { encoding: 'utf8', cwd: SCRIPTS });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('provision.sh runs its phases in one visible order, each in a file of its own', () => {
  const main = readFileSync(join(SCRIPTS, 'provision.sh'), 'utf8');
  const phases = [...(/^PHASES=\(\n([\s\S]*?)\n\)$/m.exec(main)?.[1] ?? '').matchAll(/^\s+(\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(phases, [
    'preflight',
    'tools',
    'release',
    'service_user',
    'tls',
    'stage',
    'converge',
    'nginx',
    'jobs',
    'power',
    'summary',
  ]);
  const sourced = [...main.matchAll(/^\. "\$HERE\/lib\/provision\/([\w-]+\.sh)"$/gm)].map((m) => m[1]);
  assert.deepEqual([...sourced].sort(), [...PHASE_FILES].sort(), 'every phase file is sourced');
  for (const phase of phases) {
    const file = `${phase?.replace(/_/g, '-')}.sh`;
    const text = readFileSync(join(SCRIPTS, 'lib', 'provision', file), 'utf8');
    assert.match(text, new RegExp(`^phase_${phase}\\(\\) \\{$`, 'm'), `${file} defines phase_${phase}`);
    // Readable in one sitting.
    assert.ok(text.split('\n').length <= 200, `${file} has ${text.split('\n').length} lines`);
  }
  assert.ok(main.split('\n').length <= 80, 'provision.sh itself stays a table of contents');
});

test('every script runs in strict mode and answers --help', () => {
  for (const f of TOP) {
    const text = readFileSync(join(SCRIPTS, f), 'utf8');
    assert.match(text, /^#!\/usr\/bin\/env bash\n/, `${f}: bash shebang`);
    assert.match(text, /^set -euo pipefail$/m, `${f}: set -euo pipefail`);
    const r = spawnSync('bash', [join(SCRIPTS, f), '--help'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    assert.equal(r.status, 0, `${f} --help: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: /, `${f} --help prints usage`);
  }
});

test('unknown options are refused with a pointer to --help', () => {
  for (const f of TOP) {
    const r = spawnSync('bash', [join(SCRIPTS, f), 'x@y', '--no-such-option'], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
    });
    if (f === 'provision-remote.sh') continue; // unknown options are passed on to provision.sh
    assert.notEqual(r.status, 0, `${f} accepted --no-such-option`);
    assert.match(r.stderr, /--help/, `${f}: ${r.stderr}`);
  }
});
