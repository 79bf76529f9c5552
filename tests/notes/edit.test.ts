import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FRONT_MATTER_CHARS as READ_LIMIT } from '../../src/chunk/front-matter.ts';
import { parseFrontMatter } from '../../src/chunk/index.ts';
import { MAX_FRONT_MATTER_CHARS as EDIT_LIMIT } from '../../src/notes/front-matter.ts';
import { applyEdits, type EditOp, unifiedDiff } from '../../src/notes/index.ts';

function ok(text: string, ops: EditOp[]): { text: string; lines: number[][]; counts: number[] } {
  const r = applyEdits(text, ops);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return { text: r.text, lines: r.changes.map((c) => c.lines), counts: r.changes.map((c) => c.count) };
}

function refused(text: string, ops: EditOp[]): { index: number; reason: string } {
  const r = applyEdits(text, ops);
  assert.ok(!r.ok, 'expected the edit to be refused');
  return r.ok ? { index: -1, reason: '' } : { index: r.index, reason: r.reason };
}

const NOTE = [
  '---',
  'title: Garden',
  '# why we keep it',
  'tags: [plants]',
  '---',
  '# Garden',
  '',
  'Soil is key.',
  '',
].join('\n');

test('replace: exactly one match by default, the line of each replacement reported', () => {
  const r = ok('a\nfoo\nb\n', [{ op: 'replace', old: 'foo', new: 'bar', expectedCount: 1 }]);
  assert.equal(r.text, 'a\nbar\nb\n');
  assert.deepEqual(r.lines, [[2]]);
});

test('replace: zero or too many matches is refused with the count and the lines, and nothing applies', () => {
  const none = refused('a\nb\n', [{ op: 'replace', old: 'zz', new: 'y', expectedCount: 1 }]);
  assert.match(none.reason, /found no match/);
  const many = refused('x\nfoo\nfoo foo\n', [
    { op: 'append', text: 'never\n' },
    { op: 'replace', old: 'foo', new: 'bar', expectedCount: 1 },
  ]);
  assert.equal(many.index, 1);
  assert.match(many.reason, /found 3 matches, at lines 2, 3, 3/);
  assert.match(many.reason, /expected_count/);
  const all = ok('x\nfoo\nfoo foo\n', [{ op: 'replace', old: 'foo', new: 'bar', expectedCount: 3 }]);
  assert.equal(all.text, 'x\nbar\nbar bar\n');
  assert.equal(refused('x', [{ op: 'replace', old: '', new: 'y', expectedCount: 1 }]).index, 0);
});

test('replace on a CRLF note matches "\\n" in old and keeps CRLF', () => {
  const r = ok('one\r\ntwo\r\nthree\r\n', [{ op: 'replace', old: 'one\ntwo', new: 'uno\ndos', expectedCount: 1 }]);
  assert.equal(r.text, 'uno\r\ndos\r\nthree\r\n');
});

test('prepend goes after the front matter; append starts on a new line', () => {
  const p = ok(NOTE, [{ op: 'prepend', text: '> pinned' }]);
  assert.ok(p.text.includes('---\n> pinned\n# Garden'), p.text);
  assert.deepEqual(p.lines, [[6]]);
  assert.equal(ok('# T\nno newline', [{ op: 'append', text: 'more\n' }]).text, '# T\nno newline\nmore\n');
  assert.equal(ok('', [{ op: 'prepend', text: 'first' }]).text, 'first');
  // A note that is only front matter, saved without a final newline: the fence stays whole.
  assert.equal(ok('---\ntitle: Keep\n---', [{ op: 'prepend', text: 'first' }]).text, '---\ntitle: Keep\n---\nfirst');
  assert.equal(ok('---\r\nt: K\r\n---', [{ op: 'prepend', text: 'a' }]).text, '---\r\nt: K\r\n---\r\na');
});

test('replace_section: by heading text, up to the next heading of the same or higher level; spacing kept', () => {
  const src = [
    '# Top',
    'intro',
    '## A',
    'old a',
    '### A1',
    'deep',
    '',
    '## B',
    'b',
    '```',
    '## not a heading',
    '```',
    '',
  ].join('\n');
  const r = ok(src, [{ op: 'replace_section', heading: 'A', content: 'new a' }]);
  assert.equal(
    r.text,
    ['# Top', 'intro', '## A', 'new a', '', '## B', 'b', '```', '## not a heading', '```', ''].join('\n'),
  );
  assert.deepEqual(r.lines, [[3]]);
  const last = ok(src, [{ op: 'replace_section', heading: 'B', content: 'b2\n' }]);
  assert.ok(last.text.endsWith('## B\nb2\n'), last.text);
  assert.match(
    refused(src, [{ op: 'replace_section', heading: 'not a heading', content: 'x' }]).reason,
    /no heading "not a heading"; the note's headings are "Top", "Top > A"/,
  );
});

