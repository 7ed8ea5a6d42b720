/** PROXY protocol headers written by hand from the specification (haproxy's proxy-protocol.txt), for tests. */
import { isIP } from 'node:net';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function addressBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  // Expand "::" by hand: enough for the test addresses (no embedded IPv4).
  const [head = '', tail] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}

export type V2Options = {
  command?: 'LOCAL' | 'PROXY';
  /** Byte 14 as given, when a test wants an odd family or transport. */
  familyByte?: number;
  source?: { address: string; port: number };
  destination?: { address: string; port: number };
  /** Bytes after the addresses (TLVs), counted in the length. */
  tlvs?: Buffer;
};

/** A v2 header: signature, version 2 and the command, family/transport, length, addresses, ports, TLVs. */
export function proxyV2(o: V2Options = {}): Buffer {
  const command = o.command === 'LOCAL' ? 0x20 : 0x21;
  const src = o.source;
  const dst = o.destination;
  const six = src !== undefined && isIP(src.address) === 6;
  const addresses = src && dst
    ? Buffer.concat([addressBytes(src.address), addressBytes(dst.address), Buffer.from([src.port >> 8, src.port & 0xff, dst.port >> 8, dst.port & 0xff])])
    : Buffer.alloc(0);
  const body = Buffer.concat([addresses, o.tlvs ?? Buffer.alloc(0)]);
  const family = o.familyByte ?? (src ? (six ? 0x21 : 0x11) : 0x00);
  return Buffer.concat([SIGNATURE, Buffer.from([command, family, body.length >> 8, body.length & 0xff]), body]);
}

/** A v1 header line with its CRLF. */
export const proxyV1 = (text: string): Buffer => Buffer.from(`PROXY ${text}\r\n`, 'latin1');
