import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run compiled from dist/tests/...). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/**
 * Real notes written outside the project (tldr pages, CC BY 4.0), kept in the repository so the
 * tests need nothing beside the clone. Always these copies: the tests' counts and names are pinned
 * to them (tests/fixtures/corpora/README.md).
 */
export const CORPORA = join(REPO_ROOT, 'tests', 'fixtures', 'corpora');
export const BIN = join(REPO_ROOT, 'bin', 'notes-mcp.js');

/** A temp folder removed when the test ends. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'notes-mcp-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Unpack a corpus archive from CORPORA into dir; returns the folder holding the pages. */
export function unpackCorpus(name: 'tldr-en' | 'tldr-all', dir: string): string {
  execFileSync('tar', ['-xzf', join(CORPORA, `${name}.tar.gz`), '-C', dir]);
  return dir;
}
