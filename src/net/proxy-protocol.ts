/**
 * The PROXY protocol (--proxy-protocol) on the socket side: reading the header a trusted load balancer sends before
 * anything else, with its own deadline, and the replies that refuse a connection whose header is missing, malformed,
 * late, or sent by an address that may not speak for others. The parsing is src/net/proxy-header.ts; this file
 * only waits for bytes and hands back the client's address and the bytes that followed the header.
 */
import type { Socket } from 'node:net';
import type { AddressList } from './ip-address.js';
import { parseProxyHeader } from './proxy-header.js';
import { reply, type Reply } from '../smtp/core/reply.js';
import { peerOf, plainAddress, type Peer } from './peer-address.js';

/**
 * How long a trusted proxy has to send its header once connected. HAProxy sends it at once with its first packet;
 * 5 s is generous for that and short enough that a client that connects straight to the server (and waits for a
 * greeting that a proxied port cannot send before the header) learns of its mistake quickly.
 */
export const PROXY_HEADER_TIMEOUT_MS = 5_000;

export type ProxyProtocolOptions = Readonly<{
  /** The load balancers that send a header; only their connections may (and must) start with one. */
  trusted: AddressList;
  /** Default PROXY_HEADER_TIMEOUT_MS. */
  headerTimeoutMs?: number;
}>;

/** Why a connection is refused, each with its own reply. */
export type ProxyRefusal = 'missing' | 'invalid' | 'timeout' | 'untrusted';

/** The 421 sent before closing a refused connection (a proxy relays it to its client, who then knows why). */
export function proxyRefusalReply(why: ProxyRefusal, serverName: string): Reply {
  switch (why) {
    case 'missing': return reply(421, `4.7.0 ${serverName} PROXY protocol header expected, closing connection`);
    case 'invalid': return reply(421, `4.7.0 ${serverName} Invalid PROXY protocol header, closing connection`);
    case 'timeout': return reply(421, `4.4.2 ${serverName} PROXY protocol header timeout, closing connection`);
    case 'untrusted': return reply(421, `4.7.0 ${serverName} PROXY protocol header from an untrusted address, closing connection`);
  }
}

export type HeaderOutcome =
  /** `peer`: the client as the header names it (or the socket's own for LOCAL and UNKNOWN); `said`: for the log. */
  | Readonly<{ kind: 'accepted'; peer: Peer; said: string }>
  | Readonly<{ kind: 'refused'; why: ProxyRefusal; detail: string }>
  /** The proxy closed the connection before its header was whole. */
  | Readonly<{ kind: 'gone' }>;

/**
 * Reads the header from a socket just accepted from a trusted proxy. On 'accepted' the socket is left paused with
 * the bytes after the header put back (unshift), so that whoever reads it next sees the client's first bytes; the
 * caller resumes it.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<HeaderOutcome> {
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (outcome: HeaderOutcome, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      resolve(outcome);
    };
    const onGone = (): void => finish({ kind: 'gone' });
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const header = parseProxyHeader(buffered);
      switch (header.kind) {
        case 'need-more':
          return;
        case 'absent':
          return finish({ kind: 'refused', why: 'missing', detail: 'no PROXY protocol header from a trusted proxy' });
        case 'invalid':
          return finish({ kind: 'refused', why: 'invalid', detail: `invalid PROXY protocol header: ${header.reason}` });
        case 'local':
          return finish({ kind: 'accepted', peer: peerOf(socket), said: 'PROXY v2 LOCAL header (the proxy itself)' }, buffered.subarray(header.headerBytes));
        case 'unknown':
          return finish({ kind: 'accepted', peer: peerOf(socket), said: `PROXY v${header.version} UNKNOWN header` }, buffered.subarray(header.headerBytes));
        case 'proxied': {
          const peer: Peer = {
            clientAddress: plainAddress(header.source.address),
            clientPort: header.source.port,
            serverAddress: plainAddress(header.destination.address),
            serverPort: header.destination.port,
          };
          return finish({ kind: 'accepted', peer, said: `PROXY v${header.version} header` }, buffered.subarray(header.headerBytes));
        }
      }
    };
    const timer = setTimeout(() => finish({ kind: 'refused', why: 'timeout', detail: `no PROXY protocol header within ${timeoutMs} ms` }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
  });
}
