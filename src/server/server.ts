/**
 * The SMTP listener: accepts connections, enforces the connection limit, and shuts down gracefully.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { formatReply, reply } from '../protocol/reply.js';
import type { Dialect } from '../protocol/types.js';
import type { Limits } from '../protocol/limits.js';
import type { MessageSink } from '../store/types.js';
import { plainAddress } from './address.js';
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
}>;

export type RunningServer = Readonly<{
  host: string;
  port: number;
  /** Live connections, for tests and metrics. */
  connectionCount(): number;
  /** Stop accepting, let messages in progress finish (within graceMs), close every session. */
  close(graceMs?: number): Promise<void>;
}>;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const connections = new Set<Connection>();
  let closing = false;

  const server: Server = createServer({ noDelay: true }, (socket: Socket) => {
    if (closing || connections.size >= opts.limits.maxClients) {
      const name = opts.hostname ?? plainAddress(socket.localAddress);
      const why = closing ? `4.3.2 ${name} Service shutting down` : `4.7.0 ${name} Too many connections, try again later`;
      socket.on('error', () => socket.destroy());
      socket.end(formatReply(reply(421, why)));
      return;
    }
    const connection = new Connection(socket, opts);
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port, backlog: opts.backlog ?? 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : opts.port;

  return {
    host: opts.host,
    port,
    connectionCount: () => connections.size,
    async close(graceMs = 10_000) {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
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
