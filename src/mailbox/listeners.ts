/**
 * The mail-client listeners (POP3, IMAP) beside the HTTP API, over the same store: started by the backend, in the
 * process that holds the store. A busy port is a warning, as for HTTP: catching mail matters more than reading it.
 * Both share one login rule (./login.ts) and the process's login limiter.
 */
import type { MailwireEvents } from '../events.js';
import type { PemPair } from '../net/tls.js';
import type { MessageStore } from '../store/index.js';
import type { Credential } from '../credentials.js';
import type { LoginLimiter } from '../net/login-limiter.js';
import { isLoopbackHost } from '../web/guard.js';
import { startPop3Server, type RunningPop3Server } from '../pop3/server/server.js';
import { startImapServer, type RunningImapServer } from '../imap/server/server.js';
import { createMailLogin } from './login.js';
import type { MailLogin } from './access.js';

export type ReaderConfig = Readonly<{
  host: string;
  /** 0: a free port. */
  port: number;
  /** Implicit TLS on this port too (993/995 style); needs `tls`. */
  tlsPort?: number;
  /** STLS / STARTTLS with this certificate (the server's --tls-cert or --tls-self-signed). */
  tls?: PemPair;
}>;

export type ReadersConfig = Readonly<{
  /** null or absent: no POP3. */
  pop3?: ReaderConfig | null;
  /** null or absent: no IMAP. */
  imap?: ReaderConfig | null;
  /** The configured users (./login.ts); absent or empty: any password for an inbox address. */
  credentials?: readonly Credential[];
  /** The process's one limiter (SMTP AUTH, HTTP Basic, IMAP, POP3); absent: one of their own. */
  loginLimiter?: LoginLimiter;
  /** Serve off loopback without credentials (--imap-insecure). */
  insecure?: boolean;
}>;

/** What the listeners report (the service hands them its metrics). */
export type ReaderObserver = Readonly<{
  command(protocol: 'imap' | 'pop3', verb: string): void;
  login(protocol: 'imap' | 'pop3', outcome: 'ok' | 'wrong' | 'throttled'): void;
  bytesSent(protocol: 'imap' | 'pop3', bytes: number): void;
}>;

export type RunningReaders = Readonly<{
  pop3: RunningPop3Server | null;
  pop3Error: Error | null;
  imap: RunningImapServer | null;
  imapError: Error | null;
  close(): Promise<void>;
}>;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * Why IMAP or POP3 must not start as configured, or null: off loopback without credentials (anyone who can reach the
 * port would read all the caught mail) unless `insecure`. One line naming the fix.
 */
export function readerExposureProblem(config: ReadersConfig): string | null {
  if (config.insecure === true || (config.credentials?.length ?? 0) > 0) return null;
  for (const [name, r] of [['IMAP', config.imap], ['POP3', config.pop3]] as const) {
    if (r && !isLoopbackHost(r.host)) {
      return `${name} on ${r.host} would let anyone who reaches it read the mail with any password: give logins ` +
        '(--http-auth-file, or --auth/--auth-file under --dialect smtp), listen on 127.0.0.1, or pass --imap-insecure';
    }
  }
  return null;
}

export async function startReaders(config: ReadersConfig, store: MessageStore | null, events: MailwireEvents, observer?: ReaderObserver): Promise<RunningReaders> {
  const problem = readerExposureProblem(config);
  if (problem !== null) { // the CLI refuses to start before this; a program calling startService gets the same refusal as an error
    const error = new Error(problem);
    return { pop3: null, pop3Error: config.pop3 ? error : null, imap: null, imapError: config.imap ? error : null, close: async () => {} };
  }
  const decide = createMailLogin({ credentials: config.credentials ?? [], ...(config.loginLimiter ? { limiter: config.loginLimiter } : {}) });
  const login: MailLogin = async (user, password, client, protocol) => {
    const r = await decide(user, password, client, protocol);
    observer?.login(protocol, r.ok ? 'ok' : r.refusal.kind);
    return r;
  };
  let pop3: RunningPop3Server | null = null;
  let pop3Error: Error | null = null;
  if (config.pop3 && store) {
    try {
      pop3 = await startPop3Server({ ...config.pop3, store, events, login, ...(observer ? { observer } : {}) });
    } catch (e) {
      pop3Error = asError(e);
    }
  }
  let imap: RunningImapServer | null = null;
  let imapError: Error | null = null;
  if (config.imap && store) {
    try {
      imap = await startImapServer({ ...config.imap, store, events, login, ...(observer ? { observer } : {}) });
    } catch (e) {
      imapError = asError(e);
    }
  }
  return {
    pop3, pop3Error, imap, imapError,
    async close() {
      await imap?.close();
      await pop3?.close();
    },
  };
}
