/** "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address → host and port (pure, for the CLI and relay). */
export type ServerAddress = Readonly<{ host: string; port: number }>;

export function parseServerAddress(text: string, defaultPort: number): ServerAddress {
  const s = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) return { host: bracketed[1] ?? '', port: portOf(bracketed[2], defaultPort, text) };
  if (/^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/.test(s)) return { host: s, port: defaultPort }; // "::1": every colon belongs to the address
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new RangeError(`"${text}" is not host[:port] (write an IPv6 address as [::1]:2525)`);
  return { host: m[1] ?? '', port: portOf(m[2], defaultPort, text) };
}

function portOf(digits: string | undefined, defaultPort: number, text: string): number {
  if (digits === undefined) return defaultPort;
  const n = Number(digits);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`"${text}": a port is a whole number from 1 to 65535`);
  return n;
}

/** The one host:port formatter, as a person writes it: "127.0.0.1:5025", "[::1]:5025" (IPv6 in brackets). */
export const hostPort = (host: string, port: number | undefined): string => `${host.includes(':') ? `[${host}]` : host}:${port ?? '?'}`;
