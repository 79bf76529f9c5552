import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractLinks, linkKey, nameKeyOfPath, relativeHref, resolveRelativeTarget } from '../../src/chunk/index.ts';

const pick = (src: string) =>
  extractLinks(src).map((l) => ({
    kind: l.kind,
    target: l.target,
    heading: l.heading,
    alias: l.alias,
    line: l.line,
    embed: l.embed,
  }));

test('wikilinks: plain, alias, heading, block, embed, escaped pipe in a table', () => {
  const src = [
    '# Title',
    'See [[Garden]] and [[ideas/Compost|the heap]].',
    'Jump to [[Garden#Soil pH]] or [[Garden#^block1]].',
    '![[Diagram]]',
    '| a | [[Table Note\\|shown]] |',
    '[[#Local heading]] is not a link between notes, nor ![[photo.PNG]] or [[scan.pdf|scan]]; [[Node.js]] is.',
  ].join('\n');
  assert.deepEqual(pick(src), [
    { kind: 'wiki', target: 'Garden', heading: undefined, alias: undefined, line: 2, embed: false },
    { kind: 'wiki', target: 'ideas/Compost', heading: undefined, alias: 'the heap', line: 2, embed: false },
    { kind: 'wiki', target: 'Garden', heading: 'Soil pH', alias: undefined, line: 3, embed: false },
    { kind: 'wiki', target: 'Garden', heading: '^block1', alias: undefined, line: 3, embed: false },
    { kind: 'wiki', target: 'Diagram', heading: undefined, alias: undefined, line: 4, embed: true },
    { kind: 'wiki', target: 'Table Note', heading: undefined, alias: 'shown', line: 5, embed: false },
    { kind: 'wiki', target: 'Node.js', heading: undefined, alias: undefined, line: 6, embed: false },
  ]);
});

test('markdown links to .md files, relative, encoded, in <…>, with fragments; web and other files ignored', () => {
  const src = [
    '[up](../top.md) [same](./peer.md#Part%20two) [spaced](<my note.md>) [enc](my%20note.md "title")',
    '[web](https://example.com/x.md) [mail](mailto:a@b.md) [img](pic.png) [anchor](#here) ![embed](e.md)',
  ].join('\n');
  assert.deepEqual(pick(src), [
    { kind: 'markdown', target: '../top.md', heading: undefined, alias: 'up', line: 1, embed: false },
    { kind: 'markdown', target: './peer.md', heading: 'Part two', alias: 'same', line: 1, embed: false },
    { kind: 'markdown', target: 'my note.md', heading: undefined, alias: 'spaced', line: 1, embed: false },
    { kind: 'markdown', target: 'my note.md', heading: undefined, alias: 'enc', line: 1, embed: false },
    { kind: 'markdown', target: 'e.md', heading: undefined, alias: 'embed', line: 2, embed: true },
  ]);
});

test('nothing inside code counts: fences, indented blocks, inline spans (also across lines), escapes', () => {
  const src = [
    'Real [[One]].',
    '',
    '```md',
    '[[FencedNot]] [x](fenced.md)',
    '```',
    '',
    '    [[IndentedNot]]',
    '',
    'Inline `[[SpanNot]]` and ``a ` [[DoubleNot]]`` then [[Two]].',
    'A span `across',
    '[[LineNot]]` ends, \\[[EscapedNot]] and [[Three]].',
    '- list item',
    '    [[NestedInList]]',
  ].join('\n');
  assert.deepEqual(
    extractLinks(src).map((l) => [l.target, l.line]),
    [
      ['One', 1],
      ['Two', 9],
      ['Three', 11],
      ['NestedInList', 13],
    ],
  );
});

test('an unmatched backtick is literal text, and a blank line ends a span search', () => {
  const src = 'a ` stray [[Kept]]\n\nnext `x\n\n[[AlsoKept]]';
  assert.deepEqual(
    extractLinks(src).map((l) => l.target),
    ['Kept', 'AlsoKept'],
  );
});

test('target offsets point at the target text as written (for rewriting), CRLF and astral text included', () => {
  const src = '😀 line\r\nsee [[ Foo#H|x]] and [t](<a b.md#z>) and [u](c%20d.md)\r\n';
  const links = extractLinks(src);
  assert.deepEqual(
    links.map((l) => src.slice(l.targetStart, l.targetEnd)),
    ['Foo', 'a b.md', 'c%20d.md'],
  );
  assert.deepEqual(
    links.map((l) => l.line),
    [2, 2, 2],
  );
  assert.deepEqual(
    links.map((l) => src.slice(l.start, l.end)),
    ['[[ Foo#H|x]]', '[t](<a b.md#z>)', '[u](c%20d.md)'],
  );
});

test('keys compare the Obsidian way: NFC, case-insensitive, without extension', () => {
  assert.equal(linkKey('Caf\u0065\u0301.md'), 'caf\u00e9');
  assert.equal(linkKey('./Folder/Note.markdown'), 'folder/note');
  assert.equal(nameKeyOfPath('a/b/Deep Note.md'), 'deep note');
});

test('relative targets resolve against the linking note, never above the notes folder', () => {
  assert.equal(resolveRelativeTarget('a/b/n.md', '../c.md'), 'a/c.md');
  assert.equal(resolveRelativeTarget('a/n.md', './x/y.md'), 'a/x/y.md');
  assert.equal(resolveRelativeTarget('a/n.md', '/top.md'), 'top.md');
  assert.equal(resolveRelativeTarget('n.md', '../out.md'), null);
  assert.equal(relativeHref('a/b/n.md', 'a/c d.md'), '../c%20d.md');
  assert.equal(relativeHref('n.md', 'x/(y).md'), 'x/%28y%29.md');
  assert.equal(relativeHref('a/n.md', 'a/m.md'), 'm.md');
  for (const [from, to] of [
    ['a/b/n.md', 'q/r/s.md'],
    ['n.md', 'deep/er/x.md'],
    ['x/y/z.md', 'x/w.md'],
  ] as const) {
    assert.equal(resolveRelativeTarget(from, decodeURIComponent(relativeHref(from, to))), to);
  }
});

test('a note with a huge number of links stays bounded', () => {
  const src = Array.from({ length: 6000 }, (_, i) => `[[n${i}]]`).join(' ');
  assert.equal(extractLinks(src).length, 5000);
});

test('link reference definitions to .md files are links; footnotes, web links and code are not', () => {
  const src = [
    'See [the garden][g] and [compost].',
    '',
    '[g]: Projects/Garden.md "Garden"',
    '   [compost]: <../heap notes.md#Turning>',
    '[^1]: a footnote, not a link: notes.md',
    '[web]: https://example.com/x.md',
    '[img]: photo.png',
    '```',
    '[code]: inside-a-fence.md',
    '```',
    '[enc]: my%20note.md (title)',
  ].join('\n');
  assert.deepEqual(pick(src), [
    { kind: 'markdown', target: 'Projects/Garden.md', heading: undefined, alias: 'g', line: 3, embed: false },
    { kind: 'markdown', target: '../heap notes.md', heading: 'Turning', alias: 'compost', line: 4, embed: false },
    { kind: 'markdown', target: 'my note.md', heading: undefined, alias: 'enc', line: 11, embed: false },
  ]);
  const [g, heap] = extractLinks(src);
  assert.equal(src.slice(g!.targetStart, g!.targetEnd), 'Projects/Garden.md');
  assert.equal(src.slice(heap!.targetStart, heap!.targetEnd), '../heap notes.md');
});
