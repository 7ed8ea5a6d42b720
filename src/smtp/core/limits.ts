/** Named limits, plain frozen data; defaults cite the RFC where one speaks. */
export type Limits = Readonly<{
  maxCommandBytes: number;
  maxLineBytes: number;
  maxMessageBytes: number;
  maxRecipients: number;
  maxErrors: number;
  idleTimeoutMs: number;
  dataTimeoutMs: number;
  maxClients: number;
  /** Connections at once from one client address; 0: no per-address limit. */
  maxClientsPerIp: number;
}>;

export const DEFAULT_LIMITS = {
  maxCommandBytes: 512, // RFC 5321 §4.5.3.1.4: a command line, CRLF included
  maxLineBytes: 998, // RFC 5321 §4.5.3.1.6: 1000 octets with the CRLF (longer lines stream through in pieces)
  maxMessageBytes: 25 * 2 ** 20,
  maxRecipients: 100, // RFC 5321 §4.5.3.1.8: the minimum a server must accept
  maxErrors: 20, // standards dialect only; the simplified one is typed by hand and never cuts its user off
  idleTimeoutMs: 5 * 60_000, // RFC 5321 §4.5.3.2.7: server timeout between commands
  dataTimeoutMs: 10 * 60_000, // bound on the whole DATA phase
  maxClients: 10_000,
  maxClientsPerIp: 0, // opt-in: all test traffic comes from 127.0.0.1
} as const satisfies Limits;

export const resolveLimits = (over: Partial<Limits> = {}): Limits => Object.freeze({ ...DEFAULT_LIMITS, ...over });
