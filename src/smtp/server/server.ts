/**
 * The SMTP listener: accepts connections, enforces the connection limits (in total and per client address),
 * and shuts down gracefully. With a certificate it also listens for implicit TLS on a second port (port-465 style,
 * RFC 8314), feeding the same Connection shell.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { DEFAULT_SHUTDOWN_GRACE_MS, storeTimeoutOf } from '../../config.js';
import { withDeadline, type SaveWatch } from '../../store/deadline.js';
import { formatReply, reply, type Reply } from '../core/reply.js';
import type { Authenticator, Dialect } from '../core/types.js';
import type { Limits } from '../core/limits.js';
import type { MessageSink } from '../../store/types.js';
import type { FaultPolicy } from '../../faults/controller.js';
import { isLoopbackAddress } from '../../net/ip-address.js';
import { hostPort, peerOf, type Peer } from '../../net/peer-address.js';
import { Connection, type ServerObserver } from './connection.js';
import { PROXY_HEADER_TIMEOUT_MS, proxyRefusalReply, readProxyHeader, type ProxyProtocolOptions } from '../../net/proxy-protocol.js';
import type { Display } from './display.js';
import { defaultSpoolDir, MessageSpool } from './message-spool.js';
import type { Clock } from '../../net/clock.js';

export type ServerOptions = Readonly<{
  host: string;
  port: number;
  hostname?: string;
  dialect: Dialect;
  limits: Limits;
  /** Written through, never closed by the server: whoever opened the sink closes it after close() below. */
  sink: Omit<MessageSink, 'close'>;
  /** Every save's deadline: past it a save the store has not taken is answered 451 and never stored (see store/deadline.ts). */
  storeTimeoutMs?: number;
  /** Where saves' waits are measured, for /healthz. */
  saveWatch?: SaveWatch;
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
  /** The PROXY protocol (v1 and v2) from these trusted load balancers, on the plain port. */
  proxyProtocol?: ProxyProtocolOptions;
  /** Where large messages in progress go (default: the system's temporary directory; --data-dir/tmp for sqlite). */
  spoolDir?: string;
  /** What each connection's idle and DATA deadlines are measured by; default the system clock (tests pass their own). */
  clock?: Clock;
}>;

export type RunningServer = Readonly<{
  host: string;
  port: number;
  /** The implicit-TLS port, when one was asked for. */
  tlsPort?: number;
  /** Live connections, for tests and metrics. */
  connectionCount(): number;
  /** Stop accepting, let messages in progress finish (within graceMs), close every session. The sink stays open. */
  close(graceMs?: number): Promise<void>;
}>;

/**
 * Connections at once from one address: --max-clients-per-ip when given (loopback included); else 20 from any address
 * but loopback, whose clients (the tests, `mailwire bench`, a local proxy) stay unlimited. 0: no limit.
 */
