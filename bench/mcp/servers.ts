// The two servers bench:mcp measures, each run in a child process (startServer forks this file):
// the notes-mcp daemon on the bench's corpus, and the protocol floor, a minimal SDK v2 server.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type Child, sendReady, serveParent, startChild } from '../lib/children.ts';
import { QUESTIONS_FILE } from '../lib/paths.ts';
import { TOKEN } from './plan.ts';

export const NotesServerArgs = z.object({
  notes: z.string(),
  state: z.string(),
  maxTokens: z.number().int().positive(),
});
export type NotesServerArgs = z.infer<typeof NotesServerArgs>;

type Kind = 'notes' | 'baseline';

// This module is the child's entry: .ts under a TypeScript loader, .js once compiled.
const SELF = fileURLToPath(import.meta.url);

export function startServer(kind: 'notes', args: NotesServerArgs): Promise<Child>;
export function startServer(kind: 'baseline'): Promise<Child>;
export function startServer(kind: Kind, args?: NotesServerArgs): Promise<Child> {
  return startChild(`${kind} server`, SELF, ['--server', kind, JSON.stringify(args ?? {})]);
}

async function runNotes(args: NotesServerArgs): Promise<void> {
  const [{ startDaemon }, { loadConfig }, { silentLogger }, { search, warmSearch }] = await Promise.all([
    import('../../src/daemon/daemon.ts'),
    import('../../src/config/index.ts'),
    import('../../src/log.ts'),
    import('../../src/search/index.ts'),
  ]);
  const config = loadConfig({
    env: { HOME: args.state },
    flags: {
      notes: args.notes,
      state: args.state,
      model: 'bundled',
      logLevel: 'silent',
      port: 0,
      token: TOKEN,
      // The bench sends thousands of requests a minute from one token.
      rateLimitPerMinute: 100_000_000,
    },
  });
  const t0 = performance.now();
  const d = await startDaemon({ config, log: silentLogger(), chunkOptions: { maxTokens: args.maxTokens } });
  let indexed = 0;
  d.index.once('synced', (s) => {
    indexed = s.indexed;
  });
  const progress = setInterval(() => {
    const s = d.index.status();
    process.stderr.write(`  indexing: ${s.notes} notes, ${s.chunks} chunks so far\n`);
  }, 15_000);
  await d.ready;
  await d.index.idle();
  clearInterval(progress);
  // The daemon gives every word of the index a vector for late interaction in the background
  // once it has started (one-time work, ~60k words): measured calls must not pay for it. This
  // joins the warm-up the daemon started.
  const w0 = performance.now();
  await warmSearch(d.index);
  // Late interaction embeds a word the first time a query or a candidate passage brings it
  // (the warm-up covers the index's first 60k words). The queries cycle across both protocol
  // revisions, so the lane measured first met the questions' words first and paid for them:
  // 0.6-3.0 ms more per search on 2025-11-25 than on 2026-07-28 in the same runs. One
  // untimed search per question here, so both lanes measure a daemon that knows them.
  const questions = z
    .array(z.object({ q: z.string() }))
    .parse(JSON.parse(readFileSync(QUESTIONS_FILE, 'utf8')))
    .map((x) => x.q);
  for (const q of questions) await search(d.index, q, { k: 8, onePerNote: true });
  process.stderr.write(
    `  late-interaction warm-up joined, then one search per question: ${((performance.now() - w0) / 1000).toFixed(1)} s\n`,
  );
  const s = d.index.status();
  sendReady({ url: d.url, notes: s.notes, chunks: s.chunks, indexed, seconds: (performance.now() - t0) / 1000 });
  serveParent(() => d.shutdown('bench done'));
}

async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new Error('body too large');
    parts.push(b);
  }
  const text = Buffer.concat(parts).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

/**
 * The protocol floor: SDK v2, one trivial tool, the same two lanes as src/http/mcp-endpoint.ts
 * (createMcpHandler + toNodeHandler for 2026-07-28, a sessionful NodeStreamableHTTPServerTransport
 * for 2025 clients) on bare node:http, without auth, express, rate limit or metrics.
 */
async function runBaseline(): Promise<void> {
  const { McpServer, createMcpHandler, isLegacyRequest } = await import('@modelcontextprotocol/server');
  const { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } = await import('@modelcontextprotocol/node');
  const factory = () => {
    const s = new McpServer({ name: 'baseline', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.registerTool(
      'echo',
      { description: 'Return the text unchanged.', inputSchema: z.object({ text: z.string() }) },
      ({ text }) => ({ content: [{ type: 'text', text }] }),
    );
    return s;
  };
  const handler = createMcpHandler(factory, { legacy: 'reject' });
  const modern = toNodeHandler(handler);
  const sessions = new Map<string, InstanceType<typeof NodeStreamableHTTPServerTransport>>();
  const limit = 4 * 1024 * 1024;

  const server = createServer(async (req, res) => {
    try {
      const body = req.method === 'POST' ? await readJsonBody(req, limit) : undefined;
      const web = await toWebRequest(req, body, { maxRequestBodySize: limit });
      if (!(await isLegacyRequest(web, body, { maxRequestBodySize: limit }))) {
        await modern(req, res, body);
        return;
      }
      const sid = req.headers['mcp-session-id'];
      const id = Array.isArray(sid) ? sid[0] : sid;
      if (id === undefined) {
        const isInit = typeof body === 'object' && body !== null && 'method' in body && body.method === 'initialize';
        if (req.method !== 'POST' || !isInit) return jsonRpcError(res, 400, 'Mcp-Session-Id header is required');
        const transport = new NodeStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (newId) => {
            sessions.set(newId, transport);
          },
        });
        transport.onclose = () => {
          if (transport.sessionId) sessions.delete(transport.sessionId);
        };
        await factory().connect(transport);
        await transport.handleRequest(req, res, body);
        return;
      }
      const transport = sessions.get(id);
      if (!transport) return jsonRpcError(res, 404, 'Session not found');
      await transport.handleRequest(req, res, body);
    } catch (err) {
      jsonRpcError(res, 500, (err as Error).message);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  sendReady({ url: `http://127.0.0.1:${port}/mcp`, notes: 0, chunks: 0, indexed: 0, seconds: 0 });
  serveParent(async () => {
    server.closeAllConnections();
    server.close();
    await handler.close();
  });
}

const argv = process.argv.slice(2);
if (argv[0] === '--server') {
  const kind = argv[1];
  const run = kind === 'notes' ? runNotes(NotesServerArgs.parse(JSON.parse(argv[2] ?? '{}'))) : runBaseline();
  run.catch((err: unknown) => {
    process.stderr.write(`bench ${kind} server failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
