/**
 * startMailwire(): a mail catcher inside a test suite's own process, on free ports: the smtp dialect, a memory
 * store (SQLite on request), and the HTTP API and UI, with the calls of a MailwireClient bound to it. close() stops
 * it all and leaves no handle open, so the test process exits by itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HOST, DEFAULT_MAX_MESSAGES } from '../config.js';
import { simplifiedDialect } from '../smtp/core/dialects/simplified.js';
import { smtpDialect } from '../smtp/core/dialects/smtp.js';
import { resolveLimits } from '../smtp/core/limits.js';
import { quietDisplay } from '../smtp/server/display.js';
import { hostPort } from '../net/peer-address.js';
import { startService } from '../service.js';
import { parseWorkspacesDocument } from '../workspaces/document.js';
import { MailwireClient } from '../api-client/client.js';
import type { CaughtMessage, MessageFilter, WaitForMessage } from '../api-client/message.js';
import type { FaultView } from '../faults/controller.js';

export type StartMailwireOptions = Readonly<{
  /** 'memory' (default) or 'sqlite': durable, in `dataDir`. */
  store?: 'memory' | 'sqlite';
  /** For sqlite: the directory of the database. Default: a fresh temporary one, removed by close(). */
  dataDir?: string;
  /** 'smtp' (default: what nodemailer and every library speak) or 'simplified'. */
  dialect?: 'smtp' | 'simplified';
  /** Address of both listeners. Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  smtpPort?: number;
  /** Default 0: a free port. */
  httpPort?: number;
  /** Keep at most this many messages, oldest pruned first (0: no limit). Default 10,000. */
  maxMessages?: number;
  /** Largest message accepted, in bytes. Default 25 MiB. */
  maxMessageSize?: number;
  /** A fault document in force from the start (README, "Fault injection"); a bad one rejects with the reason. */
  faults?: unknown;
  /**
   * Workspaces (README, "Workspaces"): the same document as `--workspaces FILE`, as an object. Every API call then needs
   * a token: `client` uses `adminToken` (give one in `admin.tokens` and here), and `MailwireClient(url, { token })`
   * reads as one workspace. SMTP AUTH of workspace users is offered without STARTTLS here.
   */
  workspaces?: unknown;
  /** The admin token `client` sends (one of the workspaces document's `admin.tokens`). */
  adminToken?: string;
}>;

export type Mailwire = Readonly<{
  /** Where to send mail: give these to the application under test. */
  smtp: Readonly<{ host: string; port: number }>;
  /** POP3 for mail clients (user: an inbox address, any password). */
  pop3: Readonly<{ host: string; port: number }>;
  /** IMAP for mail clients (user: an inbox address, any password). */
  imap: Readonly<{ host: string; port: number }>;
  /** The HTTP API and web UI, e.g. http://127.0.0.1:40123 */
  url: string;
  /** The SQLite store's directory; null for the memory store. */
  dataDir: string | null;
  /** A client of this server's API, for the calls below and more (raw, attachment). */
  client: MailwireClient;
  waitForMessage: WaitForMessage;
  messages(filter?: MessageFilter | string, options?: Readonly<{ limit?: number }>): Promise<CaughtMessage[]>;
  clear(filter?: MessageFilter | string): Promise<number>;
  /** Fault injection: replace the rules in force, read them with their counters, or clear them (see MailwireClient). */
  setFaults(document: unknown): Promise<FaultView>;
  faults(): Promise<FaultView>;
  clearFaults(): Promise<void>;
  /** Stops SMTP and HTTP, closes the store (and removes its temporary directory); resolves once all is closed. */
  close(): Promise<void>;
}>;

/** A message already being received when close() is called gets this long to finish. */
const CLOSE_GRACE_MS = 2000;

export async function startMailwire(options: StartMailwireOptions = {}): Promise<Mailwire> {
  const host = options.host ?? DEFAULT_HOST;
  const kind = options.store ?? 'memory';
  const tempDir = kind === 'sqlite' && options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'mailwire-')) : null;
  const dropTemp = async (): Promise<void> => {
    if (tempDir !== null) await rm(tempDir, { recursive: true, force: true });
  };
  let service;
  try {
    service = await startService({
      smtp: {
        host,
        port: options.smtpPort ?? 0,
        dialect: options.dialect === 'simplified' ? simplifiedDialect : smtpDialect,
        limits: resolveLimits(options.maxMessageSize === undefined ? {} : { maxMessageBytes: options.maxMessageSize }),
        display: quietDisplay,
      },
      store: { kind, ...(kind === 'sqlite' ? { dataDir: options.dataDir ?? tempDir ?? '' } : {}), maxMessages: options.maxMessages ?? DEFAULT_MAX_MESSAGES },
      http: { host, port: options.httpPort ?? 0 },
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      ...(options.workspaces === undefined ? {} : { workspaces: { ...parseWorkspacesDocument(JSON.stringify(options.workspaces)), authInsecure: true } }),
      readers: { pop3: { host, port: 0 }, imap: { host, port: 0 } },
    });
  } catch (error) {
    await dropTemp();
    throw error;
  }
  const running = service;
  if (running.http === null) { // the service treats a busy HTTP port as a warning; here the API is the point
    await running.close(0);
    await dropTemp();
    throw running.httpError ?? new Error('mailwire: the HTTP API did not start');
  }
  const url = `http://${hostPort(host, running.http.port)}`;
  const client = new MailwireClient(url, options.adminToken === undefined ? {} : { token: options.adminToken });
  let closing: Promise<void> | null = null;
  return {
    smtp: { host, port: running.smtp.port },
    pop3: { host, port: running.readers.pop3?.port ?? 0 },
    imap: { host, port: running.readers.imap?.port ?? 0 },
    url,
    dataDir: kind === 'sqlite' ? options.dataDir ?? tempDir : null,
    client,
    waitForMessage: client.waitForMessage.bind(client) as WaitForMessage,
    messages: (f, o) => client.messages(f, o),
    clear: (f) => client.clear(f),
    setFaults: (d) => client.setFaults(d),
    faults: () => client.faults(),
    clearFaults: () => client.clearFaults(),
    close: () => (closing ??= (async () => {
      await client.close();
      await running.close(CLOSE_GRACE_MS);
      await dropTemp();
    })()),
  };
}
