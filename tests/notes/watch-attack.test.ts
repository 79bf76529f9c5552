import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { type ChangeBatch, watchNotes } from '../../src/notes/index.ts';
import { scanFolder } from '../../src/notes/scan.ts';
import { createNoteFilter } from '../../src/notes/filter.ts';
import { tempDir } from '../helpers/tmp.ts';

// Each case changes the disk as a user would, then checks that the notes the batches leave
// listed (applied as the indexer applies them) are exactly the notes a fresh scan finds.
const T = { timeout: 60_000 };

function put(root: string, rel: string, text = `# ${rel}\n`): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

async function mirror(t: { after: (fn: () => unknown) => void }, setup?: (root: string) => void) {
  const root = join(tempDir(t), 'vault');
  mkdirSync(root);
  setup?.(root);
  const opts = { include: [], exclude: [], skipDirs: [] };
  const filter = await createNoteFilter(root, opts);
  const listed = new Set((await scanFolder(root, { abs: root, rel: '' }, filter)).map((n) => n.path));
  const apply = (b: ChangeBatch) => {
    for (const d of b.removedDirs) for (const p of listed) if (p.startsWith(`${d}/`)) listed.delete(p);
    for (const p of b.removed) listed.delete(p);
    for (const p of b.upserted) listed.add(p);
  };
  const watcher = await watchNotes(root, { ...opts, debounceMs: 50, maxWaitMs: 200, onBatch: apply });
  t.after(() => watcher.close());
  return {
    root,
    /** Waits until the listed notes equal a fresh scan of the disk; fails with the difference. */
    async agrees(ms = 5_000): Promise<void> {
      const deadline = Date.now() + ms;
      for (;;) {
        const disk = new Set((await scanFolder(root, { abs: root, rel: '' }, filter)).map((n) => n.path));
        const stale = [...listed].filter((p) => !disk.has(p));
        const missing = [...disk].filter((p) => !listed.has(p));
        if (stale.length === 0 && missing.length === 0) return;
        if (Date.now() > deadline)
          assert.fail(
            `stale: ${JSON.stringify(stale)} missing: ${JSON.stringify(missing.slice(0, 20))} (${missing.length})`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

test('a note replaced by a folder of the same name', T, async (t) => {
  const m = await mirror(t, (r) => put(r, 'x.md'));
  unlinkSync(join(m.root, 'x.md'));
  put(m.root, 'x.md/inner.md');
  await m.agrees();
});

test('a folder replaced by a note of the same name', T, async (t) => {
  const m = await mirror(t, (r) => put(r, 'x.md/inner.md'));
  rmSync(join(m.root, 'x.md'), { recursive: true });
  put(m.root, 'x.md');
  await m.agrees();
});

test('a note renamed over by a folder (mv dir x.md)', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 'x.md');
    put(r, 'd/a.md');
  });
  unlinkSync(join(m.root, 'x.md'));
  renameSync(join(m.root, 'd'), join(m.root, 'x.md'));
  await m.agrees();
});

test('rm -rf a deep folder and make it again with other notes', T, async (t) => {
  const m = await mirror(t, (r) => {
    for (let i = 0; i < 5; i++) put(r, `a/b/c/d/n${i}.md`);
  });
  rmSync(join(m.root, 'a'), { recursive: true });
  put(m.root, 'a/b/c/d/new.md');
  put(m.root, 'a/b/other.md');
  await m.agrees();
  put(m.root, 'a/b/c/d/later.md');
  await m.agrees();
});

test('folders moved between folders, deep, and back', T, async (t) => {
  const m = await mirror(t, (r) => {
    for (let i = 0; i < 3; i++) put(r, `p/q/r/n${i}.md`);
    mkdirSync(join(r, 'z'));
  });
  renameSync(join(m.root, 'p/q'), join(m.root, 'z/q'));
  renameSync(join(m.root, 'z'), join(m.root, 'p/z'));
  await m.agrees();
  put(m.root, 'p/z/q/r/late.md');
  await m.agrees();
  renameSync(join(m.root, 'p/z/q'), join(m.root, 'q'));
  put(m.root, 'q/r/later.md');
  await m.agrees();
});

test('editor save patterns: truncate+write, unlink+create, vim backup rename', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 's/a.md');
    put(r, 's/b.md');
    put(r, 's/c.md');
  });
  writeFileSync(join(m.root, 's/a.md'), '');
  writeFileSync(join(m.root, 's/a.md'), '# a2\n');
  unlinkSync(join(m.root, 's/b.md'));
  put(m.root, 's/b.md');
  renameSync(join(m.root, 's/c.md'), join(m.root, 's/c.md~'));
  put(m.root, 's/c.md');
  unlinkSync(join(m.root, 's/c.md~'));
  await m.agrees();
});

test('thousands of notes created in a burst across folders', T, async (t) => {
  const m = await mirror(t);
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(m.root, `b${d}`));
    for (let i = 0; i < 500; i++) writeFileSync(join(m.root, `b${d}`, `n${i}.md`), `# ${i}\n`);
  }
  await m.agrees(20_000);
});

