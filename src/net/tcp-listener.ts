/**
 * The listener the mail-client protocols share (POP3, IMAP): a TCP server on host:port (0: a free port), plain or
 * implicit TLS (993/995 style), a bound on connections served at once (a connection past it gets the protocol's own
 * refusal line and is closed), and a close that ends every connection. Also the STARTTLS/STLS upgrade of a plain
 * socket, which both shells do the same way.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, type SecureContext } from 'node:tls';
import type { PemPair } from './tls.js';

export type TcpListenerOptions = Readonly<{
  host: string;
  /** 0: a free port. */
  port: number;
  /** Implicit TLS with this certificate: the connection is TLS from its first byte. */
  implicitTls?: PemPair;
  /** Connections served at once; more get `busyLine` and are closed. */
  maxClients: number;
  /** What a connection past the bound is told, with its CRLF. */
  busyLine: string;
  /** A slot of a bound shared with other listeners (--max-connections); false: no room, refuse as when busy. */
  takeSlot?: () => boolean;
  giveSlot?: () => void;
  onConnection(socket: Socket, tls: boolean): void;
}>;

export type RunningTcpListener = Readonly<{ host: string; port: number; connectionCount(): number; close(): Promise<void> }>;

export async function listenTcp(opts: TcpListenerOptions): Promise<RunningTcpListener> {
  const sockets = new Set<Socket>();
  const accept = (socket: Socket): void => {
    if (sockets.size >= opts.maxClients || (opts.takeSlot !== undefined && !opts.takeSlot())) {
      socket.on('error', () => socket.destroy());
      socket.end(opts.busyLine);
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      opts.giveSlot?.();
    });
    opts.onConnection(socket, opts.implicitTls !== undefined);
  };
  const server: Server = opts.implicitTls === undefined
    ? createServer(accept)
    : createTlsServer({ cert: opts.implicitTls.cert, key: opts.implicitTls.key }, accept);
  if (opts.implicitTls !== undefined) server.on('tlsClientError', (_e: Error, s: Socket) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    host: opts.host,
    port: typeof address === 'object' && address !== null ? address.port : opts.port,
    connectionCount: () => sockets.size,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

/**
 * STARTTLS / STLS on `plain`: stops reading it (whatever was buffered or comes before the handshake is dropped: it
 * was sent in plain text, RFC 3501 §6.2.1, RFC 2595 §3.1), waits for the last plain reply to be written, then runs
 * the handshake. `attach` gets the TLS socket at once (to hook its events); `onSecure` once the handshake is done.
 */
export type RunningMailListener = Readonly<{ host: string; port: number; tlsPort: number | null; connectionCount(): number; close(): Promise<void> }>;

/**
 * A mail-reading protocol's listeners: the plain one (STARTTLS/STLS inside it) on `port`, and with `tlsPort` a second
 * one with implicit TLS (993/995 style), which needs the certificate (`flag` names the option in the refusal). Either
 * failing to listen closes the other.
 */
export async function listenPlainAndTls(
  common: Omit<TcpListenerOptions, 'port' | 'implicitTls'>, port: number, tlsPort: number | undefined, tls: PemPair | undefined, flag: string,
): Promise<RunningMailListener> {
  const plain = await listenTcp({ ...common, port });
  let implicit: RunningTcpListener | null = null;
  if (tlsPort !== undefined) {
    if (tls === undefined) {
      await plain.close();
      throw new Error(`${flag} needs a certificate (--tls-cert/--tls-key or --tls-self-signed)`);
    }
    implicit = await listenTcp({ ...common, port: tlsPort, implicitTls: tls }).catch(async (e: unknown) => {
      await plain.close();
      throw e;
    });
  }
  return {
    host: plain.host, port: plain.port, tlsPort: implicit?.port ?? null,
    connectionCount: () => plain.connectionCount() + (implicit?.connectionCount() ?? 0),
    close: async () => {
      await Promise.all([plain.close(), implicit?.close()]);
    },
  };
}

export function upgradeToTls(plain: Socket, secureContext: SecureContext, isClosed: () => boolean, attach: (s: TLSSocket) => void, onSecure: () => void): void {
  plain.pause();
  plain.removeAllListeners('data');
  plain.removeAllListeners('end');
  plain.write('', () => {
    if (isClosed()) return;
    const secure = new TLSSocket(plain, { isServer: true, secureContext });
    attach(secure);
    secure.once('secure', onSecure);
  });
}
