import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (tests run compiled from dist/tests/...). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Real notes written outside the project (tldr pages): ../shared/corpora, or $NOTES_MCP_CORPORA. */
export const CORPORA = process.env.NOTES_MCP_CORPORA ?? resolve(REPO_ROOT, '..', 'shared', 'corpora');
export const BIN = join(REPO_ROOT, 'bin', 'notes-mcp.js');

/** A temp folder removed when the test ends. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'notes-mcp-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Unpack a corpus archive from ../shared/corpora into dir; returns the folder holding the pages. */
export function unpackCorpus(name: 'tldr-en' | 'tldr-all', dir: string): string {
  execFileSync('tar', ['-xzf', join(CORPORA, `${name}.tar.gz`), '-C', dir]);
  return dir;
}
