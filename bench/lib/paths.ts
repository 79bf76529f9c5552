import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (benches run compiled from dist/bench/...). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The CLI launcher, as a user runs it. */
export const BIN = join(REPO_ROOT, 'bin', 'notes-mcp.js');
/** The labelled questions about the tldr-en pages (bench/eval), also used as realistic queries. */
export const QUESTIONS_FILE = join(REPO_ROOT, 'bench', 'eval', 'tldr-en-questions.json');
