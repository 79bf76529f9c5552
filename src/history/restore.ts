import { existsSync } from 'node:fs';
import { NotesError } from '../errors.ts';
import {
  mapLimit,
  moveNote,
  readNote,
  resolveNotePath,
  throwPathError,
  untrashNote,
  withMoveLock,
  type WriteResult,
  writeNote,
} from '../notes/index.ts';
import type { ChangeRecorder, History, HistoryEntry } from './history.ts';

// Undoing a change notes-mcp made, for restore_note and `notes-mcp restore` alike. Every
// restore is itself a recorded change, and never replaces text notes-mcp did not write without
// being told the hash of that text: edits from an editor or git are not history, so a restore
// over them needs expected_hash, like any write.

export interface RestoreRequest {
  path: string;
  /** A content hash from the note's history; default: undo the note's last recorded change. */
  version?: string | undefined;
  /** The note's current hash, confirming the restore may replace it. */
  expectedHash?: string | undefined;
}

export interface RestoreResult {
  path: string;
  hash: string;
  bytes: number;
  /** version: text written back; trash: the deleted file moved back; move: a move undone. */
  how: 'version' | 'trash' | 'move' | 'unchanged';
  /** The recorded change this restore undid (absent when a version was named). */
  undid?: string | undefined;
  /** For a move undone: where the note was. */
  movedFrom?: string | undefined;
  /** For a move undone: the notes whose links the move rewrote, put back as they were. */
  linksRestored?: Array<{ path: string; hash: string }>;
  /** For a move undone: the notes whose rewritten links were left, and why. */
  linksNotRestored?: Array<{ path: string; reason: string }>;
}

/** Linking notes put back at once when a move is undone (each waits on fsyncs). */
const REWRITES_AT_ONCE = 8;

/** The hash notes-mcp last left the note at (null: it removed or moved the note away). */
function lastLeft(path: string, newest: HistoryEntry): string | null {
  // A move has a destination; links rewritten after one are plain edits.
  if (newest.to !== undefined) return newest.to === path ? newest.after : null;
  return newest.after;
}

async function currentHash(root: string, path: string): Promise<string | null> {
  try {
    return (await readNote(root, path)).hash;
  } catch (err) {
    if (err instanceof NotesError && err.code === 'NOTES_E_NOTE_NOT_FOUND') return null;
    throw err;
  }
}

function versionGone(path: string, why: string): NotesError {
  return new NotesError('NOTES_E_VERSION_NOT_FOUND', [path, why]);
}

export async function restoreNote(
  root: string,
  history: History,
  req: RestoreRequest,
  rec: ChangeRecorder,
): Promise<RestoreResult> {
  const check = await resolveNotePath(root, req.path, { forWrite: true });
  if (!check.ok) throwPathError(check, req.path);
  const path = check.rel;
  const versions = await history.versions(path);
  const newest = versions[0];
  if (!newest) throw versionGone(path, 'notes-mcp has recorded no change to it');
  const cur = await currentHash(root, path);
  // Without expected_hash, what notes-mcp last left there is all a restore may replace.
  const expected = req.expectedHash ?? lastLeft(path, newest);

  const writeBack = async (hash: string, undid?: string): Promise<RestoreResult> => {
    if (cur === hash) return { path, hash, bytes: 0, how: 'unchanged', undid };
    const kept = await history.blob(hash);
    if (!kept.ok)
      throw versionGone(
        path,
        kept.why === 'missing'
          ? `the kept copy of version ${hash} is missing from the history folder (removed outside notes-mcp)`
          : `the kept copy of version ${hash} no longer matches its hash (changed outside notes-mcp)`,
      );
    const bytes = kept.data;
    if (cur !== null && cur !== expected) {
      throw new NotesError('NOTES_E_NOTE_CONFLICT', [path, expected ?? 'none', cur]);
    }
    // The kept bytes as they are: a version with a stray non-UTF-8 byte comes back unchanged.
    const w = await rec.run(() =>
      writeNote(root, path, bytes, {
        mode: cur === null ? 'create' : 'overwrite',
        ...(cur === null ? {} : { expectedHash: cur }),
        beforeWrite: async (c) => {
          await rec.before({ path: c.path, before: c.before, after: c.after });
        },
      }),
    );
    return { path: w.path, hash: w.hash, bytes: w.bytes, how: 'version', undid };
  };

  if (req.version !== undefined) {
    if (newest.to !== undefined && newest.to !== path && (await currentHash(root, newest.to)) !== null) {
      // Written here, the version would be a second copy of the note beside the moved one.
      throw versionGone(path, `notes-mcp moved it to ${newest.to}: restore the version there (its history goes along)`);
    }
    const known = versions.some((e) => e.before === req.version || e.after === req.version);
    if (!known) throw versionGone(path, `${req.version} is not one of the versions note_history lists for it`);
    return writeBack(req.version);
  }

  const move = await moveToUndo(history, path, newest);
  if (move !== null) return withMoveLock(root, () => undoMove(root, history, move, req.expectedHash, rec));

  if (cur === null) {
    // The note is gone: the trash holds it when delete_note took it (the newest such delete
    // whose file is still there), else the last text notes-mcp recorded for it is written back:
    // that undoes a removal made outside notes-mcp, not a recorded change, so `undid` is unset.
    const deleted = versions.find((e) => e.tool === 'delete_note' && e.trash && existsSync(history.trashFile(e.trash)));
    if (deleted?.trash) {
      const trash = history.trashFile(deleted.trash);
      const kept = deleted.before === null ? null : await history.blob(deleted.before);
      const w = await rec.run(() =>
        untrashNote(root, path, trash, {
          expectedHash: deleted.before,
          deletedBytes: kept?.ok ? kept.data : undefined,
          beforeRestore: async (c) => {
            await rec.before({ path: c.path, before: null, after: c.bytes });
          },
        }),
      );
      return { path: w.path, hash: w.hash, bytes: w.bytes, how: 'trash', undid: deleted.id };
    }
    const last = versions.map((e) => e.after ?? e.before).find((h) => h !== null);
    if (last) return writeBack(last);
  }

  if (newest.before === null) {
    throw versionGone(
      path,
      `its last recorded change (${newest.tool}, ${newest.at}) created it: delete_note removes it`,
    );
  }
  return writeBack(newest.before, newest.id);
}

