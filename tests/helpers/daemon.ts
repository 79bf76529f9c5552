import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.ts';
import { silentLogger } from '../../src/log.ts';
import { tempDir } from './tmp.ts';
import { testConfig } from './vault.ts';

type T = { after: (fn: () => unknown) => void };

export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** A real daemon on a loopback port 0, indexed and ready, stopped when the test ends. */
export async function startTestDaemon(t: T, notes: string, extra: Record<string, unknown> = {}): Promise<Daemon> {
  const state = tempDir(t, 'notes-mcp-state-');
  const config = testConfig(notes, state, { port: 0, token: TEST_TOKEN, ...extra });
  const d = await startDaemon({ config, log: silentLogger() });
  t.after(() => d.shutdown('test end'));
  await d.ready;
  await d.index.idle();
  return d;
}

export type AnyClient = {
  era: '2025' | '2026';
  callTool: (
    name: string,
    args: Record<string, unknown>,
  ) => Promise<{
    isError?: boolean;
    structuredContent?: Record<string, unknown>;
    content?: unknown;
  }>;
  raw: ClientV1 | ClientV2;
  close: () => Promise<void>;
};

function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The legacy client most hosts still use (2025-11-25, sessions). */
export async function connectV1(t: T, url: string, token: string | undefined = TEST_TOKEN): Promise<ClientV1> {
  const client = new ClientV1({ name: 'test-v1', version: '1.0.0' }, { capabilities: {} });
  const transport = new TransportV1(new URL(url), { requestInit: { headers: authHeaders(token) } });
  await client.connect(transport);
  t.after(() => client.close());
  return client;
}

/** The current client pinned to 2026-07-28 (stateless). */
export async function connectV2(t: T, url: string, token: string | undefined = TEST_TOKEN): Promise<ClientV2> {
  const client = new ClientV2(
    { name: 'test-v2', version: '2.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  const transport = new TransportV2(new URL(url), { requestInit: { headers: authHeaders(token) } });
  await client.connect(transport);
  t.after(() => client.close());
  return client;
}

export async function connectBoth(t: T, url: string): Promise<AnyClient[]> {
  const v1 = await connectV1(t, url);
  const v2 = await connectV2(t, url);
  const wrap = (era: '2025' | '2026', c: ClientV1 | ClientV2): AnyClient => ({
    era,
    raw: c,
    callTool: (name, args) => (c as ClientV1).callTool({ name, arguments: args }) as never,
    close: () => c.close(),
  });
  return [wrap('2025', v1), wrap('2026', v2)];
}
