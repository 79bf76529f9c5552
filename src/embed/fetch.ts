import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotesError } from '../errors.ts';
import { fsyncPathAsync } from '../fs-atomic.ts';
import { type Catalog, DEFAULT_HUB_MODEL_ID, findHubModel, type HubModelSpec, loadCatalog } from './catalog.ts';
import { hubModelDir, hubModelPresent, isBundledRequest } from './choice.ts';
import { verifyModelFiles } from './info.ts';

// `notes-mcp model fetch` is the one place that talks to a model hub. Every file of the model
// is downloaded into a staging folder next to the target, checked against the pinned size and
// sha256, and only a complete, verified set is renamed into place: an interrupted or corrupted
// download never leaves a model that looks present.

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface FetchProgress {
  file: string;
  received: number;
  total: number;
  /** Index of this file in the model's list, and the count. */
  index: number;
  count: number;
}

export interface FetchModelOptions {
  /** Hub model id; defaults to the model `auto` prefers. */
  id?: string;
  modelsDir: string;
  /** Base URL; defaults to $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  catalog?: Catalog;
  onProgress?: (p: FetchProgress) => void;
  /** Re-download even when the files are present and verify. */
  force?: boolean;
  signal?: AbortSignal;
}

export interface FetchModelResult {
  id: string;
  revision: string;
  dir: string;
  /** False when the model was already present and verified. */
  downloaded: boolean;
  bytes: number;
}

export function fileUrl(endpoint: string, spec: HubModelSpec, path: string): string {
  const base = endpoint.replace(/\/+$/, '');
  const file = path.split('/').map(encodeURIComponent).join('/');
  return `${base}/${spec.id}/resolve/${spec.revision}/${file}`;
}

async function downloadOne(
  url: string,
  dest: string,
  spec: HubModelSpec,
  file: HubModelSpec['files'][number],
  progress: (received: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) });
  } catch (err) {
    // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND) in cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new NotesError('NOTES_E_MODEL_FETCH', [spec.id, `${url}: ${why}`], { cause: err });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new NotesError('NOTES_E_MODEL_FETCH', [spec.id, `${url}: HTTP ${res.status}`]);
  }
  await mkdir(dirname(dest), { recursive: true });
  const hash = createHash('sha256');
  let received = 0;
  try {
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          received += chunk.length;
          // Stop early instead of filling the disk when a server sends more than expected.
          if (received > file.size) {
            throw new NotesError('NOTES_E_MODEL_CHECKSUM', [
              file.path,
              `${file.size} bytes`,
              `more than ${file.size} bytes`,
            ]);
          }
          hash.update(chunk);
          progress(received);
          yield chunk;
        }
      },
      createWriteStream(dest, { mode: 0o644 }),
    );
  } catch (err) {
    if (err instanceof NotesError) throw err;
    throw new NotesError('NOTES_E_MODEL_FETCH', [spec.id, `${url}: ${(err as Error).message}`], { cause: err });
  }
  if (received !== file.size) {
    throw new NotesError('NOTES_E_MODEL_CHECKSUM', [file.path, `${file.size} bytes`, `${received} bytes`]);
  }
  const digest = hash.digest('hex');
  if (digest !== file.sha256) throw new NotesError('NOTES_E_MODEL_CHECKSUM', [file.path, file.sha256, digest]);
  // The bytes must be on disk before the rename makes them visible as part of the model.
  await fsyncPathAsync(dest);
}

async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === top) return;
  }
}

/** Download, verify and install a pinned hub model into <modelsDir>/<id>/. */
export async function fetchModel(opts: FetchModelOptions): Promise<FetchModelResult> {
  const id = opts.id ?? DEFAULT_HUB_MODEL_ID;
  if (isBundledRequest(id) || id === 'auto') {
    throw new NotesError('NOTES_E_USAGE', [
      `"${id}" is not a downloadable model: the bundled model ships with notes-mcp`,
    ]);
  }
  const catalog = opts.catalog ?? loadCatalog();
  const spec = findHubModel(catalog, id);
  if (!spec) throw new NotesError('NOTES_E_MODEL_UNKNOWN', [id]);
  const endpoint = opts.endpoint ?? (process.env.HF_ENDPOINT || DEFAULT_ENDPOINT);
  const target = hubModelDir(opts.modelsDir, spec.id);
  const bytes = spec.files.reduce((s, f) => s + f.size, 0);

  if (!opts.force && hubModelPresent(spec, target)) {
    const checks = await verifyModelFiles(target, spec.files);
    if (checks.every((c) => c.ok))
      return { id: spec.id, revision: spec.revision, dir: target, downloaded: false, bytes };
  }

  // Staging lives beside the target so the final rename never crosses file systems.
  const parent = dirname(target);
  const createdParent = await mkdir(parent, { recursive: true });
  const staging = join(parent, `.${spec.id.split('/').pop()}.fetch-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    for (const [index, file] of spec.files.entries()) {
      const dest = join(staging, ...file.path.split('/'));
      opts.onProgress?.({ file: file.path, received: 0, total: file.size, index, count: spec.files.length });
      await downloadOne(
        fileUrl(endpoint, spec, file.path),
        dest,
        spec,
        file,
        (received) =>
          opts.onProgress?.({ file: file.path, received, total: file.size, index, count: spec.files.length }),
        opts.signal,
      );
    }
    await fsyncPathAsync(staging);
    // Swap the verified folder in; an older or partial copy is moved aside first and removed.
    const old = `${staging}.old`;
    let moved = false;
    try {
      await rename(target, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await rename(staging, target);
    } catch (err) {
      if (moved) await rename(old, target).catch(() => {});
      throw err;
    }
    await fsyncPathAsync(parent);
    if (moved) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    // Leave no empty owner folder behind either, if this run created it.
    if (createdParent) await removeEmptyUpTo(parent, createdParent);
    throw err;
  }
  return { id: spec.id, revision: spec.revision, dir: target, downloaded: true, bytes };
}
