import { mkdirSync } from 'node:fs';
import type { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Config } from '../config/index.ts';
import { openEmbedder } from '../embed/index.ts';
import { NotesIndex } from '../index/index.ts';
import type { Logger } from '../log.ts';
import { watchIntoIndex } from './watch.ts';
import type { McpInstanceContext } from '../mcp/context.ts';
import { NotificationHub } from '../mcp/notify.ts';
import { createMcpServer } from '../mcp/server.ts';

/**
 * One local client over stdin/stdout (no auth: the client started us as the user). stdout
 * carries only MCP messages; logs go to stderr or the log file. Ends when stdin closes.
 */
export async function serveStdioDaemon(config: Config, log: Logger): Promise<void> {
  mkdirSync(config.notesDir, { recursive: true });
  const embedder = await openEmbedder({ model: config.model, modelsDir: config.modelsDir, log });
  const index = await NotesIndex.open({ config, embedder, log });
  const hub = new NotificationHub(index);
  const deps = { index, config, log };
  const subs = new Set<string>();
  let pinned: McpServer | undefined;
  hub.add({
    resourceUpdated: (uri) => {
      if (pinned && subs.has(uri)) void pinned.server.sendResourceUpdated({ uri }).catch(() => undefined);
    },
    resourcesChanged: () => pinned?.sendResourceListChanged(),
  });
  const handle = serveStdio(
    (ctx) => {
      const ictx: McpInstanceContext = {
        era: ctx.era,
        onSubscribe: (uri) => subs.add(uri),
        onUnsubscribe: (uri) => subs.delete(uri),
      };
      pinned = createMcpServer(deps, ictx);
      return pinned;
    },
    { onerror: (err) => log.debug({ err: err.message }, 'stdio transport') },
  );
  const watcher = await watchIntoIndex(config, index, log);
  void index.sync().catch((err: unknown) => log.error({ err }, 'initial index failed'));

  await new Promise<void>((resolve) => {
    const done = (): void => resolve();
    process.stdin.once('end', done);
    process.stdin.once('close', done);
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  try {
    await handle.close();
    await watcher?.close();
    hub.close();
    await index.close();
    await embedder.dispose();
  } catch (err) {
    log.error({ err }, 'stdio shutdown failed');
  }
}
