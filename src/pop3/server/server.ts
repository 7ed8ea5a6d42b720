/**
 * The POP3 listener and its connection shell: socket ↔ LineSplitter ↔ Pop3Session, the session's actions carried
 * out against the store's public interface (src/mailbox/inbox-view.ts). All protocol decisions are the core's.
 *
 * One outstanding action at a time: while a login, a fetch or the deletions run, no further line is taken from the
 * splitter, so the session's queue stays short and the socket's own back-pressure holds the rest.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { MailwireEvents } from '../../events.js';
import type { MessageStore } from '../../store/index.js';
import type { PemPair } from '../../net/tls.js';
import { LineSplitter } from '../../smtp/core/line-splitter.js';
import { assertNever } from '../../assert-never.js';
import { isLoopbackHost } from '../../web/guard.js';
import { isInboxAddress, messagesAfter, removeFromInbox, type InboxMessage } from '../../mailbox/inbox-view.js';
import { Pop3Session, type Action, type Input } from '../core/session.js';

export type Pop3ServerOptions = Readonly<{
  host: string;
  /** 0: a free port. */
  port: number;
  store: MessageStore;
  /** Where `message-deleted` is announced when a QUIT deletes messages for good; null: nowhere. */
  events: MailwireEvents | null;
  /** For STLS. */
  tls?: PemPair;
  /**
   * Checks a login's password; absent: any password is accepted (a catcher on loopback). The user is always an inbox
   * address. May be slow (bcrypt off the event loop): nothing else of that connection runs meanwhile.
   */
  checkPassword?: (user: string, password: string) => boolean | Promise<boolean>;
  /** Connections served at once; more get -ERR and are closed. Default 10,000. */
  maxClients?: number;
  /** Close a connection silent this long (RFC 1939 §3: at least 10 minutes). Default 10 minutes. */
  idleTimeoutMs?: number;
  serverName?: string;
}>;

export type RunningPop3Server = Readonly<{
  host: string;
  port: number;
  connectionCount(): number;
  close(): Promise<void>;
}>;

const MAX_LINE_BYTES = 1024;
const MAX_ERRORS = 20;

export async function startPop3Server(opts: Pop3ServerOptions): Promise<RunningPop3Server> {
  const secureContext = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
  const sockets = new Set<Socket>();
  const maxClients = opts.maxClients ?? 10_000;
  const server: Server = createServer((socket) => {
    if (sockets.size >= maxClients) {
      socket.end('-ERR [SYS/TEMP] too many connections, try again later\r\n');
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, opts, secureContext);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  return {
    host: opts.host,
    port,
    connectionCount: () => sockets.size,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy(); // POP3 sessions hold nothing to finish: deletions only ever happen at QUIT
    }),
  };
}

function serveConnection(plain: Socket, opts: Pop3ServerOptions, secureContext: SecureContext | undefined): void {
  const session = new Pop3Session({
    serverName: opts.serverName ?? 'mailwire',
    loginAllowed: isLoopbackHost(plain.localAddress ?? ''),
    tlsAvailable: secureContext !== undefined,
    maxErrors: MAX_ERRORS,
    maxLineBytes: MAX_LINE_BYTES,
  });
  let socket: Socket = plain;
  let splitter = new LineSplitter();
  let busy = false;
  let closed = false;
  let user = '';
  let drop: InboxMessage[] = [];

  const write = (data: string | Buffer): void => {
    if (!closed && !socket.destroyed) socket.write(data);
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
    if (phase === 'authenticating') return { type: 'login-failed', reason: `[SYS/TEMP] the store failed: ${reason}` };
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
          const failed = await removeFromInbox(opts.store, opts.events, user, drop, drop.filter((m) => wanted.has(m.uid)));
          return { type: 'updated', failed: failed.length };
        }); break;
        case 'starttls': startTls(); break;
        case 'close': close(); break;
        default: assertNever(a);
      }
    }
  }

  async function login(name: string, password: string): Promise<Input> {
    // Lines are latin1 (bytes 1:1); a login is UTF-8 text.
    const address = Buffer.from(name, 'latin1').toString('utf8').trim().toLowerCase();
    if (!isInboxAddress(address)) return { type: 'login-failed', reason: 'the user name is an inbox address (an envelope recipient), e.g. USER qa@example.test' };
    const pass = Buffer.from(password, 'latin1').toString('utf8');
    const ok = opts.checkPassword === undefined ? true : await opts.checkPassword(address, pass);
    if (!ok) return { type: 'login-failed', reason: 'wrong user name or password' };
    user = address;
    drop = await messagesAfter(opts.store, address, 0);
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
    plain.pause();
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    if (secureContext === undefined) return close();
    plain.write('', () => {
      if (closed) return;
      const secure = new TLSSocket(plain, { isServer: true, secureContext });
      socket = secure;
      attach(secure);
      secure.once('secure', () => {
        busy = false;
        feed({ type: 'tls-started' });
        pump();
      });
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
