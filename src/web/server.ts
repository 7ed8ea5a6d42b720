/** The web app on node:http (through @hono/node-server's Request/Response adaptor). */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { WebApp } from './app.js';

export type HttpServerOptions = Readonly<{ app: WebApp; host: string; port: number }>;
export type RunningHttpServer = Readonly<{ port: number; close: () => Promise<void> }>;

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const server = createAdaptorServer({
    fetch: (req, env) => options.app.fetch(req, 'incoming' in env ? { remoteAddress: env.incoming.socket.remoteAddress } : {}),
  }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      server.closeAllConnections(); // SSE streams and long-polls would otherwise hold close() open
    }),
  };
}
