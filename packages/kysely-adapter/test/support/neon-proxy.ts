import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

// A WebSocket-to-TCP proxy, as Neon's wsproxy is: each WebSocket carries one PostgreSQL connection, its binary
// frames forwarded to the server named by `?address=HOST:PORT` and back. The Neon engine's tests reach the local
// PostgreSQL through it, in this process and in the instances they spawn.

export interface NeonProxy {
  /** `127.0.0.1:PORT/v1`: Neon's `wsProxy`, to which the driver appends `?address=HOST:PORT`. */
  readonly address: string;
  /** The WebSockets open now. */
  readonly open: number;
  /** Drops every WebSocket at once, as a network failure would: no close handshake, the TCP side ended. */
  dropAll(): number;
  close(): Promise<void>;
}

let shared: Promise<NeonProxy> | undefined;

/** One proxy per test process, started on first use; it keeps nothing alive. */
export function neonProxy(): Promise<NeonProxy> {
  shared ??= startNeonProxy();
  return shared;
}

export async function startNeonProxy(): Promise<NeonProxy> {
  const server: Server = createServer();
  const wss = new WebSocketServer({ server });
  const pairs = new Set<{ ws: WebSocket; tcp: Socket }>();
  wss.on('connection', (ws, request) => {
    const address = new URL(request.url ?? '/', 'http://proxy').searchParams.get('address') ?? '';
    const [host, port] = address.split(':');
    const tcp = connect({ host: host || '127.0.0.1', port: Number(port || 5432) });
    const pair = { ws, tcp };
    pairs.add(pair);
    // Bytes from the client before the server connection is up are buffered by the socket.
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      tcp.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
    });
    tcp.on('data', (chunk) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      tcp.destroy();
      ws.terminate();
    };
    ws.on('close', end);
    ws.on('error', end);
    tcp.on('close', end);
    tcp.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}/v1`,
    get open() {
      return pairs.size;
    },
    dropAll() {
      const n = pairs.size;
      for (const pair of [...pairs]) {
        pair.ws.terminate();
        pair.tcp.destroy();
      }
      return n;
    },
    async close() {
      for (const pair of [...pairs]) pair.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => server.close(() => resolve())));
    },
  };
}

/** The `neon://` URL of a PostgreSQL URL through `proxy`: plain `ws:`, and no pipelined password (trust auth). */
export function neonUrl(postgresUrl: string, proxy: NeonProxy): string {
  const url = new URL(postgresUrl);
  url.searchParams.set('wsProxy', proxy.address);
  url.searchParams.set('useSecureWebSocket', 'false');
  url.searchParams.set('pipelineConnect', 'false');
  return `neon:${url.toString().slice('postgres:'.length)}`;
}
