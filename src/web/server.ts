/** The web app on node:http, or node:https with `tls` (through @hono/node-server's Request/Response adaptor). */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import type { WebApp } from './app.js';
import { finishUpgrade, isWebSocketUpgrade } from './websocket.js';

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
  // A WebSocket upgrade goes through the app as a GET (guard, auth, routes); ./websocket.ts completes or refuses it.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (incoming: IncomingMessage, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    socket.on('error', () => socket.destroy());
    void (async () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (typeof value === 'string') headers.set(name, value);
        else if (Array.isArray(value)) headers.set(name, value.join(', '));
      }
      const request = new Request(`${options.tls ? 'https' : 'http'}://${incoming.headers.host ?? 'localhost'}${incoming.url ?? '/'}`, { method: incoming.method ?? 'GET', headers });
      if (!isWebSocketUpgrade(request)) return void socket.destroy();
      await finishUpgrade(request, await options.app.fetch(request, { remoteAddress: incoming.socket.remoteAddress }), socket);
    })().catch(() => socket.destroy());
  });
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
      for (const socket of upgraded) socket.destroy(); // WebSocket streams: no longer the HTTP server's connections
    }),
  };
}
