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
  /** Connections at once from one client address, loopback included; 0: see maxClientsPerRemoteIp. */
  maxClientsPerIp: number;
  /** Where maxClientsPerIp is 0: connections at once from one address that is not loopback; 0: no limit. */
  maxClientsPerRemoteIp: number;
  /** The longest a session may last, whatever it does; then 421 and close (0: no limit). */
  maxSessionMs: number;
  /** smtp dialect: NOOP, RSET, VRFY, EXPN, HELP since the last message stored; one more gets 421 and close (0: no limit). */
  maxJunkCommands: number;
  /** Unfinished messages kept in memory, all connections together; past it they go to temporary files. */
  spoolMemoryBytes: number;
  /** Bytes of unfinished messages in temporary files, all connections together; past it a message gets 452 4.3.1. */
  spoolDiskBytes: number;
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
  maxClientsPerIp: 0, // as given; 0: loopback unlimited (the tests and `mailwire bench` come from 127.0.0.1) ...
  maxClientsPerRemoteIp: 20, // ... and 20 for any other address
  maxSessionMs: 30 * 60_000,
  maxJunkCommands: 100, // Postfix's smtpd_junk_command_limit
  spoolMemoryBytes: 64 * 2 ** 20,
  spoolDiskBytes: 2 ** 30,
} as const satisfies Limits;

export const resolveLimits = (over: Partial<Limits> = {}): Limits => Object.freeze({ ...DEFAULT_LIMITS, ...over });
