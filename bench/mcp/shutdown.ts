// Graceful shutdown under a write_note load, on a spawned `notes-mcp serve`: how long SIGTERM
// takes to exit and whether every acknowledged write is on disk.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { track, untrack } from '../lib/children.ts';
import { connect } from '../lib/clients.ts';
import { BIN } from '../lib/paths.ts';
import { CLIENTS, type Plan, TOKEN } from './plan.ts';

export interface ShutdownResult {
  exitCode: number | null;
  signal: string | null;
  exitMs: number;
  acknowledged: number;
  ackedAfterSigterm: number;
  refused: number;
  failedAcknowledged: number;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  srv.close();
  return port;
}

async function waitIndexed(port: number, child: ChildProcess): Promise<void> {
  const Health = z.object({ index: z.object({ syncing: z.boolean() }) });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`notes-mcp serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok && !Health.parse(await r.json()).index.syncing) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('notes-mcp serve did not finish its initial index in 60 s');
}

export async function benchShutdown(corpusDir: string, plan: Plan): Promise<ShutdownResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'notes-mcp-bench-shutdown-'));
  try {
    const notes = join(tmp, 'notes');
    const state = join(tmp, 'state');
    const from = join(corpusDir, 'pages', 'common');
    mkdirSync(join(notes, 'common'), { recursive: true });
    for (const f of readdirSync(from).sort().slice(0, 200)) cpSync(join(from, f), join(notes, 'common', f));
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          HOME: state,
          NOTES_MCP_TOKEN: TOKEN,
          NOTES_MCP_RATE_LIMIT: '100000000',
          NOTES_MCP_LOG_LEVEL: 'warn',
        },
      },
    );
    track(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await waitIndexed(port, child);

    const url = `http://127.0.0.1:${port}/mcp`;
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        connect(i % 2 === 0 ? '2025-11-25' : '2026-07-28', url, TOKEN, `bench-writer-${i}`),
      ),
    );
    const acked: Array<{ path: string; content: string }> = [];
    let sigtermAt = 0;
    let ackedAfter = 0;
    let refused = 0;
    let stop = false;
    const workers = clients.map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        const path = `burst/c${i}-${n}.md`;
        const content = `# write ${i}-${n}\n\n${'acknowledged writes must survive SIGTERM. '.repeat(20)}\n`;
        try {
          if (await c.call('write_note', { path, content })) {
            acked.push({ path, content });
            if (sigtermAt > 0) ackedAfter++;
          } else refused++;
        } catch {
          refused++;
          // Refused while draining or the socket is gone: back off instead of spinning.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await new Promise((r) => setTimeout(r, plan.shutdownLoadMs));
    sigtermAt = performance.now();
    child.kill('SIGTERM');
    const [exitCode, signal] = await exited;
    const exitMs = performance.now() - sigtermAt;
    untrack(child);
    stop = true;
    await Promise.allSettled(workers);
    await Promise.allSettled(clients.map((c) => c.close()));

    let failed = 0;
    for (const w of acked) {
      try {
        if (readFileSync(join(notes, w.path), 'utf8') !== w.content) failed++;
      } catch {
        failed++;
      }
    }
    if (exitCode !== 0) process.stderr.write(`notes-mcp serve stderr:\n${stderr.slice(-2000)}\n`);
    return {
      exitCode,
      signal,
      exitMs,
      acknowledged: acked.length,
      ackedAfterSigterm: ackedAfter,
      refused,
      failedAcknowledged: failed,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
