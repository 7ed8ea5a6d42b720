/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), parsed from the first bytes of a
 * connection. Theory of operation: a load balancer that relays TCP opens its own connection to us and, before any
 * byte of the client's, sends one header saying who the client is. The shell hands this parser everything read so
 * far; it answers 'need-more' until the header is whole, then what the header says and how many bytes it took (the
 * bytes after it are the client's own, often its first SMTP command). Pure: bytes in, a value out.
 *
 *  - v1 is one text line: "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN ...\r\n", at most 107 bytes
 *    with its CRLF (§2.1).
 *  - v2 is binary: a 12-byte signature, version/command, family/transport, a 16-bit length, the addresses, then TLVs
 *    (§2.2), which are skipped: nothing here needs them, and their length is bounded by the header's own.
 *  - v2 LOCAL (the proxy's own health check) and v1 UNKNOWN carry no client: the connection is served as it is.
 */
import { formatIpv6, isIpv4, parseIpv6 } from './ip-address.js';

export type ProxyEndpoint = Readonly<{ address: string; port: number }>;

export type ProxyHeader =
  /** Not enough bytes yet to decide. */
  | Readonly<{ kind: 'need-more' }>
  /** The bytes do not start with a PROXY header at all (a client speaking SMTP straight away). */
  | Readonly<{ kind: 'absent' }>
  /** A relayed TCP connection: `source` is the client, `destination` the address it connected to. */
  | Readonly<{ kind: 'proxied'; version: 1 | 2; source: ProxyEndpoint; destination: ProxyEndpoint; headerBytes: number }>
  /** v2 LOCAL: the proxy speaking for itself (health checks). */
  | Readonly<{ kind: 'local'; headerBytes: number }>
  /** v1 UNKNOWN, or v2 PROXY over a family this server does not speak (UNSPEC, UNIX): no usable client address. */
  | Readonly<{ kind: 'unknown'; version: 1 | 2; headerBytes: number }>
  | Readonly<{ kind: 'invalid'; reason: string }>;

/** §2.1: "a 108-byte buffer" holds the longest line (TCP6 with full addresses) plus a NUL: 107 bytes with CRLF. */
const V1_MAX_BYTES = 107;
/** §2.2: the binary signature, chosen so that no text protocol's first bytes look like it (it even says QUIT). */
const V2_SIGNATURE: Uint8Array = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_SIGNATURE: Uint8Array = Uint8Array.from([...'PROXY '].map((c) => c.charCodeAt(0)));
const V2_FIXED_BYTES = 16;

/** Whether `bytes` start with `prefix`, or could once more bytes come ('partial'). */
function startsWith(bytes: Uint8Array, prefix: Uint8Array): 'yes' | 'no' | 'partial' {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return 'no';
  return n === prefix.length ? 'yes' : 'partial';
}

/** Which header the bytes begin with, as soon as that can be told. */
export function proxySignature(bytes: Uint8Array): 'v1' | 'v2' | 'none' | 'need-more' {
  const v1 = startsWith(bytes, V1_SIGNATURE);
  const v2 = startsWith(bytes, V2_SIGNATURE);
  if (v1 === 'yes') return 'v1';
  if (v2 === 'yes') return 'v2';
  return v1 === 'partial' || v2 === 'partial' ? 'need-more' : 'none';
}

export function parseProxyHeader(bytes: Uint8Array): ProxyHeader {
  const signature = proxySignature(bytes);
  switch (signature) {
    case 'need-more': return { kind: 'need-more' };
    case 'none': return { kind: 'absent' };
    case 'v1': return parseV1(bytes);
    case 'v2': return parseV2(bytes);
  }
}

const invalid = (reason: string): ProxyHeader => ({ kind: 'invalid', reason });

function parseV1(bytes: Uint8Array): ProxyHeader {
  const lf = bytes.subarray(0, V1_MAX_BYTES).indexOf(0x0a);
  if (lf === -1) return bytes.length >= V1_MAX_BYTES ? invalid(`v1 header longer than ${V1_MAX_BYTES} bytes`) : { kind: 'need-more' };
  if (lf === 0 || bytes[lf - 1] !== 0x0d) return invalid('v1 header not ended by CRLF');
  const headerBytes = lf + 1;
  let line = '';
  for (let i = 0; i < lf - 1; i++) {
    const b = bytes[i] ?? 0;
    if (b < 0x20 || b > 0x7e) return invalid('v1 header holds a byte that is not printable ASCII');
    line += String.fromCharCode(b);
  }
  const fields = line.split(' ');
  const protocol = fields[1];
  // §2.1: after UNKNOWN the receiver ignores the rest of the line.
  if (protocol === 'UNKNOWN') return { kind: 'unknown', version: 1, headerBytes };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return invalid(`v1 protocol ${JSON.stringify(protocol ?? '')}: expected TCP4, TCP6 or UNKNOWN`);
  if (fields.length !== 6) return invalid(`v1 ${protocol} header needs 4 fields after the protocol, separated by single spaces`);
  const [, , src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const address = (text: string, which: string): string | string[] => {
    if (protocol === 'TCP4') return isIpv4(text) ? text : [`v1 ${which} address ${JSON.stringify(text)} is not an IPv4 address`];
    const parsed = parseIpv6(text);
    return parsed === null ? [`v1 ${which} address ${JSON.stringify(text)} is not an IPv6 address`] : formatIpv6(parsed);
  };
  const port = (text: string, which: string): number | string[] =>
    // §2.1: ports are decimal, 0 to 65535, and a leading zero is not allowed.
    /^(?:0|[1-9]\d{0,4})$/.test(text) && Number(text) <= 65535 ? Number(text) : [`v1 ${which} port ${JSON.stringify(text)} is not a port number`];
  const s = address(src, 'source');
  const d = address(dst, 'destination');
  const sp = port(sport, 'source');
  const dp = port(dport, 'destination');
  for (const field of [s, d, sp, dp]) if (Array.isArray(field)) return invalid(field[0] ?? 'v1 header');
  return {
    kind: 'proxied',
    version: 1,
    source: { address: s as string, port: sp as number },
    destination: { address: d as string, port: dp as number },
    headerBytes,
  };
}

const FAMILY_UNSPEC = 0x0;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const FAMILY_UNIX = 0x3;
const TRANSPORT_STREAM = 0x1;

function parseV2(bytes: Uint8Array): ProxyHeader {
  if (bytes.length < V2_FIXED_BYTES) return { kind: 'need-more' };
  const versionCommand = bytes[12] ?? 0;
  const familyTransport = bytes[13] ?? 0;
  const length = ((bytes[14] ?? 0) << 8) | (bytes[15] ?? 0);
  if (versionCommand >> 4 !== 2) return invalid(`v2 version ${versionCommand >> 4}: expected 2`);
  const command = versionCommand & 0x0f;
  if (command !== 0 && command !== 1) return invalid(`v2 command ${command}: expected LOCAL (0) or PROXY (1)`);
  const headerBytes = V2_FIXED_BYTES + length;
  // The length is known now: wait for the whole header, so that the client's bytes after it are never taken for TLVs.
  if (bytes.length < headerBytes) return { kind: 'need-more' };
  // §2.2: LOCAL "must" be accepted whatever the family, and the receiver uses the connection's own addresses.
  if (command === 0) return { kind: 'local', headerBytes };
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family === FAMILY_UNSPEC || family === FAMILY_UNIX) return { kind: 'unknown', version: 2, headerBytes };
  if (family !== FAMILY_INET && family !== FAMILY_INET6) return invalid(`v2 address family ${family} is not defined`);
  if (transport !== TRANSPORT_STREAM) return invalid(`v2 transport ${transport}: SMTP runs over a stream (1)`);
  const addressBytes = family === FAMILY_INET ? 4 : 16;
  const need = 2 * addressBytes + 4;
  if (length < need) return invalid(`v2 ${family === FAMILY_INET ? 'IPv4' : 'IPv6'} header of ${length} address bytes: needs at least ${need}`);
  const at = V2_FIXED_BYTES;
  const address = (from: number): string =>
    family === FAMILY_INET ? Array.from(bytes.subarray(from, from + 4)).join('.') : formatIpv6(bytes.subarray(from, from + 16));
  const port = (from: number): number => ((bytes[from] ?? 0) << 8) | (bytes[from + 1] ?? 0);
  return {
    kind: 'proxied',
    version: 2,
    source: { address: address(at), port: port(at + 2 * addressBytes) },
    destination: { address: address(at + addressBytes), port: port(at + 2 * addressBytes + 2) },
    headerBytes,
  };
}
