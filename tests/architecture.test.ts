import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/tmp.ts';

// The architecture in docs/architecture.md, checked: data flows one way, and a part is used
// only through its public surface (its index.ts, or its types.ts for types).

/** What each part may import (besides the shared root modules: errors, log, fs-atomic, version). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  config: [],
  notes: [],
  chunk: [],
  embed: [],
  history: ['config', 'notes'],
  index: ['config', 'notes', 'chunk', 'embed'],
  search: ['config', 'notes', 'chunk', 'embed', 'index'],
  auth: ['config'],
  mcp: ['config', 'notes', 'chunk', 'embed', 'index', 'search', 'history'],
  http: ['config', 'notes', 'index', 'search', 'auth', 'mcp'],
  daemon: ['config', 'notes', 'chunk', 'embed', 'index', 'search', 'auth', 'mcp', 'http', 'history'],
  ops: ['config'],
  cli: ['config', 'notes', 'chunk', 'embed', 'index', 'search', 'auth', 'mcp', 'http', 'daemon', 'ops', 'history'],
};
const ROOT_MODULES = new Set(['errors.ts', 'log.ts', 'log-levels.ts', 'fs-atomic.ts', 'version.ts']);

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (name.endsWith('.ts')) yield p;
  }
}

function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) out.push(m[1]!);
  return out;
}

test('every part imports only the parts above it, through their public surface', () => {
  const src = join(REPO_ROOT, 'src');
  const problems: string[] = [];
  for (const file of files(src)) {
    const rel = relative(src, file).split(sep).join('/');
    const part = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : undefined;
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = relative(src, join(file, '..', spec))
        .split(sep)
        .join('/');
      if (target.startsWith('..')) {
        problems.push(`${rel}: imports outside src/: ${spec}`);
        continue;
      }
      const targetPart = target.includes('/') ? target.slice(0, target.indexOf('/')) : undefined;
      if (targetPart === undefined) {
        if (!ROOT_MODULES.has(target)) problems.push(`${rel}: imports ${target}, which is not a shared root module`);
        continue;
      }
      if (part === undefined) {
        // Root modules are below every part: they import none.
        problems.push(`${rel}: a root module imports the part ${targetPart}`);
        continue;
      }
      if (targetPart === part) continue;
      const allowed = MAY_IMPORT[part];
      assert.ok(allowed, `src/${part}/ is missing from MAY_IMPORT (and from docs/architecture.md)`);
      if (!allowed.includes(targetPart)) problems.push(`${rel}: ${part} may not import ${targetPart} (${spec})`);
      // The command line loads heavy modules by file on demand, to keep --help fast.
      const surface = target === `${targetPart}/index.ts` || target === `${targetPart}/types.ts`;
      if (!surface && part !== 'cli') problems.push(`${rel}: reaches into ${target} instead of ${targetPart}/index.ts`);
    }
  }
  assert.deepEqual(problems, []);
});

test('docs/architecture.md names every part under src/', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8');
  const parts = readdirSync(join(REPO_ROOT, 'src')).filter((n) => statSync(join(REPO_ROOT, 'src', n)).isDirectory());
  for (const p of parts) {
    assert.match(doc, new RegExp(`\`src/${p}/\``), `docs/architecture.md does not describe src/${p}/`);
    assert.ok(MAY_IMPORT[p], `MAY_IMPORT has no entry for src/${p}/`);
  }
});
