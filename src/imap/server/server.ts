/**
 * The IMAP listener and its connection shell: socket ↔ ImapSession (src/imap/core/session.ts), the session's requests
 * carried out against the store's public interface (src/mailbox/inbox-view.ts). All protocol decisions are the core's;
 * this file only moves bytes, runs the requests one at a time, in order, and feeds their answers back.
 *
 * Mapping: UID = the store's order of the message; \Seen = the API's read flag (setRead); \Deleted and \Flagged are
 * kept per session (the store has no place for them yet), \Deleted until EXPUNGE or CLOSE, which take the messages out
 * of the inbox as DELETE /api/v1/inboxes/ADDRESS/messages does.
 */
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { MailwireEvents } from '../../events.js';
import type { MessageStore } from '../../store/index.js';
import type { PemPair } from '../../net/tls.js';
import { assertNever } from '../../assert-never.js';
import { isLoopbackHost } from '../../web/guard.js';
import type { ReaderObserver } from '../../mailbox/listeners.js';
import { listenPlainAndTls, upgradeToTls, type RunningMailListener } from '../../net/tcp-listener.js';
import { messagesAfter, removeFromInbox, type InboxMessage } from '../../mailbox/inbox-view.js';
import { describeAccess, type MailboxAccess, type MailLogin } from '../../mailbox/access.js';
import { DEFAULT_LIMITS, ImapSession, type Action, type ImapMessage, type Input } from '../core/session.js';

export type ImapServerOptions = Readonly<{
  host: string;
  port: number;
  store: MessageStore;
  events: MailwireEvents | null;
  /** STARTTLS with this certificate; with `tlsPort`, implicit TLS too. */
  tls?: PemPair;
  /** A second listener, TLS from the first byte (993 style); needs `tls`. 0: a free port. */
  tlsPort?: number;
  /** Decides a login and what it sees (src/mailbox/login.ts). */
  login: MailLogin;
  maxClients?: number;
  /** Commands, logins and bytes, counted (the service's metrics). */
  observer?: ReaderObserver;
  /** RFC 3501 §5.4: at least 30 minutes. */
  idleTimeoutMs?: number;
}>;

export type RunningImapServer = RunningMailListener;

/** UIDVALIDITY: one value for the life of the process's store (see the README's IMAP section). */
const UID_VALIDITY = Math.floor(Date.now() / 1000);

export async function startImapServer(opts: ImapServerOptions): Promise<RunningImapServer> {
  const secureContext = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
  const common = {
    host: opts.host, maxClients: opts.maxClients ?? 10_000, busyLine: '* BYE [UNAVAILABLE] too many connections, try again later\r\n',
    onConnection: (socket: Socket, tls: boolean) => serveConnection(socket, tls, opts, secureContext),
  };
  return listenPlainAndTls(common, opts.port, opts.tlsPort, opts.tls, '--imap-tls-port');
}

const toImap = (m: InboxMessage): ImapMessage => {
  const s = m.summary;
  const names = (list: readonly { name: string; address: string }[]): string => list.map((a) => `${a.name} <${a.address}>`).join(', ');
  return {
    uid: m.uid, id: m.id, size: m.size, internalDate: Date.parse(s.receivedAt), flags: m.read ? ['\\Seen'] : [],
    from: s.from === null ? '' : names([s.from]), to: names(s.to), cc: names(s.cc), subject: s.subject,
  };
};

function serveConnection(plain: Socket, implicitTls: boolean, opts: ImapServerOptions, secureContext: SecureContext | undefined): void {
  const session = new ImapSession({
    loginAllowedInPlain: isLoopbackHost(plain.localAddress ?? ''),
    tlsAvailable: secureContext !== undefined && !implicitTls,
    tls: implicitTls,
    uidValidity: UID_VALIDITY,
    limits: DEFAULT_LIMITS,
  });
  const clientAddress = plain.remoteAddress ?? '';
  let socket: Socket = plain;
  let closed = false;
  let access: MailboxAccess | null = null;
  let unsubscribe: (() => void) | null = null;
  /** Inputs waiting for the running request to finish (bytes and events arrive at any time). */
  const inbox: Input[] = [];
  let busy = false;

  const write = (data: string | Buffer): void => {
    if (closed || socket.destroyed) return;
    opts.observer?.bytesSent('imap', typeof data === 'string' ? Buffer.byteLength(data, 'latin1') : data.length);
    socket.write(data);
  };
  const feed = (input: Input): void => {
    inbox.push(input);
    void pump();
  };

  /** Feeds inputs in order; a request's answer is fed before anything that came after it. */
  async function pump(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      for (let guard = 0; guard < 10_000_000 && !closed; guard++) {
        const input = inbox.shift();
        if (input === undefined) break;
        let actions = session.feed(input);
        for (let round = 0; round < 10_000_000 && actions.length > 0 && !closed; round++) {
          const answer = await perform(actions);
          actions = answer === null ? [] : session.feed(answer);
        }
      }
    } catch (error) {
      write(`* BYE internal error: ${error instanceof Error ? error.message : String(error)}\r\n`);
      close();
    } finally {
      busy = false;
    }
  }

  /** Carries out the actions in order; resolves with the answer to the request among them (at most one, the last). */
  async function perform(actions: readonly Action[]): Promise<Input | null> {
    let answer: Input | null = null;
    for (const a of actions) {
      switch (a.type) {
        case 'send': write(a.data); break;
        case 'login': {
          const r = await opts.login(a.user, a.password, clientAddress, 'imap');
          if (r.ok) access = r.access;
          answer = r.ok ? { type: 'login-ok', label: describeAccess(r.access) }
            : { type: 'login-failed', code: r.refusal.kind === 'throttled' ? 'UNAVAILABLE' : 'AUTHENTICATIONFAILED', reason: r.refusal.reason };
          break;
        }
        case 'load':
          answer = { type: 'loaded', messages: access === null ? [] : (await messagesAfter(opts.store, access, a.afterUid)).map(toImap) };
          break;
        case 'read': answer = { type: 'raw', raw: await opts.store.getRaw(a.id) }; break;
        case 'flags':
          if (a.flags.includes('\\Seen') !== a.before.includes('\\Seen')) await opts.store.setRead(a.id, a.flags.includes('\\Seen'));
          break;
        case 'remove': {
          const failed = access === null ? [...a.ids] : await removeFromInbox(opts.store, opts.events, access, a.ids, a.wholeInbox);
          answer = { type: 'removed', failed };
          break;
        }
        case 'starttls': startTls(); break;
        case 'watch':
          if (opts.events !== null && unsubscribe === null) unsubscribe = opts.events.on('message-stored', () => feed({ type: 'new-mail' }));
          break;
        case 'command': opts.observer?.command('imap', a.name); break;
        case 'close': close(); break;
        default: assertNever(a);
      }
    }
    return answer;
  }

  function attach(s: Socket): void {
    s.on('data', (chunk: Buffer) => feed({ type: 'bytes', chunk }));
    s.on('end', () => close());
    s.on('error', () => close());
    s.on('close', () => close());
  }

  function startTls(): void {
    if (secureContext === undefined) return close();
    upgradeToTls(plain, secureContext, () => closed, (secure) => {
      socket = secure;
      attach(secure);
    }, () => feed({ type: 'tls-started' }));
  }

  function close(): void {
    if (closed) return;
    closed = true;
    unsubscribe?.();
    socket.end();
    if (socket !== plain) plain.end();
    socket.setTimeout(0);
  }

  plain.setTimeout(opts.idleTimeoutMs ?? 30 * 60_000, () => feed({ type: 'timeout' }));
  attach(plain);
  void perform(session.greet());
}
