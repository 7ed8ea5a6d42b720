/**
 * The one guard on requests the server makes on a message's behalf (link checks, webhooks): which addresses a request
 * may go to. A URL's host is resolved once; every address it resolves to must be allowed, and the connection then goes
 * to that address (see guarded-fetch.ts), so DNS rebinding cannot switch it between the check and the connect.
 *
 * Refused unless the allowlist names the host or address: loopback (unless the policy allows it, as webhooks do),
 * private (RFC 1918), link-local, CGNAT (100.64/10), unique-local and site-local IPv6, IPv4-mapped and -translated
 * IPv6 (::ffff:0:0/96, 64:ff9b::/96, 64:ff9b:1::/48), 6to4 and Teredo, multicast, unspecified, and the other ranges
 * IANA reserves for special use. Pure: the lookup is a parameter.
 */
import { isIpv4, parseAddressList, type AddressList } from './ip-address.js';

const FORBIDDEN_V4: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space (CGNAT, RFC 6598)'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
];
const LOOPBACK_V4 = parseAddressList('127.0.0.0/8');
const LOOPBACK_V6 = parseAddressList('::1/128');
const FORBIDDEN_V6: ReadonlyArray<readonly [string, string]> = [
  ['::/128', 'unspecified'],
  ['::ffff:0:0/96', 'IPv4-mapped IPv6'],
  ['::/96', 'IPv4-compatible IPv6 (deprecated)'],
  ['64:ff9b::/96', 'IPv4-translated IPv6 (NAT64)'],
  ['64:ff9b:1::/48', 'IPv4-translated IPv6 (local NAT64)'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['ff00::/8', 'multicast'],
];
const MAPPED = parseAddressList('::ffff:0:0/96');
const V4_RANGES = FORBIDDEN_V4.map(([cidr, why]) => ({ list: parseAddressList(cidr), why }));
const V6_RANGES = FORBIDDEN_V6.map(([cidr, why]) => ({ list: parseAddressList(cidr), why }));

/** Why a request may not go to this address (an IP literal), or null when it may. */
export function forbiddenReason(address: string, allowLoopback: boolean): string | null {
  if (isIpv4(address)) {
    if (LOOPBACK_V4.includes(address)) return allowLoopback ? null : 'loopback';
    if (address === '255.255.255.255') return 'broadcast';
    return V4_RANGES.find((r) => r.list.includes(address))?.why ?? null;
  }
  if (!address.includes(':')) return 'not an IP address';
  if (LOOPBACK_V6.includes(address)) return allowLoopback ? null : 'loopback';
  // An IPv4 address is matched as its IPv4-mapped form, so ::ffff:0:0/96 must not be tested on one: done above.
  return V6_RANGES.find((r) => r.list.includes(address))?.why ?? null;
}

/** Resolves a host name to its addresses (A and AAAA); injectable so that tests never touch a resolver. */
export type Lookup = (hostname: string) => Promise<readonly string[]>;

export type GuardPolicy = Readonly<{
  /** Host names (exact, case-insensitive) and addresses or CIDR ranges a request may reach whatever the rules say. */
  allowHosts?: readonly string[];
  /** Loopback addresses allowed (webhooks: a receiver in development runs on the same machine). */
  allowLoopback?: boolean;
  lookup: Lookup;
  /** The flag that sets allowHosts, named in refusals. */
  allowFlag?: string;
}>;

export type GuardVerdict =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; reason: string };

export class OutboundGuard {
  readonly #names: ReadonlySet<string>;
  readonly #addresses: AddressList | null;
  readonly #allowLoopback: boolean;
  readonly #lookup: Lookup;
  readonly #allowFlag: string;

  constructor(policy: GuardPolicy) {
    const names = new Set<string>();
    const ranges: string[] = [];
    for (const entry of policy.allowHosts ?? []) {
      const bare = entry.trim().replace(/^\[(.*)\]$/, '$1');
      if (bare === '') continue;
      if (isIpv4(bare.split('/')[0] ?? '') || bare.includes(':')) ranges.push(bare);
      else names.add(bare.toLowerCase());
    }
    this.#names = names;
    this.#addresses = ranges.length === 0 ? null : parseAddressList(ranges.join(','));
    this.#allowLoopback = policy.allowLoopback ?? false;
    this.#lookup = policy.lookup;
    this.#allowFlag = policy.allowFlag ?? '--checks-allow-hosts';
  }

  /**
   * Where a request to `url` may connect: one resolved address that every rule allows, or why not. Every address the
   * name resolves to is checked (a name with one private address among public ones is refused), so that the
   * connection cannot be steered by which address a client library would pick.
   */
  async check(url: URL): Promise<GuardVerdict> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: `only http and https URLs are fetched, not ${url.protocol}` };
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (host === '') return { ok: false, reason: 'the URL has no host' };
    const literal = isIpv4(host) || host.includes(':');
    let addresses: readonly string[];
    if (literal) addresses = [host];
    else {
      try {
        addresses = await this.#lookup(host);
      } catch (e) {
        return { ok: false, reason: `${host} does not resolve (${(e as Error).message})` };
      }
      if (addresses.length === 0) return { ok: false, reason: `${host} does not resolve` };
    }
    const nameAllowed = !literal && this.#names.has(host);
    for (const address of addresses) {
      // An IPv4 range of the allowlist must not let in the IPv4-mapped IPv6 spelling of its addresses.
      const listed = this.#addresses?.includes(address) === true && !(address.includes(':') && MAPPED.includes(address));
      if (nameAllowed || listed) continue;
      const why = forbiddenReason(address, this.#allowLoopback);
      if (why !== null) {
        return { ok: false, reason: `${literal ? address : `${host} resolves to ${address}`}: ${why} addresses are refused (allow it with ${this.#allowFlag})` };
      }
    }
    const address = addresses[0] as string;
    return { ok: true, address, family: isIpv4(address) ? 4 : 6 };
  }
}
