import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';

// Values that are the right JSON type for a field and wrong in every other way: the strings
// and numbers a confused or hostile agent sends. Shared by the fuzz tests.

/**
 * One seed for every property, so a failure is reproduced by running the file again.
 * FUZZ_SEED=<n> explores other inputs by hand; the suite always runs the fixed one.
 */
export const SEED = process.env.FUZZ_SEED === undefined ? 20_261_201 : Number(process.env.FUZZ_SEED);

/** Characters that break paths, encodings and parsers, mixed with any code point at all. */
const hostileUnit: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  // Lone surrogates: valid in a JS string and in JSON's \u escapes, not encodable as UTF-8.
  { weight: 2, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '\u0000',
      '/',
      '\\',
      '.',
      '..',
      '%',
      '%00',
      '%2F',
      '%2e%2e',
      '%ZZ',
      '\u202e', // right-to-left override
      '\u0301', // combining acute: NFD spellings
      'e\u0301',
      '\u00e9',
      '\ufeff',
      '\uffff',
      '\u{1f600}',
      ' ',
      '\n',
      '\r\n',
      '\t',
      '#',
      '?',
      '[[',
      ']]',
      '*',
      ':',
      '~',
      '$HOME',
      '`',
      '"',
      "'",
      '<script>',
      '---\n',
    ),
  },
);

/** A string of hostile characters. */
export function hostileString(maxLength = 40, minLength = 0): fc.Arbitrary<string> {
  return fc.string({ unit: hostileUnit, minLength, maxLength });
}

/**
 * Note paths: random segments, traversals, absolute paths into `outside`, the notes folder's
 * own escape hatches (a folder symlink, a file symlink), URIs with encoded dots, length edges.
 */
export function hostilePath(outside: string, existing: readonly string[]): fc.Arbitrary<string> {
  const segment = hostileString(12, 1);
  // Names a user could have chosen (any script, spaces, brackets), so calls reach the tools.
  const plausible = fc
    .array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 })
    .map((parts) => parts.map((p) => p.replace(/[/\\\u0000]/g, '_').replace(/^\.+/, '_')).join('/'))
    .chain((p) => fc.constantFrom(p, `${p}.md`));
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => p.join('/')) },
    { weight: 1, arbitrary: segment.map((s) => `${s}.md`) },
    { weight: 3, arbitrary: plausible },
    { weight: 3, arbitrary: fc.constantFrom(...existing) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '../outside/secret.md',
        '../outside/new.md',
        '../../../../../../etc/passwd',
        `${outside}/secret.md`,
        `${outside}/new.md`,
        'escape/secret.md',
        'escape/new.md',
        'escape',
        'link.md',
        'a.md\u0000.txt',
        '\u0000',
        'sub/../../outside/new.md',
        'sub/./a.md',
        './a.md',
        '.',
        '/',
        '//',
        '~/x.md',
        'note://../outside/secret.md',
        'note://%2e%2e/outside/new.md',
        'note://%2E%2E%2Foutside%2Fnew.md',
        'note://a%00.md',
        'note://%ZZ',
        'note://',
        'NOTE://alpha.md',
        'file:///etc/passwd',
        'C:\\Windows\\win.ini',
        '..\\outside\\new.md',
        '.notes-mcp-tmp-1-abc',
        '.git/config',
        'CON',
        'a'.repeat(255),
        'a'.repeat(256),
        `${'x'.repeat(1020)}.md`,
        `${'x'.repeat(1025)}.md`,
        `${'d/'.repeat(600)}deep.md`,
        'x'.repeat(4097),
      ),
    },
  );
}

/** Numbers: in range, at the edges, far beyond them, fractional, negative zero. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -3, max: 60 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, 50, 51, 500, 501, 10_000, 10_001, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, 0.5),
);

/** Any JSON value, its strings hostile, kept shallow (deep nesting is the HTTP fuzz's job). */
export const hostileJson: fc.Arbitrary<unknown> = fc
  .jsonValue({ maxDepth: 3 })
  .chain((v) =>
    fc.oneof(fc.constant(v), hostileString(), fc.dictionary(hostileString(8, 1), hostileString(), { maxKeys: 3 })),
  );

export const hash: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{64}$/),
  fc.constantFrom('0'.repeat(64), 'f'.repeat(64)),
);

/** Every file and link under `dir` (but not under `skip`), with a digest of its bytes. */
export function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (p === skip) continue;
      const s = lstatSync(p);
      const rel = relative(dir, p);
      if (s.isSymbolicLink()) out.set(rel, `link:${readlinkSync(p)}`);
      else if (s.isDirectory()) {
        out.set(rel, 'dir');
        walk(p);
      } else out.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

/** What a result (or an error's message) must never show a client. */
export function leaks(text: string, secrets: readonly string[], input: string): string | undefined {
  // A V8 stack frame: "    at fn (/x/y.js:1:2)" or "at /x/y.js:1:2".
  const frame = /\bat (?:[^\s()]+ )?\(?(?:file:\/\/)?\/[^\s()]*:\d+:\d+\)?/.exec(text);
  if (frame) return `a stack frame: ${frame[0]}`;
  // Absolute paths the daemon knows and the client did not send.
  for (const s of secrets) if (text.includes(s) && !input.includes(s)) return `the absolute path ${s}`;
  if (/node_modules\//.test(text) && !input.includes('node_modules')) return 'a node_modules path';
  return undefined;
}
