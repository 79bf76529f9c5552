import { connect, type Socket } from 'node:net';

/** The JSON-RPC body of a 2026-07-28 `subscriptions/listen` for these note URIs. */
export function listenRequestBody(id: number, uris: readonly string[], client: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'subscriptions/listen',
    params: {
      notifications: { resourcesListChanged: true, resourceSubscriptions: uris },
      // The per-request envelope, as the SDK client sends it.
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: client, version: '1' },
      },
    },
  });
}

/**
 * A 2026-07-28 `subscriptions/listen` request written to a raw socket that is then never read:
 * the slowest client a notification stream can have. Shared by bench:serving and the
 * backpressure test, which must attack the daemon the same way.
 */
export function deafListener(port: number, token: string, id: number, uris: readonly string[]): Socket {
  const body = listenRequestBody(id, uris, 'deaf');
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.pause();
  socket.write(
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n` +
      'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
      'Mcp-Protocol-Version: 2026-07-28\r\nMcp-Method: subscriptions/listen\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return socket;
}
