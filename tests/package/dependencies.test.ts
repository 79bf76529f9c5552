import { MIN_NODE } from '../../src/version.ts';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { REPO_ROOT } from '../helpers/tmp.ts';

// semver ships without types; only these two functions are used.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
  compare(a: string, b: string): number;
};

const Deps = z.record(z.string(), z.string());
const Pkg = z.object({
  engines: z.object({ node: z.string() }),
  dependencies: Deps,
  devDependencies: Deps,
});
const Lock = z.object({
  packages: z.record(
    z.string(),
    z.object({
      version: z.string().optional(),
      dev: z.boolean().optional(),
      os: z.array(z.string()).optional(),
      engines: z.union([z.record(z.string(), z.string()), z.array(z.string())]).optional(),
    }),
  ),
});

/** The systems notes-mcp supports (README, "Quick start"). */
const SUPPORTED_OS = ['linux', 'darwin'];
/**
 * A floor no engines field declares: better-sqlite3 13's prebuilt addon needs Node-API 10,
 * first in Node 22.14; on 22.12 and 22.13 (Node-API 9) it segfaults at the first SQLite call,
 * although its engines says >=22. Raise it when a dependency needs more.
 */
const NODE_API_FLOOR = { version: MIN_NODE, why: 'better-sqlite3 prebuilds need Node-API 10' };

const readJson = (...parts: string[]): unknown => JSON.parse(readFileSync(join(REPO_ROOT, ...parts), 'utf8'));
const pkg = () => Pkg.parse(readJson('package.json'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** Packages src/ imports at runtime (static, re-exports and dynamic), by package name. */
function importedPackages(): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /(?:^|[\s;])(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+'([^']+)'|import\('([^']+)'\)/gm,
    )) {
      if (m[2]) continue; // `import type` is erased: it needs no installed package
      const spec = m[3] ?? m[4] ?? '';
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const parts = spec.split('/');
      names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec));
    }
  }
  return names;
}

test('dependencies are exactly the packages src/ imports', () => {
  const imported = importedPackages();
  const declared = Object.keys(pkg().dependencies);
  assert.deepEqual(
    declared.filter((d) => !imported.has(d)),
    [],
    'declared but imported nowhere in src/: remove it, or move it to devDependencies',
  );
  assert.deepEqual(
    [...imported].filter((d) => !declared.includes(d)).sort(),
    [],
    'imported by src/ but not a dependency',
  );
});

test('onnxruntime-node is pinned to the version @huggingface/transformers uses', () => {
  const transformers = z
    .object({ dependencies: Deps })
    .parse(readJson('node_modules', '@huggingface', 'transformers', 'package.json'));
  const pinned = pkg().devDependencies['onnxruntime-node'];
  assert.ok(pinned, 'onnxruntime-node in devDependencies (only bench/embed.ts imports it)');
  assert.equal(pinned, transformers.dependencies['onnxruntime-node']);
  assert.equal(pkg().dependencies['onnxruntime-node'], undefined);
});

test('engines.node is the highest minimum of any runtime dependency (or the Node-API floor), and satisfies them all', () => {
  const ours = semver.minVersion(pkg().engines.node)?.version;
  assert.ok(ours, pkg().engines.node);
  let highest = '0.0.0';
  let by = '';
  for (const [path, entry] of Object.entries(Lock.parse(readJson('package-lock.json')).packages)) {
    if (path === '' || entry.dev || !entry.engines || Array.isArray(entry.engines)) continue;
    // Optional builds for other systems (sharp's win32 ones) never install where notes-mcp runs.
    if (entry.os && !entry.os.some((os) => SUPPORTED_OS.includes(os))) continue;
    const range = entry.engines.node;
    if (!range) continue;
    assert.ok(semver.satisfies(ours, range), `${path} needs node ${range}; engines says ${pkg().engines.node}`);
    const min = semver.minVersion(range)?.version ?? '0.0.0';
    if (semver.compare(min, highest) > 0) {
      highest = min;
      by = path;
    }
  }
  if (semver.compare(NODE_API_FLOOR.version, highest) > 0) {
    highest = NODE_API_FLOOR.version;
    by = NODE_API_FLOOR.why;
  }
  assert.equal(ours, highest, `the strictest requirement is ${by} (node ${highest})`);
});
