/** Flag value parsers: a bad value is a clear usage error, never a NaN passed on. */
import { InvalidArgumentError } from 'commander';
import { parseDurationText } from '../duration.js';
import { parseAddressList, type AddressList } from '../net/ip-address.js';

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535.');
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return n;
}

export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number, 0 or more.');
  return n;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30 };

/** "1000", "64k", "25MiB" → bytes. */
export function parseByteSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? BYTE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidArgumentError('expected a size such as 1000, 64KiB or 25MiB.');
  return Math.floor(Number(m[1]) * unit);
}

/** "30" (seconds), "500ms", "5m", "2h", "7d" → milliseconds. */
export function parseDuration(value: string): number {
  const ms = parseDurationText(value);
  if (ms === null) throw new InvalidArgumentError('expected a duration such as 30s, 500ms, 5m or 2h.');
  return ms;
}

/** "127.0.0.1,10.0.0.0/8,::1": addresses and CIDR ranges, IPv4 and IPv6. */
export function parseTrustedProxies(value: string): AddressList {
  try {
    return parseAddressList(value);
  } catch (error) {
    throw new InvalidArgumentError(`${error instanceof Error ? error.message : String(error)}.`);
  }
}
