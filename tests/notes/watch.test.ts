import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { type ChangeBatch, type NotesWatcher, watchNotes, writeNote } from '../../src/notes/index.ts';
import { tempDir } from '../helpers/tmp.ts';

// Generous: only a hang guard. The batching itself is asserted by counting batches.
const T = { timeout: 60_000 };

function put(root: string, rel: string, text = `# ${rel}\n`): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

interface Harness {
  root: string;
  batches: ChangeBatch[];
  watcher: NotesWatcher;
  /** Resolves when the batches seen so far satisfy `done`; fails after `ms` with what arrived. */
  until(done: (all: ChangeBatch[]) => boolean, ms?: number): Promise<void>;
  upserted(): Set<string>;
}

async function harness(
  t: { after: (fn: () => void | Promise<void>) => void },
  opts: { skipDirs?: string[]; onBatch?: (b: ChangeBatch) => Promise<void>; setup?: (root: string) => void } = {},
): Promise<Harness> {
  const root = join(tempDir(t), 'vault');
  mkdirSync(root);
  opts.setup?.(root);
  const batches: ChangeBatch[] = [];
  let wake: () => void = () => undefined;
  const watcher = await watchNotes(root, {
    include: [],
    exclude: [],
    skipDirs: opts.skipDirs ?? [],
    async onBatch(b) {
      batches.push(b);
      wake();
      await opts.onBatch?.(b);
    },
  });
  t.after(() => watcher.close());
  return {
    root,
    batches,
    watcher,
    async until(done, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (!done(batches)) {
        const left = deadline - Date.now();
        if (left <= 0) assert.fail(`condition not met; batches: ${JSON.stringify(batches)}`);
        await new Promise<void>((res) => {
          const timer = setTimeout(res, Math.min(left, 200));
          wake = () => {
            clearTimeout(timer);
            res();
          };
        });
      }
    },
    upserted: () => new Set(batches.flatMap((b) => b.upserted)),
  };
}

test('add, change and delete notes arrive as upserted and removed', T, async (t) => {
  const h = await harness(t);
  put(h.root, 'a.md');
  put(h.root, 'sub/b.md');
  await h.until(
    (all) => all.flatMap((b) => b.upserted).includes('sub/b.md') && all.flatMap((b) => b.upserted).includes('a.md'),
  );
  const n = h.batches.length;
  writeFileSync(join(h.root, 'a.md'), 'changed');
  await h.until((all) => all.slice(n).some((b) => b.upserted.includes('a.md')));
  const m = h.batches.length;
  unlinkSync(join(h.root, 'a.md'));
  await h.until((all) => all.slice(m).some((b) => b.removed.includes('a.md')));
  assert.ok(!h.batches.slice(m).some((b) => b.upserted.includes('a.md')));
});

test('save-by-rename (temp file renamed over the note) is one upsert', T, async (t) => {
  const h = await harness(t, { setup: (root) => put(root, 'note.md', 'v1') });
  writeFileSync(join(h.root, '.note.md.swp'), 'swap');
  writeFileSync(join(h.root, 'note.md.tmp~'), 'v2');
  renameSync(join(h.root, 'note.md.tmp~'), join(h.root, 'note.md'));
  unlinkSync(join(h.root, '.note.md.swp'));
  await h.until((all) => all.some((b) => b.upserted.includes('note.md')));
  await sleep(600);
  const all = h.batches.flatMap((b) => [...b.upserted, ...b.removed, ...b.removedDirs]);
  assert.deepEqual(all, ['note.md'], 'only the note, once, never removed');
});

test('a git checkout touching 1,000 files is delivered in very few batches', T, async (t) => {
  const h = await harness(t, {
    setup: (root) => {
      for (let i = 0; i < 500; i++) put(root, `old/n${i}.md`, `old ${i}`);
    },
  });
  const expected = new Set<string>();
  for (let i = 0; i < 500; i++) {
    writeFileSync(join(h.root, 'old', `n${i}.md`), `changed ${i}`);
    expected.add(`old/n${i}.md`);
  }
  for (let i = 0; i < 500; i++) {
    put(h.root, `new/d${i % 10}/m${i}.md`, `new ${i}`);
    expected.add(`new/d${i % 10}/m${i}.md`);
  }
  await h.until((all) => {
    const seen = new Set(all.flatMap((b) => b.upserted));
    return [...expected].every((p) => seen.has(p));
  });
  assert.ok(h.batches.length <= 3, `${h.batches.length} batches for 1,000 files`);
  assert.equal(h.upserted().size, 1000);
  assert.ok(!h.batches.some((b) => b.removed.length > 0));
});

test('a folder renamed: old folder in removedDirs, its notes upserted under the new name', T, async (t) => {
  const h = await harness(t, {
    setup: (root) => {
      for (const rel of ['proj/a.md', 'proj/b.md', 'proj/deep/c.md']) put(root, rel);
    },
  });
  renameSync(join(h.root, 'proj'), join(h.root, 'renamed'));
  await h.until((all) => {
    const up = new Set(all.flatMap((b) => b.upserted));
    return (
      all.some((b) => b.removedDirs.includes('proj')) &&
      ['a.md', 'b.md', 'deep/c.md'].every((n) => up.has(`renamed/${n}`))
    );
  });
  assert.ok(!h.upserted().has('proj/a.md'));
});