test('git checkout of many files at once', T, async (t) => {
  const m = await mirror(t);
  const git = (...a: string[]) =>
    execFileSync('git', ['-c', 'user.email=a@b', '-c', 'user.name=a', ...a], { cwd: m.root });
  git('init', '-q');
  for (let i = 0; i < 300; i++) put(m.root, `g/one/n${i}.md`);
  git('add', '-A');
  git('commit', '-qm', 'one');
  git('checkout', '-qb', 'two');
  rmSync(join(m.root, 'g/one'), { recursive: true });
  for (let i = 0; i < 300; i++) put(m.root, `g/two/sub/m${i}.md`);
  git('add', '-A');
  git('commit', '-qm', 'two');
  await m.agrees();
  git('checkout', '-q', 'master');
  await m.agrees();
  git('checkout', '-q', 'two');
  await m.agrees();
});

test('a note that is a symlink to a note whose target is deleted', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 't.md');
    symlinkSync('t.md', join(r, 'link.md'));
  });
  unlinkSync(join(m.root, 't.md'));
  await m.agrees();
});

// Every watch follows its folder's inode: a notes folder moved away kept being watched (its
// edits reported under the root's paths) and the new folder at the root path was never watched.
test('the notes folder itself swapped for a new one (mv notes notes.old; mkdir notes)', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 'old.md');
    put(r, 'sub/old.md');
  });
  renameSync(m.root, `${m.root}.old`);
  mkdirSync(m.root);
  put(m.root, 'new.md');
  put(m.root, 'sub/new.md');
  await m.agrees();
  put(m.root, 'later.md');
  put(`${m.root}.old`, 'sub/moved-away-edit.md');
  await m.agrees();
});

test('the notes folder deleted, then made again a few seconds later', T, async (t) => {
  const m = await mirror(t, (r) => put(r, 'a/old.md'));
  rmSync(m.root, { recursive: true });
  await new Promise((r) => setTimeout(r, 1500));
  put(m.root, 'a/new.md');
  put(m.root, 'top.md');
  await m.agrees();
  put(m.root, 'a/later.md');
  await m.agrees();
});

test('a link note whose target folder is removed, then whose target comes back', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 'd/t.md');
    symlinkSync('d/t.md', join(r, 'link.md'));
  });
  rmSync(join(m.root, 'd'), { recursive: true });
  await m.agrees();
  put(m.root, 'd/t.md');
  await m.agrees();
});

test('a folder replaced by a link to a folder, and the link by a folder again', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 'f/a.md');
    put(r, 'g/b.md');
  });
  rmSync(join(m.root, 'f'), { recursive: true });
  symlinkSync('g', join(m.root, 'f'));
  await m.agrees();
  unlinkSync(join(m.root, 'f'));
  put(m.root, 'f/c.md');
  await m.agrees();
});

test('folders moved into and out of hidden and skipped folders', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 'keep/a/x.md');
    put(r, 'keep/b/y.md');
    mkdirSync(join(r, '.trash'));
    mkdirSync(join(r, 'node_modules'));
  });
  renameSync(join(m.root, 'keep/a'), join(m.root, '.trash/a'));
  renameSync(join(m.root, 'keep/b'), join(m.root, 'node_modules/b'));
  await m.agrees();
  renameSync(join(m.root, '.trash/a'), join(m.root, 'a'));
  renameSync(join(m.root, 'node_modules/b'), join(m.root, 'keep/b'));
  await m.agrees();
  put(m.root, 'a/late.md');
  await m.agrees();
});

test('a note and a folder swap names; notes renamed to and from other extensions', T, async (t) => {
  const m = await mirror(t, (r) => {
    put(r, 'n.md');
    put(r, 'dir/in.md');
    put(r, 'plain.txt', 'x');
  });
  renameSync(join(m.root, 'n.md'), join(m.root, 'tmp'));
  renameSync(join(m.root, 'dir'), join(m.root, 'n.md'));
  renameSync(join(m.root, 'tmp'), join(m.root, 'dir'));
  renameSync(join(m.root, 'plain.txt'), join(m.root, 'plain.md'));
  await m.agrees();
  renameSync(join(m.root, 'plain.md'), join(m.root, 'plain.txt'));
  await m.agrees();
});

// The kernel queues at most max_queued_events per inotify instance and then drops events,
// saying so with IN_Q_OVERFLOW, which libuv discards (its wd is -1): fs.watch never learns it
// missed anything. A busy event loop (here spawnSync; in the daemon any long synchronous step)
// during a burst lost notes until the next restart; the watcher now reads the folder again.
test('a burst past the inotify queue while the event loop is busy: creations, then removals', T, async (t) => {
  const max = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
  const m = await mirror(t, (r) => {
    mkdirSync(join(r, 'burst'));
    put(r, 'top.md');
  });
  const n = Math.ceil(max / 2) + 2000; // each file: IN_CREATE and IN_MODIFY
  const burst = (code: string) =>
    execFileSync(process.execPath, ['-e', `const fs=require('node:fs');const d=${JSON.stringify(m.root)};${code}`]);
  burst(`for(let i=0;i<${n};i++)fs.writeFileSync(d+'/burst/n'+i+'.md','# '+i+'\\n')`);
  await m.agrees(20_000);
  // Removals past the queue, and a folder made meanwhile (unwatched until the folder is read again).
  burst(
    `fs.mkdirSync(d+'/later/deep',{recursive:true});fs.writeFileSync(d+'/later/deep/x.md','# x\\n');for(let i=0;i<${n};i++){fs.unlinkSync(d+'/burst/n'+i+'.md');fs.writeFileSync(d+'/burst/m'+i+'.md','')}fs.unlinkSync(d+'/top.md')`,
  );
  await m.agrees(20_000);
  put(m.root, 'later/deep/y.md');
  await m.agrees();
});
