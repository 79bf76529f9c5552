import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { openEmbedder } from '../../src/embed/index.ts';
import type { Embedder } from '../../src/embed/types.ts';
import { NotesIndex } from '../../src/index/index.ts';
import { silentLogger } from '../../src/log.ts';
import { REPO_ROOT, tempDir, unpackCorpus } from './tmp.ts';

type T = { after: (fn: () => unknown) => void };

let tldrCache: string | undefined;

/** The tldr-en pages unpacked once per test process (read-only: copy before changing). */
export function tldrPages(t: T): string {
  if (!tldrCache) {
    const dir = tempDir({ after: () => undefined }, 'notes-mcp-tldr-');
    unpackCorpus('tldr-en', dir);
    tldrCache = dir;
  }
  void t;
  return tldrCache;
}

/** A vault of the first `n` pages of each listed tldr platform folder, copied into a temp dir. */
export function tldrVault(t: T, folders: Record<string, number>): string {
  const src = tldrPages(t);
  const dest = tempDir(t, 'notes-mcp-vault-');
  for (const [folder, n] of Object.entries(folders)) {
    const from = join(src, 'pages', folder);
    const names = readdirSync(from).sort().slice(0, n);
    mkdirSync(join(dest, folder), { recursive: true });
    for (const name of names) cpSync(join(from, name), join(dest, folder, name));
  }
  return dest;
}

export function writeNotes(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
}

/**
 * A large note of `count` sections of 60 distinct pseudo-random words each (15,000 sections:
 * ~7 MB, 10-20 s of embedding): what keeps index work busy while a test stops the daemon.
 */
export function manySectionsNote(count: number, seed: number): string {
  let x = seed;
  const word = (): string => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return `w${x.toString(36)}`;
  };
  const sections: string[] = [];
  for (let i = 0; i < count; i++) sections.push(`# s${i}\n${Array.from({ length: 60 }, word).join(' ')}`);
  return `${sections.join('\n')}\n`;
}

export function testConfig(notes: string, state: string, extra: Record<string, unknown> = {}): Config {
  return loadConfig({ env: { HOME: state }, flags: { notes, state, model: 'bundled', logLevel: 'silent', ...extra } });
}

let embedder: Promise<Embedder> | undefined;
/** One bundled-model embedder shared by a test file. */
export function sharedEmbedder(): Promise<Embedder> {
  embedder ??= openEmbedder({ model: 'bundled', modelsDir: '/nonexistent', log: silentLogger() });
  return embedder;
}

export async function openTestIndex(t: T, notes: string, state?: string): Promise<NotesIndex> {
  const s = state ?? tempDir(t, 'notes-mcp-state-');
  const index = await NotesIndex.open({
    config: testConfig(notes, s),
    embedder: await sharedEmbedder(),
    log: silentLogger(),
    saveDelayMs: 60_000,
  });
  t.after(() => index.close());
  return index;
}

/** A copy of tests/fixtures/obsidian-vault (wikilinks, aliases, nested folders, one title twice). */
export function obsidianVault(t: T): string {
  const dest = tempDir(t, 'notes-mcp-obsidian-');
  cpSync(join(REPO_ROOT, 'tests', 'fixtures', 'obsidian-vault'), dest, { recursive: true });
  return dest;
}