test('a folder deleted: removedDirs', T, async (t) => {
  const h = await harness(t, {
    setup: (root) => {
      for (const rel of ['gone/a.md', 'gone/sub/b.md', 'kept.md']) put(root, rel);
    },
  });
  rmSync(join(h.root, 'gone'), { recursive: true });
  await h.until((all) => all.some((b) => b.removedDirs.includes('gone')));
  assert.ok(!h.batches.some((b) => b.upserted.length > 0));
  const dirs = h.batches.flatMap((b) => b.removedDirs);
  assert.ok(!dirs.includes(''), 'the root itself is never reported');
});

test('hidden folders, temp files, skipDirs and non-notes are ignored', T, async (t) => {
  let state = '';
  const h = await harness(t, {
    setup: (root) => {
      state = join(root, 'state');
      mkdirSync(state);
    },
    skipDirs: [],
  });
  await h.watcher.close();
  const batches: ChangeBatch[] = [];
  const w = await watchNotes(h.root, {
    include: [],
    exclude: [],
    skipDirs: [state],
    onBatch: (b) => void batches.push(b),
  });
  t.after(() => w.close());
  put(h.root, '.git/objects/x.md');
  put(h.root, '.obsidian/workspace.md');
  put(h.root, 'node_modules/p/readme.md');
  put(h.root, 'state/index.md');
  put(h.root, 'notes.txt');
  put(h.root, 'image.png');
  put(h.root, '.notes-mcp-tmp-1-abc');
  await writeNote(h.root, 'written.md', 'by the daemon', { mode: 'create' });
  put(h.root, '..md', 'tldr page for .');
  const deadline = Date.now() + 15_000;
  while (!batches.flatMap((b) => b.upserted).includes('..md') && Date.now() < deadline) await sleep(50);
  await sleep(600);
  assert.deepEqual(batches.flatMap((b) => [...b.upserted, ...b.removed, ...b.removedDirs]).sort(), [
    '..md',
    'written.md',
  ]);
});

test('onBatch calls never overlap; changes during a slow batch come in the next one', T, async (t) => {
  let running = 0;
  let maxRunning = 0;
  const h = await harness(t, {
    async onBatch() {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(1200);
      running--;
    },
  });
  put(h.root, 'first.md');
  await h.until((all) => all.length >= 1);
  // Each change is followed by more quiet than the debounce, while the first batch still runs.
  for (let i = 0; i < 3; i++) {
    put(h.root, `during-${i}.md`);
    await sleep(400);
  }
  await h.until((all) => [0, 1, 2].every((i) => all.some((b) => b.upserted.includes(`during-${i}.md`))));
  assert.equal(maxRunning, 1);
  assert.ok(h.batches.length <= 3, 'what waited went out together');
});

test('a note created and deleted before the batch is never upserted', T, async (t) => {
  const h = await harness(t);
  put(h.root, 'flash.md');
  await sleep(60);
  unlinkSync(join(h.root, 'flash.md'));
  put(h.root, 'sentinel.md');
  await h.until((all) => all.some((b) => b.upserted.includes('sentinel.md')));
  await sleep(400);
  assert.ok(!h.upserted().has('flash.md'));
});

test('close stops delivery', T, async (t) => {
  const h = await harness(t);
  await h.watcher.close();
  put(h.root, 'late.md');
  await sleep(800);
  assert.equal(h.batches.length, 0);
});

// The watcher watches folders, not files: each case below is one a folder watch could miss
// (a folder made and filled before its watch is set, a folder that moved, a link to a folder).

test('a note created in new nested sub-folders, at once and after the folders exist', T, async (t) => {
  const h = await harness(t);
  put(h.root, 'new/a/b/c/at-once.md');
  await h.until((all) => all.some((b) => b.upserted.includes('new/a/b/c/at-once.md')));
  // Written only once the new folders are watched: reported by their own watches.
  await sleep(300);
  put(h.root, 'new/a/b/c/later.md');
  mkdirSync(join(h.root, 'new/a/b/c/d'));
  await sleep(300);
  put(h.root, 'new/a/b/c/d/deeper.md');
  await h.until((all) => {
    const up = new Set(all.flatMap((b) => b.upserted));
    return up.has('new/a/b/c/later.md') && up.has('new/a/b/c/d/deeper.md');
  });
});

test('a note renamed across folders: removed under the old path, upserted under the new', T, async (t) => {
  const h = await harness(t, {
    setup: (root) => {
      put(root, 'x/note.md');
      mkdirSync(join(root, 'y'));
    },
  });
  renameSync(join(h.root, 'x/note.md'), join(h.root, 'y/note.md'));
  await h.until(
    (all) => all.some((b) => b.removed.includes('x/note.md')) && all.some((b) => b.upserted.includes('y/note.md')),
  );
});

