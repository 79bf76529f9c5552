import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChunkOptions, chunkNote, DEFAULT_CHUNK_OPTIONS, parseFrontMatter } from '../../src/chunk/index.ts';
import { assertSane } from './helpers.ts';

const OPTS: ChunkOptions = { ...DEFAULT_CHUNK_OPTIONS };

const TLDR_PAGE = `# git add

> Stage changed files for a commit.
> More information: <https://git-scm.com/docs/git-add>.

- Stage a file for a commit:

\`git add {{path/to/file}}\`

- Add all files (tracked and untracked):

\`git add {{[-A|--all]}}\`

- Add all files recursively starting from the current folder:

\`git add .\`

- Only add already tracked files:

\`git add {{[-u|--update]}}\`

- Add an ignored file:

\`git add {{[-f|--force]}} {{path/to/file}}\`

- Interactively stage parts of files:

\`git add {{[-p|--patch]}}\`

- Interactively stage parts of a given file:

\`git add {{[-p|--patch]}} {{path/to/file}}\`

- Interactively stage a file:

\`git add {{[-i|--interactive]}}\`
`;

test('a tldr page becomes one chunk whose embed text is its prose without commands', () => {
  const p = chunkNote(TLDR_PAGE, 'pages/common/git-add.md', OPTS);
  assertSane(TLDR_PAGE, p);
  assert.equal(p.title, 'git add');
  assert.equal(p.chunks.length, 1);
  const c = p.chunks[0]!;
  assert.equal(c.startLine, 1);
  assert.equal(c.endLine, 36);
  assert.deepEqual(c.headings, ['git add']);
  assert.ok(c.text.startsWith('# git add') && c.text.endsWith('`git add {{[-i|--interactive]}}`'));
  assert.ok(c.embedText.startsWith('git add\n'), 'title first, not repeated for the equal h1');
  assert.ok(c.embedText.includes('Stage changed files for a commit.'));
  assert.ok(c.embedText.includes('Interactively stage a file:'));
  assert.ok(!c.embedText.includes('{{'), 'command lines are left out');
  assert.ok(!c.embedText.includes('https://'), 'autolinked URLs are left out');
});

test('small chunk sizes split a tldr page between examples, never inside one', () => {
  const p = chunkNote(TLDR_PAGE, 'git-add.md', { ...OPTS, maxTokens: 40, overlapTokens: 0 });
  assertSane(TLDR_PAGE, p);
  assert.ok(p.chunks.length >= 4, `got ${p.chunks.length}`);
  for (const c of p.chunks) {
    // Every description line ending in ':' is followed by its command in the same chunk.
    const lines = c.text.split('\n').filter((l) => l.trim() !== '');
    const last = lines[lines.length - 1]!;
    assert.ok(!last.endsWith(':'), `chunk ${c.seq} ends with a lead: ${last}`);
  }
});

test('overlap carries whole trailing blocks into the next chunk of a split section', () => {
  const paras = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} ${'word '.repeat(20)}`);
  const src = `# Long\n\n${paras.join('\n\n')}\n`;
  const p = chunkNote(src, 'long.md', { maxTokens: 80, overlapTokens: 40 });
  assertSane(src, p);
  assert.ok(p.chunks.length > 2);
  for (let i = 1; i < p.chunks.length; i++) {
    const prev = p.chunks[i - 1]!;
    const cur = p.chunks[i]!;
    assert.ok(cur.startLine <= prev.endLine, `chunk ${i} overlaps chunk ${i - 1}`);
    assert.deepEqual(cur.headings, ['Long']);
  }
  const none = chunkNote(src, 'long.md', { maxTokens: 80, overlapTokens: 0 });
  for (let i = 1; i < none.chunks.length; i++) assert.ok(none.chunks[i]!.startLine > none.chunks[i - 1]!.endLine);
});

