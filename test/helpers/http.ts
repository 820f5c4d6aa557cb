import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on an ephemeral loopback port and returns the base URL and a closer. */
export async function listen(
  app: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
  host = '127.0.0.1',
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const { createServer } = await import('node:http');
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
  return {
    url,
    server,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