test('a folder moved into another folder keeps being watched under its new path', T, async (t) => {
  const h = await harness(t, {
    setup: (root) => {
      put(root, 'inbox/proj/a.md');
      mkdirSync(join(root, 'archive'));
    },
  });
  renameSync(join(h.root, 'inbox/proj'), join(h.root, 'archive/proj'));
  await h.until(
    (all) =>
      all.some((b) => b.removedDirs.includes('inbox/proj')) &&
      all.some((b) => b.upserted.includes('archive/proj/a.md')),
  );
  const n = h.batches.length;
  // Changes inside the moved folder, and none reported under its old path.
  writeFileSync(join(h.root, 'archive/proj/a.md'), 'edited after the move');
  put(h.root, 'archive/proj/b.md');
  await h.until((all) => {
    const up = new Set(all.slice(n).flatMap((b) => b.upserted));
    return up.has('archive/proj/a.md') && up.has('archive/proj/b.md');
  });
  assert.ok(!h.batches.slice(n).some((b) => b.upserted.some((p) => p.startsWith('inbox/'))));
});

test('a folder moved in from outside is read whole and watched; one moved out is forgotten', T, async (t) => {
  const outside = join(tempDir(t), 'elsewhere');
  put(outside, 'came/in.md');
  put(outside, 'came/sub/deep.md');
  const h = await harness(t, { setup: (root) => put(root, 'leaving/gone.md') });
  renameSync(join(outside, 'came'), join(h.root, 'came'));
  renameSync(join(h.root, 'leaving'), join(outside, 'leaving'));
  await h.until((all) => {
    const up = new Set(all.flatMap((b) => b.upserted));
    return up.has('came/in.md') && up.has('came/sub/deep.md') && all.some((b) => b.removedDirs.includes('leaving'));
  });
  const n = h.batches.length;
  put(outside, 'leaving/after.md');
  put(h.root, 'came/sub/new.md');
  await h.until((all) => all.slice(n).some((b) => b.upserted.includes('came/sub/new.md')));
  await sleep(400);
  assert.ok(!h.batches.slice(n).some((b) => b.upserted.some((p) => p.startsWith('leaving'))));
});

test('a folder deleted and made again under the same name is watched again', T, async (t) => {
  const h = await harness(t, { setup: (root) => put(root, 'daily/old.md') });
  rmSync(join(h.root, 'daily'), { recursive: true });
  mkdirSync(join(h.root, 'daily'));
  await h.until((all) => all.some((b) => b.removedDirs.includes('daily')));
  await sleep(300);
  put(h.root, 'daily/new.md');
  await h.until((all) => all.some((b) => b.upserted.includes('daily/new.md')));
  assert.ok(!h.upserted().has('daily/old.md'));
});

test('atomic-rename saves in a sub-folder, as editors do, are upserts and never removals', T, async (t) => {
  const h = await harness(t, { setup: (root) => put(root, 'sub/deep/note.md', 'v1') });
  for (let i = 2; i <= 4; i++) {
    // vim-style: a backup moved aside, the new text renamed over the note, the backup removed.
    renameSync(join(h.root, 'sub/deep/note.md'), join(h.root, 'sub/deep/note.md~'));
    writeFileSync(join(h.root, 'sub/deep/.note.md.tmp'), `v${i}`);
    renameSync(join(h.root, 'sub/deep/.note.md.tmp'), join(h.root, 'sub/deep/note.md'));
    unlinkSync(join(h.root, 'sub/deep/note.md~'));
  }
  await h.until((all) => all.some((b) => b.upserted.includes('sub/deep/note.md')));
  await sleep(600);
  assert.ok(!h.batches.some((b) => b.removed.includes('sub/deep/note.md')), JSON.stringify(h.batches));
});

test('a symlinked folder is not followed: notes through it are never reported', T, async (t) => {
  const h = await harness(t, { setup: (root) => put(root, 'real/a.md') });
  symlinkSync(join(h.root, 'real'), join(h.root, 'alias'));
  symlinkSync('..', join(h.root, 'real', 'updir'));
  put(h.root, 'real/b.md');
  await h.until((all) => all.some((b) => b.upserted.includes('real/b.md')));
  await sleep(400);
  const seen = h.batches.flatMap((b) => [...b.upserted, ...b.removed]);
  assert.ok(!seen.some((p) => p.startsWith('alias/') || p.includes('updir/')), JSON.stringify(seen));
});

test('a notes folder given as a symlink to a folder is watched', T, async (t) => {
  const base = tempDir(t);
  const real = join(base, 'real-vault');
  mkdirSync(real);
  symlinkSync(real, join(base, 'vault-link'));
  const batches: ChangeBatch[] = [];
  const w = await watchNotes(join(base, 'vault-link'), {
    include: [],
    exclude: [],
    skipDirs: [],
    onBatch: (b) => void batches.push(b),
  });
  t.after(() => w.close());
  put(real, 'through/the-link.md');
  const deadline = Date.now() + 15_000;
  while (!batches.some((b) => b.upserted.includes('through/the-link.md')) && Date.now() < deadline) await sleep(50);
  assert.ok(
    batches.some((b) => b.upserted.includes('through/the-link.md')),
    JSON.stringify(batches),
  );
});