test('front matter: title, tags in every form, aliases; line numbers count its lines', () => {
  const src = [
    '---',
    'title: Project Plan',
    'tags: [Work, "#q3"]',
    'tag: "#Solo"',
    'aliases: plan, roadmap',
    'custom: {a: 1}',
    '---',
    '# Heading',
    '',
    'Body with #Inline-Tag and #nested/tag/deep, not #123 or C#, not `#code`,',
    'not [#linktext](#anchor) nor https://x.org/#frag, and \\#escaped.',
    '',
    '## Next',
    '',
    'More text. #UPPER',
  ].join('\n');
  const p = chunkNote(src, 'plan.md', OPTS);
  assertSane(src, p);
  assert.equal(p.title, 'Project Plan');
  assert.deepEqual(p.tags, ['inline-tag', 'nested/tag/deep', 'q3', 'solo', 'upper', 'work']);
  assert.deepEqual(p.aliases, ['plan', 'roadmap']);
  assert.deepEqual(p.frontMatter['custom'], { a: 1 });
  assert.equal(p.frontMatterError, null);
  assert.equal(p.chunks.length, 2);
  assert.equal(p.chunks[0]!.startLine, 8);
  assert.equal(p.chunks[0]!.endLine, 11);
  assert.deepEqual(p.chunks[1]!.headings, ['Heading', 'Next']);
  assert.equal(p.chunks[1]!.startLine, 13);
  assert.ok(p.chunks[1]!.embedText.startsWith('Project Plan > Heading > Next\n'));
  assert.ok(!p.chunks.some((c) => c.text.includes('aliases:')), 'front matter is metadata, not a chunk');

  const meta = parseFrontMatter(src);
  assert.equal(meta.title, 'Project Plan');
  assert.deepEqual(meta.tags, ['q3', 'solo', 'work']);
  assert.equal(meta.lineCount, 7);
});

test('tags as a space- or comma-separated string', () => {
  // Unquoted '#' starts a YAML comment, so '#a' forms are quoted as in real notes.
  for (const tags of ['a, b', '"#a #b"', 'a b', '"#a, #b"', '["#a", b]']) {
    const p = chunkNote(`---\ntags: ${tags}\n---\ntext\n`, 'x.md', OPTS);
    assert.deepEqual(p.tags, ['a', 'b'], tags);
  }
});

test('bad front matter: reported, never fatal', () => {
  const invalid = chunkNote('---\ntitle: [unclosed\n---\n# Real\n\nbody\n', 'x.md', OPTS);
  assert.match(invalid.frontMatterError ?? '', /not valid YAML/);
  assert.deepEqual(invalid.frontMatter, {});
  assert.equal(invalid.title, 'Real');
  assert.equal(invalid.chunks[0]!.startLine, 4);

  const list = chunkNote('---\n- a\n- b\n---\nbody\n', 'x.md', OPTS);
  assert.match(list.frontMatterError ?? '', /not a mapping/);

  const unterminated = chunkNote('---\ntitle: x\nno end here\n\nparagraph\n', 'y.md', OPTS);
  assert.match(unterminated.frontMatterError ?? '', /no closing/);
  assert.equal(unterminated.title, 'y');
  assert.equal(unterminated.chunks[0]!.startLine, 1, 'its lines are kept as note text');
  assert.ok(unterminated.chunks.some((c) => c.text.includes('paragraph')));

  const empty = chunkNote('---\n---\nbody\n', 'z.md', OPTS);
  assert.equal(empty.frontMatterError, null);
  assert.equal(empty.chunks[0]!.startLine, 3);
});

test('title falls back to the first heading, then the file name without extension', () => {
  assert.equal(chunkNote('text\n\n## Sub heading\n', 'a/b.md', OPTS).title, 'Sub heading');
  assert.equal(chunkNote('just text\n', 'folder/My Note.markdown', OPTS).title, 'My Note');
  assert.equal(chunkNote('', 'e.md', OPTS).chunks.length, 0);
});

