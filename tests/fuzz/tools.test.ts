import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { type AnyClient, connectBoth, startTestDaemon } from '../helpers/daemon.ts';
import { REPO_ROOT, tempDir } from '../helpers/tmp.ts';
import { writeNotes } from '../helpers/vault.ts';
import { hash, hostileJson, hostileNumber, hostilePath, hostileString, leaks, SEED, snapshot } from './arbitraries.ts';

// Every tool's arguments, of the right JSON shape and hostile in value, through both SDK clients
// against a real daemon over HTTP: each call is answered (a result, never a transport error),
// no answer shows a stack frame or an absolute path of the server's, and nothing outside the
// notes folder is written, though the folder holds symlinks pointing out of it.

const RUNS = 120;

type Args = Record<string, unknown>;

function toolArbitraries(outside: string, existing: readonly string[]): Record<string, fc.Arbitrary<Args>> {
  const path = hostilePath(outside, existing);
  const str = hostileString();
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
  // Mostly in range, so calls get past the schema into the tool's body; sometimes not at all.
  const int = (min: number, max: number) =>
    fc.oneof({ weight: 6, arbitrary: fc.integer({ min, max }) }, { weight: 1, arbitrary: hostileNumber });
  // Drop undefined fields: JSON would drop them anyway, and the report reads better.
  const obj = (model: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Args> =>
    fc.record(model).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as Args);
  const date = fc.oneof(
    { weight: 4, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
    fc.constantFrom('2026-01-01', '1970-01-01T00:00:00Z', '9999-12-31', '0000-00-00', 'yesterday', ''),
    str,
  );
  const op = fc.oneof(
    obj({ op: fc.constant('replace'), old: hostileString(20, 1), new: str, expected_count: opt(int(1, 10_000)) }),
    obj({ op: fc.constant('prepend'), text: str }),
    obj({ op: fc.constant('append'), text: str }),
    obj({
      op: fc.constant('replace_section'),
      heading: fc.oneof(hostileString(20, 1), fc.array(hostileString(10, 1), { minLength: 1, maxLength: 7 })),
      content: str,
    }),
    obj({
      op: fc.constant('set_front_matter'),
      values: fc.dictionary(hostileString(10, 1), hostileJson, { maxKeys: 4 }),
    }),
    obj({
      op: fc.constant('remove_front_matter'),
      keys: fc.array(hostileString(10, 1), { minLength: 1, maxLength: 4 }),
    }),
    obj({
      op: fc.constantFrom('add_tags', 'remove_tags'),
      tags: fc.array(hostileString(10, 1), { minLength: 1, maxLength: 4 }),
    }),
  );
  return {
    search_notes: obj({
      query: fc.oneof(
        hostileString(60, 1),
        fc.constantFrom('alpha', '"', '*', 'NEAR(a b)', 'a OR', '-', '^', 'x'.repeat(2000)),
      ),
      k: opt(int(1, 50)),
      offset: opt(int(0, 500)),
      folder: opt(fc.oneof(path, str)),
      tags: opt(fc.array(str, { maxLength: 11 })),
      modified_after: opt(date),
      modified_before: opt(date),
      one_per_note: opt(fc.boolean()),
    }),
    read_note: obj({
      path: opt(path),
      uri: opt(
        fc.oneof(
          path,
          path.map((p) => `note://${p}`),
          path.map((p) => `note://${encodeURIComponent(p.toWellFormed())}`),
          fc.constantFrom('note://%ED%A0%80.md', 'note://%C0%AE%C0%AE/outside/new.md', 'note://%FF'),
        ),
      ),
      start_line: opt(int(1, 1_000_000)),
      end_line: opt(int(1, 1_000_000)),
    }),
    write_note: obj({
      path,
      content: fc.oneof(
        { weight: 9, arbitrary: hostileString(200) },
        { weight: 1, arbitrary: fc.constant('y'.repeat(300_000)) },
      ),
      mode: opt(fc.constantFrom('create', 'append', 'overwrite')),
      expected_hash: opt(hash),
    }),
    list_notes: obj({
      folder: opt(fc.oneof(path, str)),
      tag: opt(str),
      modified_after: opt(date),
      limit: opt(int(1, 500)),
      cursor: opt(fc.oneof(str, fc.base64String({ maxLength: 60 }), fc.constantFrom('eyJ4IjoxfQ', 'AAAA', ''))),
    }),
    reindex: obj({ full: opt(fc.boolean()) }),
    edit_note: obj({ path, operations: fc.array(op, { minLength: 1, maxLength: 4 }), expected_hash: opt(hash) }),
    move_note: obj({ from: path, to: path, expected_hash: opt(hash), update_links: opt(fc.boolean()) }),
    delete_note: obj({ path, expected_hash: opt(hash) }),
    restore_note: obj({ path, version: opt(hash), expected_hash: opt(hash) }),
    note_history: obj({
      path: opt(path),
      limit: opt(int(1, 100)),
      before: opt(fc.oneof(str, fc.stringMatching(/^[0-9a-z-]{1,64}$/))),
    }),
    related_notes: obj({ path: opt(path), uri: opt(path.map((p) => `note://${p}`)), k: opt(int(1, 20)) }),
  };
}

test('every tool, hostile arguments, both clients: always an answer, no stack or server path, nothing written outside', {
  timeout: 240_000,
}, async (t) => {
  const top = tempDir(t, 'notes-mcp-fuzz-');
  const notes = join(top, 'notes');
  const outside = join(top, 'outside');
  mkdirSync(outside);
  writeNotes(outside, { 'secret.md': '# Secret\n\nnot for clients\n', 'keep.txt': 'keep\n' });
  const existing = ['alpha.md', 'sub/beta.md', 'Unicode é/naïve.md', 'links.md'];
  writeNotes(notes, {
    'alpha.md': '---\ntags: [one, two]\naliases: [First]\n---\n# Alpha\n\nalpha text #inline\n\n## Section\n\nmore\n',
    'sub/beta.md': '# Beta\n\nbeta links to [[alpha]] and [a](../alpha.md)\n',
    'Unicode é/naïve.md': '# Naïve\n\nunicode folder\n',
    'links.md': '# Links\n\n[[Alpha]] [[sub/beta|b]] ![[alpha#Section]]\n',
  });
  // Ways out of the folder that a path check must see through.
  symlinkSync('../outside', join(notes, 'escape'));
  symlinkSync('../outside/secret.md', join(notes, 'link.md'));
  const d = await startTestDaemon(t, notes, { rateLimitPerMinute: 100_000_000 });
  const clients = await connectBoth(t, d.url);
  const state = d.index.config.stateDir;
  const secrets = [
    ...new Set([notes, realpathSync(notes), state, realpathSync(state), top, realpathSync(top), REPO_ROOT]),
  ];
  const before = snapshot(top, notes);

  const arbs = toolArbitraries(outside, existing);
  const counts: Record<string, { ok: number; error: number }> = {};
  for (const [tool, arb] of Object.entries(arbs)) {
    counts[tool] = { ok: 0, error: 0 };
    await fc.assert(
      // The client by index: a counterexample then prints as [args, 0], not a client object.
      fc.asyncProperty(arb, fc.constantFrom(0, 1), async (args, which) => {
        const c: AnyClient = clients[which]!;
        const input = JSON.stringify(args);
        let r: Awaited<ReturnType<AnyClient['callTool']>>;
        try {
          r = await c.callTool(tool, args);
        } catch (err) {
          assert.fail(`${c.era} client, ${tool}: a transport error instead of a result: ${String(err).slice(0, 300)}`);
        }
        counts[tool]![r.isError === true ? 'error' : 'ok']++;
        const leak = leaks(JSON.stringify(r), secrets, input);
        assert.equal(leak, undefined, `${c.era} client, ${tool}: the answer shows ${leak}`);
      }),
      { seed: SEED, numRuns: tool === 'reindex' ? 6 : RUNS, endOnFailure: true },
    );
  }
  assert.deepEqual(snapshot(top, notes), before, 'nothing outside the notes folder changed');
  // The fuzz reached the tools' bodies, not only their schemas.
  for (const tool of ['search_notes', 'read_note', 'write_note', 'list_notes', 'note_history']) {
    assert.ok(counts[tool]!.ok > 0, `${tool}: some calls succeeded (${JSON.stringify(counts[tool])})`);
  }
  // Still whole after all of it.
  const r = await clients[0]!.callTool('search_notes', { query: 'alpha' });
  assert.notEqual(r.isError, true);
});
