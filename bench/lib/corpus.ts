import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './paths.ts';

export type CorpusName = 'tldr-en' | 'tldr-all';

/**
 * Folders searched for the tldr archives, in order: $NOTES_MCP_CORPORA alone when it is set (so
 * a run measures what was asked for), else the copies the tests use, else ../shared/corpora.
 */
export function corpusPlaces(): string[] {
  const env = process.env.NOTES_MCP_CORPORA;
  if (env) return [resolve(env)];
  return [join(REPO_ROOT, 'tests', 'fixtures', 'corpora'), resolve(REPO_ROOT, '..', 'shared', 'corpora')];
}

/** The archive's path; a missing corpus ends the bench with one line saying where it looked. */
export function corpusArchive(name: CorpusName): string {
  const places = corpusPlaces();
  for (const dir of places) {
    const file = join(dir, `${name}.tar.gz`);
    if (existsSync(file)) return file;
  }
  process.stderr.write(
    `bench: corpus ${name} is missing: no ${name}.tar.gz in ${places.join(' or ')}; ` +
      'set NOTES_MCP_CORPORA to the folder that holds it\n',
  );
  process.exit(2);
}

/** Unpack a corpus into dir (its LICENSE.md and the pages folders); returns dir. */
export function unpackCorpus(name: CorpusName, dir: string): string {
  execFileSync('tar', ['-xzf', corpusArchive(name), '-C', dir]);
  return dir;
}
