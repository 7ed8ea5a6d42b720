/**
 * The POP3 listener and its connection shell: socket ↔ LineSplitter ↔ Pop3Session, the session's actions carried
 * out against the store's public interface (src/mailbox/inbox-view.ts). All protocol decisions are the core's.
 *
 * One outstanding action at a time: while a login, a fetch or the deletions run, no further line is taken from the
 * splitter, so the session's queue stays short and the socket's own back-pressure holds the rest.
 */
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { MailwireEvents } from '../../events.js';
import type { MessageStore } from '../../store/index.js';
import type { PemPair } from '../../net/tls.js';
import { LineSplitter } from '../../smtp/core/line-splitter.js';
import { assertNever } from '../../assert-never.js';
import { isLoopbackHost } from '../../web/guard.js';
import { messagesAfter, removeFromInbox, type InboxMessage } from '../../mailbox/inbox-view.js';
import type { MailboxAccess, MailLogin } from '../../mailbox/access.js';
import type { ReaderObserver } from '../../mailbox/listeners.js';
import { listenPlainAndTls, upgradeToTls, type RunningMailListener } from '../../net/tcp-listener.js';
import { Pop3Session, type Action, type Input } from '../core/session.js';

export type Pop3ServerOptions = Readonly<{
  host: string;
  /** 0: a free port. */
  port: number;
  store: MessageStore;
  /** Where `message-deleted` is announced when a QUIT deletes messages for good; null: nowhere. */
  events: MailwireEvents | null;
  /** For STLS; with `tlsPort`, implicit TLS too. */
  tls?: PemPair;
  /** A second listener, TLS from the first byte (995 style); needs `tls`. 0: a free port. */
  tlsPort?: number;
  /**
   * Decides a login and what it sees (src/mailbox/login.ts). May be slow (bcrypt off the event loop): nothing else of
   * that connection runs meanwhile.
   */
  login: MailLogin;
  /** Connections served at once; more get -ERR and are closed. Default 10,000. */
  maxClients?: number;
  /** Commands, logins and bytes, counted (the service's metrics). */
  observer?: ReaderObserver;
  /** Close a connection silent this long (RFC 1939 §3: at least 10 minutes). Default 10 minutes. */
  idleTimeoutMs?: number;
  serverName?: string;
}>;

export type RunningPop3Server = RunningMailListener;

const MAX_LINE_BYTES = 1024;
const MAX_ERRORS = 20;

export async function startPop3Server(opts: Pop3ServerOptions): Promise<RunningPop3Server> {
  const secureContext = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
  // POP3 sessions hold nothing to finish at close: deletions only ever happen at QUIT.
  const common = {
    host: opts.host, maxClients: opts.maxClients ?? 10_000, busyLine: '-ERR [SYS/TEMP] too many connections, try again later\r\n',
    onConnection: (socket: Socket, tls: boolean) => serveConnection(socket, tls, opts, secureContext),
  };
  return listenPlainAndTls(common, opts.port, opts.tlsPort, opts.tls, '--pop3-tls-port');
}

function serveConnection(plain: Socket, implicitTls: boolean, opts: Pop3ServerOptions, secureContext: SecureContext | undefined): void {
  const session = new Pop3Session({
    serverName: opts.serverName ?? 'mailwire',
    loginAllowed: implicitTls || isLoopbackHost(plain.localAddress ?? ''),
    tlsAvailable: secureContext !== undefined && !implicitTls,
    maxErrors: MAX_ERRORS,
    maxLineBytes: MAX_LINE_BYTES,
  });
  let socket: Socket = plain;
  let splitter = new LineSplitter();
  let busy = false;
  let closed = false;
  let access: MailboxAccess | null = null;
  const clientAddress = plain.remoteAddress ?? '';
  let drop: InboxMessage[] = [];

  const write = (data: string | Buffer): void => {
    if (closed || socket.destroyed) return;
    opts.observer?.bytesSent('pop3', typeof data === 'string' ? Buffer.byteLength(data, 'latin1') : data.length);
    socket.write(data);
  };
  const feed = (input: Input): void => {
    if (closed) return;
    apply(session.feed(input));
  };
  const later = (work: () => Promise<Input>): void => {
    busy = true;
    work().then((input) => input, (e: unknown) => failureOf(e)).then((input) => {
      busy = false;
      feed(input);
      pump();
    });
  };
  const failureOf = (e: unknown): Input => {
    const reason = e instanceof Error ? e.message : String(e);
    const phase = session.phase.kind;
    if (phase === 'authenticating') return { type: 'login-failed', code: 'SYS/TEMP', reason: `the store failed: ${reason}` };
    if (phase === 'fetching') return { type: 'content-missing' };
    return { type: 'updated', failed: drop.length };
  };

  function apply(actions: readonly Action[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'reply': write(`${a.text}\r\n`); break;
        case 'send': write(a.bytes); break;
        case 'login': later(() => login(a.user, a.password)); break;
        case 'fetch': later(async () => {
          const m = drop.find((x) => x.uid === a.uid);
          const raw = m === undefined ? null : await opts.store.getRaw(m.id);
          return raw === null ? { type: 'content-missing' } : { type: 'content', raw };
        }); break;
        case 'update': later(async () => {
          const wanted = new Set(a.uids);
          const doomed = drop.filter((m) => wanted.has(m.uid)).map((m) => m.id);
          const failed = access === null ? doomed : await removeFromInbox(opts.store, opts.events, access, doomed, doomed.length === drop.length);
          return { type: 'updated', failed: failed.length };
        }); break;
        case 'starttls': startTls(); break;
        case 'command': opts.observer?.command('pop3', a.verb); break;
        case 'close': close(); break;
        default: assertNever(a);
      }
    }
  }

  async function login(name: string, password: string): Promise<Input> {
    // Lines are latin1 (bytes 1:1); a login is UTF-8 text.
    const r = await opts.login(Buffer.from(name, 'latin1').toString('utf8'), Buffer.from(password, 'latin1').toString('utf8'), clientAddress, 'pop3');
    if (!r.ok) return { type: 'login-failed', code: r.refusal.kind === 'throttled' ? 'SYS/TEMP' : 'AUTH', reason: r.refusal.reason };
    access = r.access;
    drop = await messagesAfter(opts.store, r.access, 0);
    return { type: 'logged-in', messages: drop.map((m) => ({ uid: m.uid, size: m.size })) };
  }

  function pump(): void {
    while (!busy && !closed) {
      const line = splitter.next(MAX_LINE_BYTES, 'truncate');
      if (line === null) return;
      feed({ type: 'line', line: line.text, overflow: line.overflow });
    }
  }

  function attach(s: Socket): void {
    s.on('data', (chunk: Buffer) => {
      splitter.push(chunk);
      pump();
    });
    s.on('end', () => close());
    s.on('error', () => close());
    s.on('close', () => close());
  }

  function startTls(): void {
    busy = true;
    splitter = new LineSplitter(); // RFC 2595 §3.1: nothing sent before the handshake counts
    if (secureContext === undefined) return close();
    upgradeToTls(plain, secureContext, () => closed, (secure) => {
      socket = secure;
      attach(secure);
    }, () => {
      busy = false;
      feed({ type: 'tls-started' });
      pump();
    });
  }

  function close(): void {
    if (closed) return;
    closed = true;
    socket.end();
    if (socket !== plain) plain.end();
    socket.setTimeout(0);
  }

  plain.setTimeout(opts.idleTimeoutMs ?? 10 * 60_000, () => feed({ type: 'timeout' }));
  attach(plain);
  apply(session.greet());
}
