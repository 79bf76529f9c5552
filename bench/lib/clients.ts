// MCP clients for the benches, one per protocol era, behind one small interface: the SDK v1
// client for 2025-11-25 (what most hosts ship) and the SDK v2 client pinned to 2026-07-28.
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export type Era = '2025-11-25' | '2026-07-28';
export const ERAS: readonly Era[] = ['2025-11-25', '2026-07-28'];

export interface ToolResult {
  isError: boolean;
  structured: Record<string, unknown> | undefined;
}

export interface BenchClient {
  era: Era;
  /** tools/list, always a round trip; resolves to the number of tools. */
  listTools(): Promise<number>;
  /** tools/call; resolves to false for an isError result. */
  call(name: string, args: Record<string, unknown>): Promise<boolean>;
  /** tools/call with its result, failing after timeoutMs (a call cut off by a crash waits 60 s otherwise). */
  result(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<ToolResult>;
  /** resources/list (first page); resolves to the number of resources listed. */
  listResources(): Promise<number>;
  /** resources/read; resolves to the length of the text read. */
  readResource(uri: string): Promise<number>;
  close(): Promise<void>;
}

function textLength(contents: ReadonlyArray<object>): number {
  let n = 0;
  for (const c of contents) n += String((c as { text?: unknown }).text ?? '').length;
  return n;
}

function toResult(result: object): ToolResult {
  const r = result as { isError?: unknown; structuredContent?: unknown };
  const sc = r.structuredContent;
  return {
    isError: r.isError === true,
    structured: typeof sc === 'object' && sc !== null ? (sc as Record<string, unknown>) : undefined,
  };
}

export async function connect(era: Era, url: string, token: string | undefined, name: string): Promise<BenchClient> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  if (era === '2025-11-25') {
    const c = new ClientV1({ name, version: '1.0.0' }, { capabilities: {} });
    const t = new TransportV1(new URL(url), { requestInit: { headers } });
    await c.connect(t);
    return {
      era,
      listTools: async () => (await c.listTools()).tools.length,
      call: async (tool, args) => {
        const r = await c.callTool({ name: tool, arguments: args });
        return !('isError' in r && r.isError === true);
      },
      result: async (tool, args, timeoutMs = 60_000) =>
        toResult(await c.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs })),
      listResources: async () => (await c.listResources()).resources.length,
      readResource: async (uri) => textLength((await c.readResource({ uri })).contents),
      close: async () => {
        // End the session on the server too, so the next lane starts from the same state.
        await t.terminateSession().catch(() => undefined);
        await c.close();
      },
    };
  }
  const c = new ClientV2(
    { name, version: '2.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await c.connect(new TransportV2(new URL(url), { requestInit: { headers } }));
  return {
    era,
    // 'refresh': always a round trip, never the client's response cache.
    listTools: async () => (await c.listTools(undefined, { cacheMode: 'refresh' })).tools.length,
    call: async (tool, args) => (await c.callTool({ name: tool, arguments: args })).isError !== true,
    result: async (tool, args, timeoutMs = 60_000) =>
      toResult(await c.callTool({ name: tool, arguments: args }, { timeout: timeoutMs })),
    listResources: async () => (await c.listResources()).resources.length,
    readResource: async (uri) => textLength((await c.readResource({ uri })).contents),
    close: () => c.close(),
  };
}
