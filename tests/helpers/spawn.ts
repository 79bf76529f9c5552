import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { TEST_TOKEN } from './daemon.ts';
import { BIN } from './tmp.ts';

/** A port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}

/** `notes-mcp serve` as a child process (bundled model, TEST_TOKEN accepted). */
export function spawnDaemon(notes: string, state: string, port: number): { child: ChildProcess; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--notes', notes, '--state', state, '--port', String(port), '--model', 'bundled'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: state, NOTES_MCP_TOKEN: TEST_TOKEN } },
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, stderr: () => err };
}

/** Wait until /health answers (the daemon is serving), or fail when it exits first. */
export async function untilHealthy(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('daemon did not become healthy');
}