/**
 * The move a restore of `path` undoes: its newest change when that is a move to or from it, or
 * the move that a change made with it followed from (the moved note's own links rewritten, or
 * an undone move's links put back): a move and its rewrites are undone together.
 */
async function moveToUndo(history: History, path: string, newest: HistoryEntry): Promise<HistoryEntry | null> {
  if (newest.to !== undefined) return newest;
  if (newest.call === undefined) return null;
  const cause = (await history.entries()).find((e) => e.id === newest.call);
  return cause?.to === path ? cause : null;
}

/**
 * Move the note back, then put back the links the move rewrote: the note's own and those of
 * the notes that link to it, each only if it is still what the move left (a note edited since
 * keeps its text and is listed as not restored). The rewrites name the undoing move, so a
 * restore of this restore redoes the whole move.
 */
async function undoMove(
  root: string,
  history: History,
  move: HistoryEntry,
  expectedHash: string | undefined,
  rec: ChangeRecorder,
): Promise<RestoreResult> {
  const [from, to] = [move.path, move.to ?? move.path];
  if ((await currentHash(root, from)) !== null) throw new NotesError('NOTES_E_TARGET_EXISTS', [from, 'restore_note']);
  // One per note, the last: a daemon killed mid-rewrite leaves an entry for a write that never
  // happened, and the restart's rewrite of that note records it again.
  const byPath = new Map<string, HistoryEntry>();
  for (const e of await history.entries()) if (e.call === move.id && e.to === undefined) byPath.set(e.path, e);
  const rewrites = [...byPath.values()];
  const own = rewrites.find((e) => e.path === to);
  const atTo = await currentHash(root, to);
  let undoId: string | undefined;
  const m = await rec.run(() =>
    moveNote(root, to, from, {
      // The note must be what the move (and its own rewrite) left, or what the caller says.
      expectedHash: expectedHash ?? own?.after ?? move.after ?? undefined,
      beforeMove: async (c) => {
        undoId = (await rec.before({ path: c.from, to: c.to, before: c.bytes, after: c.bytes })).id;
      },
    }),
  );
  const restored: Array<{ path: string; hash: string }> = [];
  const left: Array<{ path: string; reason: string }> = [];
  const putBack = async (e: HistoryEntry, at: string, current: string | null): Promise<WriteResult | null> => {
    if (current === null) return listLeft(left, at, 'it no longer exists');
    if (e.before === null || current !== e.after)
      return listLeft(left, at, 'changed since the move: its links were left as they are');
    const kept = await history.blob(e.before);
    if (!kept.ok) return listLeft(left, at, `the kept copy of its earlier version is ${kept.why}`);
    const r = rec.another();
    try {
      const w = await r.run(() =>
        writeNote(root, at, kept.data, {
          mode: 'overwrite',
          expectedHash: current,
          beforeWrite: async (c) => {
            await r.before({ path: c.path, before: c.before, after: c.after, call: undoId });
          },
        }),
      );
      restored.push({ path: w.path, hash: w.hash });
      return w;
    } catch (err) {
      return listLeft(left, at, err instanceof NotesError ? err.message : 'internal error (see the server log)');
    }
  };
  const mine = own === undefined ? null : await putBack(own, from, atTo);
  const others = rewrites.filter((e) => e.path !== to);
  await mapLimit(others, REWRITES_AT_ONCE, async (e) => {
    let current: string | null;
    try {
      current = await currentHash(root, e.path);
    } catch (err) {
      listLeft(left, e.path, err instanceof NotesError ? err.message : 'it could not be read');
      return;
    }
    await putBack(e, e.path, current);
  });
  const order = new Map([from, ...others.map((e) => e.path)].map((p, i) => [p, i]));
  const byOrder = (a: { path: string }, b: { path: string }) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0);
  return {
    path: m.to,
    hash: mine?.hash ?? m.hash,
    bytes: mine?.bytes ?? m.bytes,
    how: 'move',
    undid: move.id,
    movedFrom: m.from,
    linksRestored: restored.sort(byOrder),
    linksNotRestored: left.sort(byOrder),
  };
}

function listLeft(into: Array<{ path: string; reason: string }>, path: string, reason: string): null {
  into.push({ path, reason });
  return null;
}
