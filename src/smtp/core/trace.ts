/**
 * The Received: trace header (RFC 5321 §4.4), as text. Pure: the shell passes the id and the date, since the core has
 * no clock. Folded so that no line passes 78 characters for ordinary names (RFC 5322 §2.2.3).
 */
import { isIpv4 } from '../../ip-syntax.js';
import type { Trace } from './types.js';

/** An IP address as an address literal (§4.1.3): "[192.0.2.1]", "[IPv6:2001:db8::1]"; a name stays as it is. */
export function addressLiteral(address: string): string {
  if (isIpv4(address)) return `[${address}]`;
  if (address.includes(':')) return `[IPv6:${address}]`;
  return address;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const two = (n: number): string => String(n).padStart(2, '0');

/** The last date formatted, by second: a busy server stamps many messages within one second. */
let lastSecond = Number.NaN;
let lastText = '';

/** RFC 5322 §3.3 date-time, in UTC: "Tue, 01 Jul 2025 12:34:56 +0000". */
export function rfc5322Date(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== lastSecond) {
    lastText = formatDate(d);
    lastSecond = second;
  }
  return lastText;
}

function formatDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** The whole header with its CRLF, as a JS string (the HELO name may be UTF-8 under SMTPUTF8: encode as UTF-8). */
export function receivedHeader(t: Trace, id: string, date: Date): string {
  return `Received: from ${t.helo} (${addressLiteral(t.clientAddress)})\r\n` +
    `\tby ${addressLiteral(t.serverName)} with ${t.protocol} id ${id};\r\n` +
    `\t${rfc5322Date(date)}\r\n`;
}
