/**
 * The mail-client listeners (POP3, IMAP) beside the HTTP API, over the same store: started by the backend, in the
 * process that holds the store. A busy port is a warning, as for HTTP: catching mail matters more than reading it.
 */
import type { MailwireEvents } from '../events.js';
import type { PemPair } from '../net/tls.js';
import type { MessageStore } from '../store/index.js';
import { startPop3Server, type RunningPop3Server } from '../pop3/server/server.js';
import { startImapServer, type RunningImapServer } from '../imap/server/server.js';

export type ReaderConfig = Readonly<{
  host: string;
  /** 0: a free port. */
  port: number;
  /** STLS / STARTTLS with this certificate (the server's --tls-cert or --tls-self-signed). */
  tls?: PemPair;
  /** Password check for logins; absent: any password. */
  checkPassword?: (user: string, password: string) => boolean | Promise<boolean>;
}>;

export type ReadersConfig = Readonly<{
  /** null or absent: no POP3. */
  pop3?: ReaderConfig | null;
  /** null or absent: no IMAP. */
  imap?: ReaderConfig | null;
}>;

export type RunningReaders = Readonly<{
  pop3: RunningPop3Server | null;
  pop3Error: Error | null;
  imap: RunningImapServer | null;
  imapError: Error | null;
  close(): Promise<void>;
}>;

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export async function startReaders(config: ReadersConfig, store: MessageStore | null, events: MailwireEvents): Promise<RunningReaders> {
  let pop3: RunningPop3Server | null = null;
  let pop3Error: Error | null = null;
  if (config.pop3 && store) {
    try {
      pop3 = await startPop3Server({ ...config.pop3, store, events });
    } catch (e) {
      pop3Error = asError(e);
    }
  }
  let imap: RunningImapServer | null = null;
  let imapError: Error | null = null;
  if (config.imap && store) {
    try {
      imap = await startImapServer({ ...config.imap, store, events });
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
