/** The web app on node:http, or node:https with `tls` (through @hono/node-server's Request/Response adaptor). */
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { WebApp } from './app.js';

export type HttpServerOptions = Readonly<{
  app: WebApp;
  host: string;
  port: number;
  /** PEM certificate and key: serve HTTPS (--http-tls-cert/--http-tls-key or --http-tls-self-signed). */
  tls?: Readonly<{ cert: string; key: string }>;
}>;
export type RunningHttpServer = Readonly<{ port: number; close: () => Promise<void> }>;

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  // The socket's peer goes with each request: the app tells the client's address by it (./client-address.ts).
  const fetch = (req: Request, env: HttpBindings | Http2Bindings): Promise<Response> =>
    options.app.fetch(req, { remoteAddress: env.incoming.socket.remoteAddress });
  const server = (options.tls
    ? createAdaptorServer({ fetch, createServer: createHttpsServer, serverOptions: { cert: options.tls.cert, key: options.tls.key } })
    : createAdaptorServer({ fetch })) as Server;
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
