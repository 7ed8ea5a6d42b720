/**
 * Who is asking, for the HTTP side's logs: the socket's peer, or, when that peer is one of --trusted-proxies (a
 * load balancer in HAProxy's `mode http` with `option forwardfor`), the client that X-Forwarded-For names. The
 * header is believed from trusted proxies only: anyone else could write any address into it.
 */
import type { Context } from 'hono';
import { isIpv4, parseIpv6, plainAddress, type AddressList } from '../net/ip-address.js';

/** What node:http knows of the connection a request came on; absent when the app is called without a socket (tests). */
export type HttpConnection = Readonly<{ remoteAddress?: string }>;

const isIp = (text: string): boolean => isIpv4(text) || parseIpv6(text) !== null;

/**
 * The client's address given the socket's peer and the X-Forwarded-For header. Each proxy appends the address it
 * received the request from, so the list is read from the right: entries added by trusted proxies are skipped, and
 * the first one that is not a trusted proxy is the client. An entry that is not an IP address ends the walk at the
 * trusted hop that wrote it, since nothing to its left can be relied on.
 */
export function forwardedClient(remote: string, forwardedFor: string | null | undefined, trusted: AddressList | undefined): string {
  const peer = plainAddress(remote);
  if (trusted === undefined || forwardedFor == null || !trusted.includes(peer)) return peer;
  let client = peer;
  const hops = forwardedFor.split(',').map((h) => h.trim()).filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i] ?? '');
    if (!isIp(hop)) return client;
    client = hop;
    if (!trusted.includes(hop)) return hop;
  }
  return client;
}

/** The client of a request handled by the web app (see HttpConnection); "unknown" without a socket. */
export function clientAddressOf(c: Context, trusted: AddressList | undefined): string {
  const connection = c.env as HttpConnection | undefined;
  return forwardedClient(connection?.remoteAddress ?? 'unknown', c.req.header('x-forwarded-for'), trusted);
}
