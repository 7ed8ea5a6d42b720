/**
 * IP addresses and ranges as values: checking and writing them (the PROXY protocol's addresses) and matching an
 * address against a list of addresses and CIDR ranges (--trusted-proxies). Pure. Every address is handled as 16
 * bytes, IPv4 as its IPv4-mapped IPv6 form (RFC 4291 §2.5.5.2), so "127.0.0.1" and "::ffff:127.0.0.1", the two ways
 * a dual-stack socket may name the same peer, match the same rules.
 */
import { isIpv4 } from '../ip-syntax.js';

export { isIpv4 };

/** "::ffff:127.0.0.1" → "127.0.0.1": an IPv4 peer on a dual-stack socket is shown as the IPv4 address it is. */
export const plainAddress = (address: string | undefined): string =>
  address === undefined ? 'unknown' : address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;

function ipv4Bytes(text: string): number[] | null {
  return isIpv4(text) ? text.split('.').map(Number) : null;
}

/** An IPv6 address (RFC 4291 §2.2, with an optional trailing dotted IPv4) as 16 bytes, or null. No zone ids. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = ipv4Bytes(piece);
        if (v4 === null) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** 16 bytes as RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIpv6(bytes: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  // §5: an IPv4-mapped address keeps its IPv4 part dotted ("::ffff:192.0.2.1").
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${Array.from(bytes.subarray(12, 16)).join('.')}`;
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  return bestAt === -1 ? hex(g) : `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Any address as 16 bytes (IPv4 mapped), or null when it is not an IP address. */
function toBytes(address: string): Uint8Array | null {
  const v4 = ipv4Bytes(address);
  if (v4 !== null) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  return parseIpv6(address);
}

type Range = Readonly<{ bytes: Uint8Array; prefix: number }>;

/** A list of addresses and CIDR ranges, parsed once. */
export type AddressList = Readonly<{
  /** As given, for messages ("127.0.0.1, 10.0.0.0/8"). */
  text: string;
  includes(address: string): boolean;
}>;

/**
 * "127.0.0.1,10.0.0.0/8,::1,fd00::/8" → an AddressList. Throws an Error naming the entry that is not an address or
 * range, and one whose host bits are set ("10.0.0.1/8"), which usually means a typing mistake.
 */
export function parseAddressList(text: string): AddressList {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) throw new Error('expected one or more addresses or CIDR ranges, separated by commas');
  const ranges: Range[] = entries.map((entry) => {
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const bytes = toBytes(address);
    if (bytes === null) throw new Error(`${JSON.stringify(entry)} is not an IPv4 or IPv6 address or CIDR range`);
    const v4 = isIpv4(address);
    const max = v4 ? 32 : 128;
    const lengthText = slash === -1 ? String(max) : entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) throw new Error(`${JSON.stringify(entry)}: the prefix length must be 0 to ${max}`);
    const prefix = Number(lengthText) + (v4 ? 96 : 0);
    if (!sameBytes(bytes, masked(bytes, prefix))) {
      throw new Error(`${JSON.stringify(entry)} has bits set after its /${lengthText} prefix (did you mean ${describe(masked(bytes, prefix), v4)}/${lengthText}?)`);
    }
    return { bytes, prefix };
  });
  return {
    text: entries.join(', '),
    includes(address) {
      const bytes = toBytes(address);
      return bytes !== null && ranges.some((r) => matches(bytes, r));
    },
  };
}

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

const matches = (bytes: Uint8Array, range: Range): boolean => sameBytes(masked(bytes, range.prefix), range.bytes);

const describe = (bytes: Uint8Array, v4: boolean): string => (v4 ? Array.from(bytes.subarray(12)).join('.') : formatIpv6(bytes));

const LOOPBACK = parseAddressList('127.0.0.0/8, ::1');

/** 127.0.0.0/8 or ::1 (also written ::ffff:127.x.y.z): a client on this machine. */
export const isLoopbackAddress = (address: string): boolean => LOOPBACK.includes(address);
