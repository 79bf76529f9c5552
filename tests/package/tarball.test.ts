import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';

// What `npm run tarball` (.ci/pack) ships. Installing it for real needs the registry, so that
// part lives in .ci/run; this checks the tarball's contents and that it starts from them.

const PackedPackage = z.object({
  name: z.string(),
  bin: z.record(z.string(), z.string()),
  files: z.array(z.string()),
  dependencies: z.record(z.string(), z.string()),
  scripts: z.unknown().optional(),
  devDependencies: z.unknown().optional(),
  allowScripts: z.unknown().optional(),
});

function pack(t: { after: (fn: () => void) => void }): { dir: string; files: string[] } {
  const dir = tempDir(t, 'notes-mcp-pack-');
  const tgz = execFileSync('bash', [join(REPO_ROOT, '.ci', 'pack'), dir], { encoding: 'utf8' }).trim();
  assert.match(tgz, /notes-mcp-\d+\.\d+\.\d+.*\.tgz$/);
  const files = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((f) => f.replace(/^package\//, ''));
  execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  return { dir: join(dir, 'package'), files };
}

test('the tarball holds what runs and nothing else', { timeout: 120_000 }, (t) => {
  const { dir, files } = pack(t);
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'bin/notes-mcp.js',
    'dist/src/cli/main.js',
    'dist/src/index/vector-worker.js',
    'models/bundled/onnx/model.onnx',
    'models/bundled/tokenizer.json',
    'models/bundled/README.md',
  ]) {
    assert.ok(files.includes(f), `ships ${f}`);
  }
  const top = new Set(files.map((f) => f.split('/')[0]));
  assert.deepEqual(
    [...top].sort(),
    ['CHANGELOG.md', 'LICENSE', 'README.md', 'bin', 'dist', 'models', 'package.json'],
    'no scripts/, tests, benches or example configs',
  );
  assert.deepEqual(
    files.filter((f) => f.startsWith('dist/') && !f.startsWith('dist/src/')),
    [],
  );
  assert.deepEqual(
    files.filter((f) => f.endsWith('.map') || f.endsWith('.ts')),
    [],
  );
  for (const f of files.filter((x) => x.endsWith('.js'))) {
    assert.doesNotMatch(readFileSync(join(dir, f), 'utf8'), /sourceMappingURL/, `${f} points at no source map`);
  }

  const pkg = PackedPackage.parse(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
  // A development script in a tarball is listed as an unreviewed install script on every install.
  assert.equal(pkg.scripts, undefined);
  assert.equal(pkg.devDependencies, undefined);
  assert.equal(pkg.allowScripts, undefined);
  assert.deepEqual(pkg.bin, { 'notes-mcp': 'bin/notes-mcp.js' });
});

test('the unpacked tarball starts: the launcher finds the compiled CLI and the bundled model', {
  timeout: 120_000,
}, (t) => {
  const { dir } = pack(t);
  // The dependencies a real install would put beside it.
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const bin = join(dir, 'bin', 'notes-mcp.js');
  assert.match(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }), /^\d+\.\d+\.\d+/);
  const state = tempDir(t, 'notes-mcp-pack-state-');
  const info = execFileSync(process.execPath, [bin, 'model', 'info', 'bundled', '--state', state, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, HOME: state },
  });
  assert.ok(info.includes(join(dir, 'models', 'bundled')), info);
});
