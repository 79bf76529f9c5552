import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bundledModelDir, type HubModelSpec } from '../../src/embed/index.ts';

// No model hub is reachable here, so the hub code path (pinned revision, checksums, cache
// layout) is exercised with the bundled model's real files published under a hub-style id
// by a local server that speaks the hub's /<id>/resolve/<revision>/<file> URLs.

export const TEST_REVISION = '0123456789abcdef0123456789abcdef01234567';

/** Bundled files a hub copy needs, in the layout transformers.js expects. */
const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];

export function hubCopySpec(id: string): HubModelSpec {
  const dir = bundledModelDir();
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    notes_mcp: { dims: number; max_tokens: number };
  };
  return {
    id,
    revision: TEST_REVISION,
    dtype: 'fp32',
    dims: config.notes_mcp.dims,
    maxTokens: config.notes_mcp.max_tokens,
    pooling: 'mean',
    license: 'MIT',
    description: 'test copy of the bundled model served as a hub model',
    files: FILES.map((path) => {
      const bytes = readFileSync(join(dir, ...path.split('/')));
      return { path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }),
  };
}

/** A manifest file for NOTES_MCP_MODEL_MANIFEST. */
export function writeManifest(file: string, specs: HubModelSpec[]): string {
  writeFileSync(file, JSON.stringify({ models: specs }, null, 2));
  return file;
}

export interface FakeHub {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  /** Replace the body served for a file path (e.g. to corrupt it); null answers 404. */
  override: Map<string, Buffer | null>;
  close: () => Promise<void>;
}

export async function startFakeHub(specs: HubModelSpec[]): Promise<FakeHub> {
  const dir = bundledModelDir();
  const requests: string[] = [];
  const override = new Map<string, Buffer | null>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
    requests.push(path);
    for (const spec of specs) {
      const prefix = `/${spec.id}/resolve/${spec.revision}/`;
      if (!path.startsWith(prefix)) continue;
      const file = path.slice(prefix.length);
      if (!spec.files.some((f) => f.path === file)) break;
      const body = override.has(file) ? override.get(file) : readFileSync(join(dir, ...file.split('/')));
      if (!body) break;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    override,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
