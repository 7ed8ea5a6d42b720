/**
 * The SMTP listener: accepts connections, enforces the connection limits (in total and, opt-in, per client address),
 * and shuts down gracefully. With a certificate it also listens for implicit TLS on a second port (port-465 style,
 * RFC 8314), feeding the same Connection shell.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { formatReply, reply } from '../protocol/reply.js';
import type { Authenticator, Dialect } from '../protocol/types.js';
import type { Limits } from '../protocol/limits.js';
import type { MessageSink } from '../store/types.js';
import type { FaultPolicy } from '../faults/controller.js';
import { plainAddress } from './peer-address.js';
import { Connection, type ServerObserver } from './connection.js';
import type { Display } from './display.js';

export type ServerOptions = Readonly<{
  host: string;
  port: number;
  hostname?: string;
  dialect: Dialect;
  limits: Limits;
  sink: MessageSink;
  display: Display;
  recordSessions: boolean;
  observer?: ServerObserver;
  /** The kernel's queue of connections not yet accepted; Node's default (511) drops part of a burst. */
  backlog?: number;
  /** The certificate (PEM) for STARTTLS and the implicit-TLS port (smtp dialect). */
  tls?: Readonly<{ cert: string; key: string }>;
  /** Also listen for implicit TLS on this port (0: a free one); needs `tls`. */
  tlsPort?: number;
  /** Offer AUTH PLAIN LOGIN (smtp dialect). */
  auth?: Authenticator;
  /** Fault injection: asked at each stage of each session while a fault document is loaded. */
  faults?: FaultPolicy;
}>;

export type RunningServer = Readonly<{
  host: string;
  port: number;
  /** The implicit-TLS port, when one was asked for. */
  tlsPort?: number;
  /** Live connections, for tests and metrics. */
  connectionCount(): number;
  /** Stop accepting, let messages in progress finish (within graceMs), close every session. */
  close(graceMs?: number): Promise<void>;
}>;

function listen(server: Server, host: string, port: number, backlog: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog }, () => {
      server.off('error', reject);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound !== null ? bound.port : port);
    });
  });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const connections = new Set<Connection>();
  const perAddress = new Map<string, number>();
  let closing = false;

  const tlsOptions = opts.tls === undefined ? undefined : { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' as const };
  const connectionOptions = { ...opts, ...(tlsOptions ? { secureContext: createSecureContext(tlsOptions) } : {}) };

  const accept = (socket: Socket, implicitTls: boolean): void => {
    const client = plainAddress(socket.remoteAddress);
    const fromThere = perAddress.get(client) ?? 0;
    const { maxClients, maxClientsPerIp } = opts.limits;
    if (closing || connections.size >= maxClients || (maxClientsPerIp > 0 && fromThere >= maxClientsPerIp)) {
      const name = opts.hostname ?? plainAddress(socket.localAddress);
      const why = closing
        ? `4.3.2 ${name} Service shutting down`
        : connections.size >= maxClients
          ? `4.7.0 ${name} Too many connections, try again later`
          : `4.7.0 ${name} Too many connections from your address, try again later`;
      socket.on('error', () => socket.destroy());
      socket.end(formatReply(reply(421, why)));
      return;
    }
    perAddress.set(client, fromThere + 1);
    const connection = new Connection(socket, connectionOptions, implicitTls);
    connections.add(connection);
    void connection.closed.then(() => {
      connections.delete(connection);
      const left = (perAddress.get(client) ?? 1) - 1;
      if (left === 0) perAddress.delete(client);
      else perAddress.set(client, left);
    });
  };

  const backlog = opts.backlog ?? 4096;
  const server: Server = createServer({ noDelay: true }, (socket: Socket) => accept(socket, false));
  const port = await listen(server, opts.host, opts.port, backlog);

  let tlsServer: Server | undefined;
  let tlsPort: number | undefined;
  if (opts.tlsPort !== undefined) {
    if (tlsOptions === undefined) throw new Error('an implicit-TLS port needs a certificate');
    const secure = createTlsServer(tlsOptions, (socket: TLSSocket) => accept(socket, true));
    secure.on('tlsClientError', (_error, socket) => socket.destroy()); // a failed handshake is the client's problem
    tlsServer = secure;
    tlsPort = await listen(secure, opts.host, opts.tlsPort, backlog);
  }

  return {
    host: opts.host,
    port,
    ...(tlsPort === undefined ? {} : { tlsPort }),
    connectionCount: () => connections.size,
    async close(graceMs = 10_000) {
      closing = true;
      const stopped = Promise.all([server, ...(tlsServer ? [tlsServer] : [])].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const c of connections) c.shutdown();
      const allClosed = Promise.all([...connections].map((c) => c.closed));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
      if ((await Promise.race([allClosed, grace])) === 'late') for (const c of connections) c.destroy();
      clearTimeout(timer);
      await Promise.all([allClosed, stopped]);
      await opts.sink.close();
    },
  };
}