test('heading trail follows levels; empty sections stay with the next content', () => {
  const src = '# A\n## B\n### C\ntext c\n## D\ntext d\n# E\n### F\ntext f\n';
  const p = chunkNote(src, 'x.md', OPTS);
  assertSane(src, p);
  assert.deepEqual(
    p.chunks.map((c) => c.headings),
    [
      ['A', 'B', 'C'],
      ['A', 'D'],
      ['E', 'F'],
    ],
  );
  assert.equal(p.chunks[0]!.startLine, 1, 'the chunk starts at the empty sections above it');
});

test('embedText: code blocks and code-only paragraphs left out; a code-only chunk falls back to text', () => {
  const src = '# T\n\nIntro with `inline code` kept.\n\n```js\nconst secret = 1;\n```\n\n`only code`\n';
  const p = chunkNote(src, 'x.md', OPTS);
  assert.equal(p.chunks.length, 1);
  const e = p.chunks[0]!.embedText;
  assert.ok(e.includes('Intro with inline code kept.'));
  assert.ok(!e.includes('secret') && !e.includes('only code'));

  const code = chunkNote('```\nls -la\n```\n', 'cmds.md', OPTS);
  assert.ok(code.chunks[0]!.embedText.includes('ls -la'));
  assert.ok(code.chunks[0]!.embedText.startsWith('cmds\n'));
});

test('lists split per item; tables and blockquotes are blocks', () => {
  const items = Array.from({ length: 30 }, (_, i) => `- item ${i} ${'text '.repeat(10)}`).join('\n');
  const src = `# L\n\n${items}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quoted #qtag\n`;
  const p = chunkNote(src, 'x.md', { maxTokens: 60, overlapTokens: 0 });
  assertSane(src, p);
  assert.ok(p.chunks.length > 4);
  assert.ok(p.tags.includes('qtag'));
  for (const c of p.chunks) {
    for (const line of c.text.split('\n')) assert.ok(!line.startsWith('text'), 'items are not cut mid-item');
  }
});

test('countTokens is used when given', () => {
  let calls = 0;
  const countTokens = (t: string) => {
    calls++;
    return t.split(/\s+/).filter(Boolean).length;
  };
  const src = `# T\n\n${Array.from({ length: 10 }, (_, i) => `p${i} one two three four five`).join('\n\n')}\n`;
  const p = chunkNote(src, 'x.md', { maxTokens: 14, overlapTokens: 0, countTokens });
  assert.ok(calls > 0);
  assertSane(src, p);
  for (const c of p.chunks) assert.ok(countTokens(c.text) <= 14 + 6, `chunk ${c.seq} is about the limit`);
  assert.ok(p.chunks.length >= 5);
});

test('CRLF, CR and BOM keep line numbers of the original source', () => {
  const lf = '# T\n\npara one\n\n## S\n\npara two\n';
  const base = chunkNote(lf, 'x.md', OPTS);
  for (const variant of [lf.replace(/\n/g, '\r\n'), lf.replace(/\n/g, '\r'), `\ufeff${lf}`]) {
    const p = chunkNote(variant, 'x.md', OPTS);
    assertSane(variant, p);
    assert.deepEqual(
      p.chunks.map((c) => [c.startLine, c.endLine, c.text]),
      base.chunks.map((c) => [c.startLine, c.endLine, c.text]),
    );
    assert.equal(p.title, 'T');
  }
  const fm = chunkNote('\ufeff---\r\ntitle: X\r\n---\r\nbody\r\n', 'x.md', OPTS);
  assert.equal(fm.title, 'X');
  assert.equal(fm.chunks[0]!.startLine, 4);
});

test('hex colours are not tags, in code or in prose; words made of hex letters stay tags', () => {
  const src = [
    '# Palette',
    '',
    'Brand red `#ff0000` and in prose #00ff00, #ff000080, #f00 and #0af8 too.',
    'Issue #123 is not a tag; #fab, #bead and #deadline are, as is #release-2.',
    '',
  ].join('\n');
  const p = chunkNote(src, 'palette.md', OPTS);
  assert.deepEqual(p.tags, ['bead', 'deadline', 'fab', 'release-2']);
});
