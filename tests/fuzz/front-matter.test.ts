import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { applyEdits, type EditOp } from '../../src/notes/index.ts';
import { SEED } from './arbitraries.ts';

// Front matter edits on blocks built from the YAML people write (leading zeros, big ids,
// folded and literal blocks, flow collections, anchors, comments, CRLF): whatever the edit,
// the block still parses, every key it did not name reads back the same, the keys it named
// hold what it said, and the body is untouched.

const FRAGMENTS = [
  'zip: 01234',
  'id: 12345678901234567890',
  'hex: 0x1F',
  'when: 2024-01-01',
  'yes: yes',
  'nothing: ~',
  'blank: ""',
  'fold: >\n  one\n  two',
  'lit: |-\n  keep\n    indent',
  'list:\n  - a\n  - b',
  'flat:\n- x\n- y',
  'nested:\n  k: v\n  k2: [1, 2]',
  'flow: {a: 1, b: [x, y]}',
  '"quoted key": 1',
  "single: 'it''s'",
  'anchor: &A val',
  '# a comment',
  '',
  'tags: [a, b]',
  'tags:\n  - c # why\n  - d',
  'tags: one, two',
  'tag: solo',
  'url: http://x.y/z?q=1#f',
  'colon: "a: b"',
  'str: !!str 123',
  'multi: first\n  continued',
  'empty:',
];

const OPS: EditOp[] = [
  { op: 'set_front_matter', values: { title: 'T', zip: 'changed', count: 3, list: { deep: [1, '01'] } } },
  { op: 'remove_front_matter', keys: ['hex', 'flow', 'absent'] },
  { op: 'add_tags', tags: ['new', '2024', 'true'] },
  { op: 'remove_tags', tags: ['a', 'c', 'solo', 'one'] },
];

const NAMED = new Set(['title', 'zip', 'count', 'list', 'hex', 'flow', 'tags', 'tag']);

function tagsOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(/[,\s]+/).filter((s) => s !== '');
  return [];
}

test('front matter edits: the block parses, keys not named read back the same, named keys hold the change', async () => {
  const block = fc
    .uniqueArray(fc.constantFrom(...FRAGMENTS), {
      minLength: 1,
      maxLength: 7,
      selector: (f) => (f.startsWith('#') || f === '' ? f : f.split(':')[0]),
    })
    .map((lines) => ({ lines, yaml: `${lines.join('\n')}\n` }));
  fc.assert(
    fc.property(
      block,
      fc.array(fc.constantFrom(...OPS), { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      ({ lines, yaml }, ops, crlf) => {
        const before = parse(yaml, { uniqueKeys: false }) as Record<string, unknown> | null;
        const eol = crlf ? '\r\n' : '\n';
        const body = `# Body${eol}${eol}text${eol}`;
        const note = `---\n${yaml}---\n`.replace(/\n/g, eol) + body;
        const r = applyEdits(note, ops);
        assert.ok(r.ok, r.ok ? '' : r.reason);
        assert.ok(r.text.endsWith(body), JSON.stringify(r.text));
        if (crlf) assert.doesNotMatch(r.text.replace(/\r\n/g, ''), /\n/, 'CRLF kept');
        const fm = /^---\r?\n([\s\S]*?)^---\r?\n/m.exec(r.text);
        const after = (fm ? parse(fm[1]!.replace(/\r\n/g, '\n'), { uniqueKeys: false }) : {}) as Record<
          string,
          unknown
        >;
        // Byte for byte, not only the same value: 01234 and 1234 parse alike.
        for (const f of lines) {
          const key = f.split(':')[0]!.replace(/^"|"$/g, '');
          const kept = fm?.[1]?.includes(f.replace(/\n/g, eol)) === true;
          if (f !== '' && !NAMED.has(key)) assert.ok(kept, `${JSON.stringify(f)} rewritten: ${JSON.stringify(r.text)}`);
        }
        for (const [k, v] of Object.entries(before ?? {})) {
          if (!NAMED.has(k)) assert.deepEqual(after[k], v, `${k} changed: ${JSON.stringify(r.text)}`);
        }
        const last = (op: EditOp['op']) => ops.map((o) => o.op).lastIndexOf(op);
        const set = last('set_front_matter');
        if (set >= 0 && set > last('remove_front_matter')) {
          assert.equal(after['title'], 'T');
          assert.equal(after['zip'], 'changed');
          assert.deepEqual(after['list'], { deep: [1, '01'] });
        }
        if (last('remove_front_matter') > set) for (const k of ['hex', 'flow']) assert.equal(after[k], undefined);
        const tags = [...tagsOf(after['tags']), ...tagsOf(after['tag'])];
        const add = last('add_tags');
        const remove = last('remove_tags');
        if (add > remove) for (const t of ['new', '2024', 'true']) assert.ok(tags.includes(t), `${t}: ${r.text}`);
        if (remove > add) for (const t of ['a', 'c', 'solo', 'one']) assert.ok(!tags.includes(t), `${t}: ${r.text}`);
      },
    ),
    { seed: SEED, numRuns: 400, endOnFailure: true },
  );
});
