import assert from 'node:assert/strict';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChangeBatch } from '../../src/notes/index.ts';
import { watchNotes } from '../../src/notes/index.ts';
import { tempDir } from '../helpers/tmp.ts';
import { openTestIndex, writeNotes } from '../helpers/vault.ts';

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('live re-indexing: bulk checkout in few batches, folder rename and delete leave no ghosts', {
  timeout: 120_000,
}, async (t) => {
  const notes = tempDir(t);
  const state = tempDir(t);
  writeNotes(notes, { 'projects/a.md': '# A\n\nalpha quokka\n', 'projects/b.md': '# B\n\nbeta wombat\n' });
  const index = await openTestIndex(t, notes, state);
  await index.sync();
  const batches: ChangeBatch[] = [];
  const w = await watchNotes(notes, {
    include: ['**/*.md'],
    exclude: [],
    skipDirs: [state],
    onBatch: async (b) => {
      batches.push(b);
      await index.apply(b);
    },
  });
  t.after(() => w.close());
  const paths = () => [...index.noteStates().keys()].sort();

  // A checkout writing 1,000 notes at once arrives as a handful of batches, not 1,000 runs.
  const files: Record<string, string> = {};
  for (let i = 0; i < 1000; i++) files[`bulk/n${String(i).padStart(4, '0')}.md`] = `# Note ${i}\n\nbody ${i}\n`;
  writeNotes(notes, files);
  await until('1,000 notes indexed', () => paths().length === 1002);
  assert.ok(batches.length <= 10, `${batches.length} batches`);

  renameSync(join(notes, 'projects'), join(notes, 'archive'));
  await until('rename seen', () => paths().includes('archive/a.md') && !paths().some((p) => p.startsWith('projects/')));
  assert.deepEqual(
    paths().filter((p) => !p.startsWith('bulk/')),
    ['archive/a.md', 'archive/b.md'],
  );

  rmSync(join(notes, 'bulk'), { recursive: true });
  await until('folder delete seen', () => paths().length === 2);
  assert.equal(index.counts().chunks, 2);
});