export function perIpLimit(limits: Limits, client: string): number {
  if (limits.maxClientsPerIp > 0) return limits.maxClientsPerIp;
  return isLoopbackAddress(client) ? 0 : limits.maxClientsPerRemoteIp;
}

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
  /** Sockets from a trusted proxy whose PROXY header is still awaited: they count against --max-connections. */
  const awaitingHeader = new Set<Socket>();
  const perAddress = new Map<string, number>();
  let closing = false;
  const proxy = opts.proxyProtocol;
  if (proxy !== undefined && opts.tlsPort !== undefined) {
    throw new Error('the PROXY protocol is read on the plain port only: use STARTTLS behind the proxy, or let the proxy end TLS, instead of an implicit-TLS port');
  }

  const tlsOptions = opts.tls === undefined ? undefined : { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' as const };
  const spool = new MessageSpool({ dir: opts.spoolDir ?? defaultSpoolDir(), memoryBytes: opts.limits.spoolMemoryBytes, diskBytes: opts.limits.spoolDiskBytes });
  const sink = withDeadline(opts.sink, { storeTimeoutMs: storeTimeoutOf(opts), ...(opts.saveWatch ? { watch: opts.saveWatch } : {}) });
  const connectionOptions = { ...opts, sink, spool, ...(tlsOptions ? { secureContext: createSecureContext(tlsOptions) } : {}) };

  /**
   * The 421 for a connection beyond a limit or during shutdown, or null when it may be served. `client` null: the
   * client is not known yet (a proxy's connection before its header), so only the total counts.
   */
  const refusal = (client: string | null, serverAddress: string): Reply | null => {
    const { maxClients } = opts.limits;
    const maxClientsPerIp = client === null ? 0 : perIpLimit(opts.limits, client);
    const fromThere = client === null ? 0 : (perAddress.get(client) ?? 0);
    const name = opts.hostname ?? serverAddress;
    if (closing) return reply(421, `4.3.2 ${name} Service shutting down`);
    if (connections.size + awaitingHeader.size >= maxClients) return reply(421, `4.7.0 ${name} Too many connections, try again later`);
    if (maxClientsPerIp > 0 && fromThere >= maxClientsPerIp) return reply(421, `4.7.0 ${name} Too many connections from your address, try again later`);
    return null;
  };
  const refuse = (socket: Socket, why: Reply): void => {
    socket.on('error', () => socket.destroy());
    socket.end(formatReply(why));
  };

  const accept = (socket: Socket, implicitTls: boolean): void => {
    const peer = peerOf(socket);
    // Without a proxy, or from anyone but a trusted one: served at once (a PROXY header from them is refused).
    if (proxy === undefined || implicitTls || !proxy.trusted.includes(peer.clientAddress)) return admit(socket, implicitTls, peer, proxy !== undefined);
    const full = refusal(null, peer.serverAddress);
    if (full !== null) return refuse(socket, full);
    socket.on('error', () => socket.destroy());
    awaitingHeader.add(socket);
    void readProxyHeader(socket, proxy.headerTimeoutMs ?? PROXY_HEADER_TIMEOUT_MS).then((outcome) => {
      awaitingHeader.delete(socket);
      const via = hostPort(peer.clientAddress, peer.clientPort);
      if (outcome.kind === 'gone' || socket.destroyed) return void socket.destroy();
      if (outcome.kind === 'refused') {
        opts.display.info(`[${via}] refused: ${outcome.detail}`);
        return refuse(socket, proxyRefusalReply(outcome.why, opts.hostname ?? peer.serverAddress));
      }
      opts.display.info(`[${hostPort(outcome.peer.clientAddress, outcome.peer.clientPort)}] ${outcome.said} from ${via}`);
      admit(socket, false, outcome.peer, false);
      socket.resume(); // the bytes that came after the header (put back by readProxyHeader) are read first
    });
  };

  /** `peer`: the client as the PROXY header names it, or the socket's own; `screen`: refuse a PROXY header from it. */
  const admit = (socket: Socket, implicitTls: boolean, peer: Peer, screen: boolean): void => {
    const client = peer.clientAddress;
    const full = refusal(client, peer.serverAddress);
    if (full !== null) return refuse(socket, full);
    perAddress.set(client, (perAddress.get(client) ?? 0) + 1);
    const connection = new Connection(socket, connectionOptions, implicitTls, { peer, refuseProxyHeader: screen });
    connections.add(connection);
    opts.observer?.connectionsChanged?.(connections.size);
    void connection.closed.then(() => {
      connections.delete(connection);
      opts.observer?.connectionsChanged?.(connections.size);
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
    async close(graceMs = DEFAULT_SHUTDOWN_GRACE_MS) {
      closing = true;
      const stopped = Promise.all([server, ...(tlsServer ? [tlsServer] : [])].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const socket of awaitingHeader) socket.destroy();
      for (const c of connections) c.shutdown();
      const allClosed = Promise.all([...connections].map((c) => c.closed));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
      if ((await Promise.race([allClosed, grace])) === 'late') for (const c of connections) c.destroy();
      clearTimeout(timer);
      await Promise.all([allClosed, stopped]);
    },
  };
}