test('replace_section: a heading that appears twice needs its trail', () => {
  const src = '# One\n## Notes\na\n# Two\n## Notes\nb\n';
  assert.match(
    refused(src, [{ op: 'replace_section', heading: 'Notes', content: 'x' }]).reason,
    /2 headings match "Notes", at lines 2, 5: give the heading trail/,
  );
  assert.equal(
    ok(src, [{ op: 'replace_section', heading: ['Two', 'Notes'], content: 'x' }]).text,
    '# One\n## Notes\na\n# Two\n## Notes\nx\n',
  );
  assert.equal(
    ok(src, [{ op: 'replace_section', heading: 'One > Notes', content: 'y' }]).text,
    '# One\n## Notes\ny\n# Two\n## Notes\nb\n',
  );
  assert.equal(
    ok(src, [{ op: 'replace_section', heading: '## two', content: 'z' }]).text,
    '# One\n## Notes\na\n# Two\nz\n',
  );
});

test('front matter: set and remove keys, comments and other keys kept; created when missing; dropped when empty', () => {
  const set = ok(NOTE, [{ op: 'set_front_matter', values: { status: 'done', list: [1, 2] } }]);
  assert.match(set.text, /# why we keep it/);
  assert.match(set.text, /^status: done$/m);
  assert.match(set.text, /^list:\n {2}- 1\n {2}- 2$/m);
  assert.ok(set.text.endsWith('---\n# Garden\n\nSoil is key.\n'));
  const created = ok('# Plain\n', [{ op: 'set_front_matter', values: { a: 1 } }]);
  assert.equal(created.text, '---\na: 1\n---\n# Plain\n');
  const emptied = ok(created.text, [{ op: 'remove_front_matter', keys: ['a', 'absent'] }]);
  assert.equal(emptied.text, '# Plain\n');
  assert.deepEqual(emptied.counts, [1]);
  assert.match(refused('---\na: [\n---\nx\n', [{ op: 'set_front_matter', values: { b: 1 } }]).reason, /not valid YAML/);
});

test('tags: added once (case-insensitive, # stripped), removed from lists and strings', () => {
  const added = ok(NOTE, [{ op: 'add_tags', tags: ['#Soil', 'plants', 'soil'] }]);
  assert.match(added.text, /tags: \[ plants, Soil \]/);
  assert.deepEqual(added.counts, [1]);
  const removed = ok(added.text, [{ op: 'remove_tags', tags: ['PLANTS'] }]);
  assert.match(removed.text, /tags: \[ Soil \]/);
  const fromString = ok('---\ntags: a, b c\n---\n', [{ op: 'remove_tags', tags: ['b'] }]);
  assert.match(fromString.text, /tags:\n {2}- a\n {2}- c/);
  const fresh = ok('x\n', [{ op: 'add_tags', tags: ['new'] }]);
  assert.equal(fresh.text, '---\ntags:\n  - new\n---\nx\n');
  assert.match(refused('x', [{ op: 'add_tags', tags: ['two words'] }]).reason, /not a tag/);
});

test('front matter edits rewrite only the keys they name: every other byte stays as written', () => {
  // Each of these changed when the whole block was re-serialised by the YAML library.
  const kept = [
    '# why: ids from the old system',
    'zip: 01234',
    'id: 12345678901234567890',
    'hex: 0x1F',
    'exp: 1e3',
    'fold: >',
    '  one',
    '  two',
    'esc: "\\u00e9"',
    'flow: {a:   1, b: [x,y]}',
    'when: 2024-01-01 # a comment',
    '',
  ].join('\n');
  const note = `---\n${kept}title: Old\n---\nbody\n`;
  const set = ok(note, [{ op: 'set_front_matter', values: { title: 'New', n: 5, s: '5' } }]);
  assert.equal(set.text, `---\n${kept}title: New\nn: 5\ns: "5"\n---\nbody\n`);
  assert.deepEqual(set.lines, [[13]]);
  const tagged = ok(note, [{ op: 'add_tags', tags: ['b', '2024', 'true'] }]);
  assert.equal(tagged.text, `---\n${kept}title: Old\ntags:\n  - b\n  - "2024"\n  - "true"\n---\nbody\n`);
  const removed = ok(set.text, [{ op: 'remove_front_matter', keys: ['title', 'n', 's'] }]);
  assert.equal(removed.text, `---\n${kept}---\nbody\n`);
  // Tags written as numbers keep their text; the other keys of an indented block keep their column.
  const nums = ok('---\ntags: [007,  "x"]\nz: 0o17\n---\n', [{ op: 'add_tags', tags: ['c'] }]);
  assert.equal(nums.text, '---\ntags: [ 007, "x", c ]\nz: 0o17\n---\n');
  const indented = ok('---\n  a: 01\n  b: x\n---\n', [{ op: 'set_front_matter', values: { b: { k: [1] }, c: 'y' } }]);
  assert.equal(indented.text, '---\n  a: 01\n  b:\n    k:\n      - 1\n  c: y\n---\n');
  // CRLF stays CRLF; a closing "..." stays.
  const crlf = ok('---\r\na: 01\r\nb: 2\r\n...\r\nx\r\n', [{ op: 'set_front_matter', values: { b: [1] } }]);
  assert.equal(crlf.text, '---\r\na: 01\r\nb:\r\n  - 1\r\n...\r\nx\r\n');
});

test('front matter edits that would break the block, or a block not written key by key, are refused', () => {
  const alias = refused('---\nbase: &b x\nother: *b\n---\n', [{ op: 'remove_front_matter', keys: ['base'] }]);
  assert.match(alias.reason, /after this change .*alias.*nothing was changed/);
  const flow = refused('---\n{a: 01}\n---\n', [{ op: 'set_front_matter', values: { b: 2 } }]);
  assert.match(flow.reason, /one \{…\} mapping .*replace/);
});

test('front matter edits act on the block and the keys the index reads', () => {
  const read = (text: string) => parseFrontMatter(text);
  // Duplicate keys: the index reads the last; a set changes that one, a remove takes them all.
  const dup = ok('---\ntitle: Old\ntags: [a]\ntitle: Second\n---\nx\n', [
    { op: 'set_front_matter', values: { title: 'New' } },
  ]);
  assert.equal(read(dup.text).title, 'New');
  assert.equal(
    ok('---\nx: 1\nk: 0\nx: 2\n---\n', [{ op: 'remove_front_matter', keys: ['x'] }]).text,
    '---\nk: 0\n---\n',
  );
  assert.deepEqual(read(ok('---\ntags: [a]\ntags: [b]\n---\n', [{ op: 'add_tags', tags: ['c'] }]).text).tags, [
    'b',
    'c',
  ]);
  // Fences as the index finds them: trailing whitespace of any kind, \r line ends; not U+2028.
  for (const note of ['---\u00a0\ntitle: T\ntags: [a]\n---\nbody\n', '---\rtitle: T\rtags: [a]\r---\rbody\r']) {
    const r = ok(note, [{ op: 'add_tags', tags: ['z'] }]);
    assert.deepEqual([read(r.text).title, read(r.text).tags], ['T', ['a', 'z']], JSON.stringify(r.text));
    assert.equal(r.text.split('---').length, 3, `one block: ${JSON.stringify(r.text)}`);
  }
  assert.equal(
    ok('---\rtitle: T\r---\rbody\r', [{ op: 'set_front_matter', values: { a: 1 } }]).text,
    '---\rtitle: T\ra: 1\r---\rbody\r',
  );
  const ls = ok('---\ntitle: a\u2028---\nmore: b\n---\nbody\n', [{ op: 'add_tags', tags: ['z'] }]);
  assert.deepEqual(read(ls.text).data, { title: 'a\u2028---', more: 'b', tags: ['z'] });
  // Tags the index reads as numbers are removed by what it reads; a comma is two tags to it.
  assert.deepEqual(
    read(ok('---\ntags: [2.50, 0x10, x]\n---\n', [{ op: 'remove_tags', tags: ['2.5', '16'] }]).text).tags,
    ['x'],
  );
  assert.match(refused('x\n', [{ op: 'add_tags', tags: ['x,y'] }]).reason, /not a tag/);
  // A change that would reach a key it did not name is refused: an alias, a |+ block's tail.
  assert.match(
    refused('---\ntags: &t [a]\nrelated: *t\n---\n', [{ op: 'add_tags', tags: ['q'] }]).reason,
    /would also change "related"/,
  );
  // An emptied block stays when the body opens with a `---` line (it would become the block).
  const hr = '---\ntitle: Keep\n---\n---\nIntro text\n---\nmore\n';
  assert.equal(ok(hr, [{ op: 'remove_front_matter', keys: ['title'] }]).text, '---\n---\n---\nIntro text\n---\nmore\n');
  assert.equal(ok('---\na: 1\n---\n# T\n', [{ op: 'remove_front_matter', keys: ['a'] }]).text, '# T\n');
  // Past the length the index reads, the whole block would stop counting.
  assert.equal(EDIT_LIMIT, READ_LIMIT);
  const long = refused('---\ntitle: u\n---\n', [{ op: 'set_front_matter', values: { big: 'x'.repeat(EDIT_LIMIT) } }]);
  assert.match(long.reason, /longer than 16 KB/);
  const kept = '---\ndesc: |+\n  a\n\n---\n';
  const keep = ok(kept, [{ op: 'set_front_matter', values: { k: 1 } }]);
  assert.deepEqual(read(keep.text).data, { ...read(kept).data, k: 1 });
});

test('unified diff: hunks with context, line numbers right, empty when equal, bounded', () => {
  const a = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
  const b = a.replace('line 5\n', 'line five\n').replace('line 25\n', '');
  const d = unifiedDiff(a, b, { path: 'n.md' });
  assert.equal(
    d,
    [
      '--- a/n.md',
      '+++ b/n.md',
      '@@ -2,7 +2,7 @@',
      ' line 2',
      ' line 3',
      ' line 4',
      '-line 5',
      '+line five',
      ' line 6',
      ' line 7',
      ' line 8',
      '@@ -22,7 +22,6 @@',
      ' line 22',
      ' line 23',
      ' line 24',
      '-line 25',
      ' line 26',
      ' line 27',
      ' line 28',
      '',
    ].join('\n'),
  );
  assert.equal(unifiedDiff(a, a, { path: 'n.md' }), '');
  assert.equal(unifiedDiff('', 'x\n', { path: 'n.md' }), '--- a/n.md\n+++ b/n.md\n@@ -0,0 +1,1 @@\n+x\n');
  const big = unifiedDiff('', 'y\n'.repeat(10_000), { path: 'n.md', maxChars: 1000 });
  assert.ok(big.length < 1200);
  assert.match(big, /diff cut at 1000 characters: \d+ more lines/);
});

test('diff of many scattered edits stays correct (checked by applying it back)', () => {
  const a = Array.from({ length: 400 }, (_, i) => `l${i % 37}`);
  const b = a.map((s, i) => (i % 7 === 0 ? `${s}x` : s)).filter((_, i) => i % 11 !== 0);
  const d = unifiedDiff(`${a.join('\n')}\n`, `${b.join('\n')}\n`, { path: 'n.md', context: 0, maxChars: 1e9 });
  // Rebuild b from a and the diff.
  const out: string[] = [];
  let ai = 0;
  for (const line of d.split('\n').slice(2)) {
    const m = /^@@ -(\d+),(\d+)/.exec(line);
    if (m) {
      const start = Number(m[2]) === 0 ? Number(m[1]) : Number(m[1]) - 1;
      while (ai < start) out.push(a[ai++]!);
    } else if (line.startsWith('-')) ai++;
    else if (line.startsWith('+')) out.push(line.slice(1));
    else if (line.startsWith(' ')) out.push(a[ai++]!);
  }
  while (ai < a.length) out.push(a[ai++]!);
  assert.deepEqual(out, b);
});

test('a replace of many matches lists its first 100 lines and counts them all', () => {
  // Found from outside: 50 replaces of 10,000 matches each listed every line, a 2.4 MB reply
  // (twice, with its text copy) for a 6 KB request.
  const text = 'x\n'.repeat(10_000);
  const r = ok(text, [{ op: 'replace', old: 'x', new: 'y', expectedCount: 10_000 }]);
  assert.equal(r.counts[0], 10_000);
  assert.deepEqual(
    r.lines[0],
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  assert.equal(r.text, 'y\n'.repeat(10_000));
});
