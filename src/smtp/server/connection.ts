/**
 * The I/O shell around one SMTP session: socket bytes → LineSplitter → session → actions → socket / store / display.
 * This is the only place a connection's bytes are read or written; the session decides, this file carries it out.
 * Node's form of the text's "a new thread for every client": each connection has its own session and state, and the
 * event loop interleaves them, so a slow or silent client never delays another.
 *
 * STARTTLS (RFC 3207): on the session's 'starttls' action the bytes read but not yet fed are dropped (a client, or a
 * man in the middle, that pipelines commands after STARTTLS must not have them run inside TLS: CVE-2011-0411), the
 * 220 is flushed, and a TLSSocket wraps the same socket; 'tls-ready' is fed once the handshake is done.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { decodeUtf8Line } from '../core/utf8.js';
import { LineSplitter, type Line } from '../core/line-splitter.js';
import { describeReply, formatReply } from '../core/reply.js';
import { assertNever } from '../../assert-never.js';
import { SmtpSession } from '../core/session.js';
import { receivedHeader } from '../core/trace.js';
import type { Action, Authenticator, Dialect, Envelope, LoginRefusal, Trace } from '../core/types.js';
import type { Limits } from '../core/limits.js';
import { StoreFullError } from '../../store/index.js';
import type { ConnectionInfo, MessageSink, SessionEnd, SessionRecord, TranscriptLine } from '../../store/types.js';
import type { FaultPolicy } from '../../faults/controller.js';
import { NO_FAULT, type FaultEvent, type FaultVerdict } from '../../faults/engine.js';
import { commandEvent, faultStep, greetingActions, messageEvent, refusedMessage } from '../../faults/session-faults.js';
import { proxySignature } from '../../net/proxy-header.js';
import { LazyDeadline } from '../../net/lazy-deadline.js';
import { systemClock, type Clock } from '../../net/clock.js';
import { hostPort, peerOf, type Peer } from '../../net/peer-address.js';
import { proxyRefusalReply } from '../../net/proxy-protocol.js';
import type { Display, MessageSummary } from './display.js';
import type { MessageDraft, MessageSpool } from './message-spool.js';
import { timeOrderedId } from '../../store/ids.js';

export type ConnectionOptions = Readonly<{
  dialect: Dialect;
  limits: Limits;
  /** Name used in replies instead of the connection's local IP address. */
  hostname?: string;
  /** Written through, never closed here: whoever opened the sink closes it, after the server has stopped. */
  sink: Omit<MessageSink, 'close'>;
  display: Display;
  /** Keep a transcript of each session for the store (off for the discard store: it costs a little per line). */
  recordSessions: boolean;
  observer?: ServerObserver;
  /** When set, the smtp dialect offers STARTTLS and the upgrade uses this certificate. */
  secureContext?: SecureContext;
  /** When set, the smtp dialect offers AUTH PLAIN LOGIN (after STARTTLS unless allowInsecure). */
  auth?: Authenticator;
  /** Fault injection (--faults, /api/v1/faults): asked at each stage while a document is loaded. */
  faults?: FaultPolicy;
  /** Where messages in progress are kept, within the server's memory and disk budgets (see message-spool.ts). */
  spool: MessageSpool;
  /** What the idle and DATA deadlines are measured by; default the system's monotonic clock (../../net/clock.ts). */
  clock?: Clock;
}>;

/** What the server tells the outside as it works (events for the web app, metrics); every hook optional. */
export type ServerObserver = Readonly<{
  messageStored?(id: string, bytes: number): void;
  /** `id` is the stored session's id, when the store keeps sessions. */
  sessionEnded?(id: string | undefined, end: SessionEnd): void;
  /** A reply sent: its code, the command it answered ('CONNECT' for the greeting, 'MESSAGE' for end of data), and how long the answer took. */
  replied?(code: number, verb: string, seconds: number): void;
  /** The number of live connections, after each one opens or closes (the listener calls it, not the Connection). */
  connectionsChanged?(count: number): void;
  /** A connection ended by an internal error (a throw from the core or a store callback): answered 421 and closed. */
  internalError?(): void;
}>;

/** What the server knows of a connection beyond its socket (the PROXY protocol, --proxy-protocol). */
export type ConnectionStart = Readonly<{
  /** The client as a trusted proxy's header names it; default: the socket's own ends. */
  peer?: Peer;
  /** The client is not a trusted proxy: if its first bytes are a PROXY header (a forged address), refuse it. */
  refuseProxyHeader?: boolean;
}>;

/** Verbs named in metrics; anything else counts as OTHER, so a client cannot grow the label set. */
const KNOWN_VERBS: ReadonlySet<string> = new Set([
  'HELO', 'EHLO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'EXPN', 'HELP', 'STARTTLS', 'AUTH', 'BDAT',
]);

/** Received: ids: unique per process start (a random prefix) and per message (a counter), without a syscall each. */
const TRACE_PREFIX = randomBytes(4).toString('hex');
let traceCounter = 0;
const nextTraceId = (): string => `${TRACE_PREFIX}${(++traceCounter).toString(16).padStart(8, '0')}`;

/** A session closed by an injected fault (a disconnect, or a 421) ended by 'fault'. */
const endOf = (v: FaultVerdict): SessionEnd | undefined => (v.outcome.type === 'pass' ? undefined : 'fault');

/** How many transcript lines a session keeps; enough for a long session, bounded against a flood. */
const TRANSCRIPT_CAP = 300;

/**
 * Whether the session takes input: as it comes ('reading'), or not until what it waits `on` has answered: the store
 * (a message being stored, or read back from its temporary file), the AUTH verifier, an injected fault's verdict and
 * delay, the TLS handshake, or nothing ever again after an internal error. Input that arrives meanwhile stays in the
 * line splitter (and, for a store or verifier, stops reading: see HOLD_WAIT).
 */
type Feeding =
  | Readonly<{ kind: 'reading' }>
  | Readonly<{ kind: 'waiting'; on: 'store' | 'verifier' | 'fault' | 'tls' | 'internal-error' }>;
const READING: Feeding = { kind: 'reading' };
const WAITING = {
  store: { kind: 'waiting', on: 'store' },
  verifier: { kind: 'waiting', on: 'verifier' },
  fault: { kind: 'waiting', on: 'fault' },
  tls: { kind: 'waiting', on: 'tls' },
  'internal-error': { kind: 'waiting', on: 'internal-error' },
} as const satisfies { [K in Extract<Feeding, { kind: 'waiting' }>['on']]: Feeding & { on: K } };

/**
 * Why reading from the socket is paused. Each reason is taken and given back on its own (#hold, #release); the socket
 * is paused when the first is taken and resumed when the last is given back, never while the connection is closed.
 */
/** Input came during a wait for the store or the verifier, or a fault delays the session (back-pressure, only when needed). */
const HOLD_WAIT = 1;
/** Replies wait in the socket's buffer for the client to read them: until 'drain'. */
const HOLD_DRAIN = 2;
/** A large message's temporary file is behind its client: until its writes are done. */
const HOLD_SPOOL = 4;

export class Connection {
  #socket: Socket;
  readonly #opts: ConnectionOptions;
  readonly #session: SmtpSession;
  #splitter = new LineSplitter();
  readonly #tag: string;
  #info: ConnectionInfo;
  readonly #startedAt = new Date();
  readonly #transcript: TranscriptLine[] = [];
  readonly #messageIds: string[] = [];
  readonly #messages: MessageSummary[] = [];
  /** Message bytes streamed so far, committed on 'deliver', dropped on 'discard'; spilled to a file when large. */
  readonly #draft: MessageDraft;
  /** Whether input is fed to the session as it comes, or what it waits for meanwhile (see Feeding). */
  #feeding: Feeding = READING;
  /** Why reading from the socket is paused (HOLD_* bits; see #hold): none, reading goes on. */
  #holds = 0;
  /**
   * Replies not yet written: those to every line of one chunk of input leave in one write, as Postfix flushes only
   * when its input runs dry, so a pipelining client costs one syscall per batch, not one per reply.
   */
  #out = '';
  /** Set while a chunk of input is being fed; replies are then written once, at its end. */
  #batching = false;
  #closed = false;
  #cleanedUp = false;
  #shuttingDown = false;
  #end: SessionEnd = 'client-closed';
  /** The code of the last reply sent: a close after a 221 is a normal end, after anything else a failure. */
  #lastReplyCode = 0;
  #truncated = false;
  /** The last hello the session took, for the session summary. */
  #helo: string | null = null;
  /** Whether anyone reads the text of commands and replies: a display that shows them, or a transcript not yet full. */
  get #describes(): boolean {
    return this.#opts.display.showsLines !== false || (this.#opts.recordSessions && this.#transcript.length < TRANSCRIPT_CAP);
  }
  /** When the input holding the command being answered arrived (clock ms), for response times. */
  #commandAt: number;
  #verb = 'CONNECT';
  /** Command lines fed to the session so far; the difference across one read is how many that read held. */
  #commandsFed = 0;
  /** Silence from the client this long ends the session (moved by every input and every reply). */
  readonly #idle: LazyDeadline;
  /** The bound on one message (DATA text or BDAT chunks), set as it starts, cleared as it ends (see #apply). */
  readonly #data: LazyDeadline;
  readonly #clock: Clock;
  #inMessage = false;
  /** The bound on the whole session (limits.maxSessionMs); reached while a message is stored, it acts after the reply. */
  #lifetime: NodeJS.Timeout | undefined;
  #lifetimeOver = false;
  /** The message being stored (one at a time: nothing more is fed until the store answers), for its answer. */
  #storingEnv: Envelope | null = null;
  #storingSize = 0;
  /** The connection as the last save gave it to the store, reused while TLS and the login are the same. */
  #savedInfo: ConnectionInfo | null = null;
  /** Set once an internal error has closed the connection (see #guard); also names the session in the log. */
  #crashed: string | null = null;
  /** An injected delay in progress. */
  #faultTimer: NodeJS.Timeout | undefined;
  /** Rules that injected a fault in this session, in order (numbers from 1). */
  readonly #faultsFired: number[] = [];
  #closedResolve!: () => void;
  /** While refuseProxyHeader holds: the first bytes, until they show whether they start a PROXY header. */
  #screening: Buffer | null;
  /** Resolves once the socket is closed and the session recorded. */
  readonly closed = new Promise<void>((resolve) => (this.#closedResolve = resolve));

  /** `implicitTls`: the socket is a TLSSocket whose handshake is done (the port-465 style listener). */
  constructor(socket: Socket, opts: ConnectionOptions, implicitTls = false, start: ConnectionStart = {}) {
    this.#socket = socket;
    this.#opts = opts;
    this.#draft = opts.spool.draft();
    this.#clock = opts.clock ?? systemClock;
    this.#commandAt = this.#clock.now();
    this.#idle = new LazyDeadline(() => this.#guard(() => this.#apply(this.#session.feed({ type: 'timeout' }), 'timeout')), false, this.#clock);
    this.#data = new LazyDeadline(() => this.#guard(() => this.#apply(this.#session.feed({ type: 'timeout' }), 'timeout')), true, this.#clock);
    const peer = start.peer ?? peerOf(socket);
    this.#screening = start.refuseProxyHeader === true ? Buffer.alloc(0) : null;
    this.#tag = hostPort(peer.clientAddress, peer.clientPort);
    this.#info = { ...peer, dialect: opts.dialect.name, tls: implicitTls };
    this.#session = new SmtpSession(
      {
        dialect: opts.dialect,
        serverName: opts.hostname ?? peer.serverAddress,
        clientAddress: peer.clientAddress,
        limits: opts.limits,
        starttls: opts.secureContext !== undefined && !implicitTls,
        ...(opts.auth ? { auth: opts.auth } : {}),
      },
      { tls: implicitTls },
    );
    this.#attach(socket);
    if (opts.limits.maxSessionMs > 0) this.#lifetime = setTimeout(() => this.#endOfLifetime(), opts.limits.maxSessionMs).unref();
    opts.display.connected(this.#tag);
    this.#note('info', `connected from ${this.#tag}`);
    this.#guard(() => {
      if (opts.faults?.active() === true) this.#withFault(this.#event('connect'), (v) => this.#apply(greetingActions(this.#session.greet(), v.outcome), endOf(v)));
      else this.#apply(this.#session.greet());
    });
  }

  /**
   * The crash boundary: a throw from the core, the store or a verifier while this connection is handled ends this
   * connection only. The client gets 421 (RFC 5321 §3.8: the service is closing the channel), the error is logged
   * with the session's id (the id the session is recorded under) and counted (mailwire_internal_errors_total).
   */
  #guard(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#internalError(error);
    }
  }

  #internalError(error: unknown): void {
    if (this.#crashed !== null) {
      this.#socket.destroy(); // a second throw while closing: no more words
      return;
    }
    const id = timeOrderedId();
    this.#crashed = id;
    const text = `internal error in session ${id} (${this.#tag}): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    if (this.#opts.display.error !== undefined) this.#opts.display.error(this.#tag, text);
    else process.stderr.write(`mailwire: ${text}\n`);
    this.#opts.observer?.internalError?.();
    this.#note('info', `internal error; closed with 421`);
    this.#end = 'error';
    this.#closed = true;
    this.#feeding = WAITING['internal-error']; // nothing more is fed to the session
    this.#batching = false;
    this.#flush(); // the replies already made, then the 421
    const socket = this.#socket;
    // Closed at once once the reply is out, as after QUIT: nothing more is read from this client.
    if (!socket.destroyed) socket.end(formatReply({ code: 421, lines: ['4.3.0 Internal server error; closing the connection'] }), () => socket.destroy());
  }

  #attach(socket: Socket): void {
    socket.setNoDelay(true);
    // The crash boundary is a try/catch in each handler, not a closure per event (see #guard): these run per read.
    socket.on('data', (received: Buffer) => {
      try {
        this.#read(received);
      } catch (error) {
        this.#internalError(error);
      }
    });
    socket.on('end', () => {
      try {
        this.#ended();
      } catch (error) {
        this.#internalError(error);
      }
    });
    socket.on('error', () => socket.destroy()); // ECONNRESET and kin: 'close' follows and cleans up
    socket.on('close', () => this.#cleanup());
  }

  #read(received: Buffer): void {
    const chunk = this.#screening === null ? received : this.#screen(received);
    if (chunk === null) return;
    this.#splitter.push(chunk);
    const feeding = this.#feeding;
    if (feeding.kind === 'waiting') {
      // The client goes on while its message is stored (pipelining past the end of data): read no more until then.
      // The same while an AUTH verifier answers.
      if (feeding.on === 'store' || feeding.on === 'verifier') this.#hold(HOLD_WAIT);
      return;
    }
    this.#commandAt = this.#clock.now();
    this.#idle.set(this.#commandAt, this.#opts.limits.idleTimeoutMs);
    const mark = this.#transcript.length;
    const fedBefore = this.#commandsFed;
    this.#pumpBatch();
    if (this.#draft.backlogged) this.#waitForSpool();
    // Several commands in one read: the client pipelined (RFC 2920). Said in the transcript, before the batch.
    const batch = this.#commandsFed - fedBefore;
    if (batch > 1 && this.#opts.recordSessions && mark < this.#transcript.length && this.#transcript.length < TRANSCRIPT_CAP) {
      this.#transcript.splice(mark, 0, { at: Date.now(), dir: 'info', text: `pipelined: ${batch} commands in one read` });
    }
  }

  #ended(): void {
    if (this.#crashed !== null) return;
    const end = this.#leftMidMessage() ? 'error' : 'client-closed'; // asked before the eof ends the message
    this.#apply(this.#session.feed({ type: 'eof' }), end);
  }

  /**
   * A PROXY header from a client that is not a trusted proxy would forge its address: it is refused, not read as
   * commands (v2's signature even holds a QUIT line). Returns the bytes to read as SMTP once they are known not to
   * start a header, null while that is not yet known or once refused.
   */
  #screen(chunk: Buffer): Buffer | null {
    const bytes = this.#screening === null || this.#screening.length === 0 ? chunk : Buffer.concat([this.#screening, chunk]);
    const signature = proxySignature(bytes);
    if (signature === 'need-more') {
      this.#screening = bytes;
      return null;
    }
    this.#screening = null;
    if (signature === 'none') return bytes;
    const detail = 'a PROXY protocol header from an address not in --trusted-proxies';
    this.#opts.display.info(`[${this.#tag}] refused: ${detail}`);
    this.#note('info', `refused: ${detail}`);
    const refusal = proxyRefusalReply('untrusted', this.#opts.hostname ?? this.#info.serverAddress);
    // The session ends as at end of input (it has read nothing), after the 421.
    this.#apply([{ type: 'reply', reply: refusal }, ...this.#session.feed({ type: 'eof' })], 'refused');
    return null;
  }

  /**
   * Graceful shutdown: the session decides (an idle one answers 421 and closes; one in a message or being stored goes
   * on), and is asked again after each input until it has closed.
   */
  shutdown(): void {
    this.#shuttingDown = true;
    if (!this.#closed) this.#guard(() => this.#apply(this.#session.feed({ type: 'shutdown' }), 'shutdown'));
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Feed every complete line (or BDAT octets) to the session, until the input runs dry or the session must wait. */
  #pump(): void {
    while (this.#feeding === READING && !this.#closed) {
      const wanted = this.#session.octetsWanted;
      if (wanted > 0) {
        const bytes = this.#splitter.take(wanted);
        if (bytes === null) return;
        this.#opts.display.messageText(this.#tag, `(${bytes.length} octets of a BDAT chunk)`);
        this.#apply(this.#session.feed({ type: 'octets', bytes }));
      } else {
        const rule = this.#session.lineRule;
        const line = rule.mode === 'split' ? this.#splitter.nextText(rule.maxBytes) : this.#splitter.next(rule.maxBytes, rule.mode);
        if (line === null) return;
        this.#show(line, rule.mode === 'split', this.#session.secretInput);
        if (this.#opts.faults?.active() === true && rule.mode !== 'split') this.#commandWithFaults(line);
        else this.#apply(this.#session.feed({ type: 'line', line }));
      }
      const phase = this.#session.phase;
      if (phase.kind === 'await-mail') this.#helo = phase.helo;
      if (this.#shuttingDown) this.shutdown(); // a message that was in progress has ended
    }
  }

  #show(line: Line, isMessageText: boolean, secret: boolean): void {
    if (isMessageText) {
      this.#opts.display.messageText(this.#tag, line.text);
      if (line.ending === 'crlf' && line.text === '.') this.#verb = 'MESSAGE';
      return;
    }
    this.#commandsFed++;
    const space = line.text.indexOf(' ');
    const verb = (space === -1 ? line.text : line.text.slice(0, space)).trim().toUpperCase();
    this.#verb = KNOWN_VERBS.has(verb) ? verb : 'OTHER';
    if (!this.#describes) return;
    const text = secret ? '[redacted]' : (decodeUtf8Line(line.text) ?? line.text);
    const shown = verb === 'AUTH' && /^\s*AUTH\s+\S+\s+\S/i.test(text) ? text.replace(/^(\s*AUTH\s+\S+).*$/i, '$1 [redacted]') : text;
    this.#opts.display.command(this.#tag, shown);
    this.#note('client', shown);
  }

  #apply(actions: Action[], end?: SessionEnd): void {
    for (const action of actions) {
      switch (action.type) {
        case 'reply': {
          const now = this.#clock.now();
          const tookMs = now - this.#commandAt;
          this.#idle.set(now, this.#opts.limits.idleTimeoutMs);
          if (this.#describes) {
            const text = describeReply(action.reply);
            this.#opts.display.reply(this.#tag, text);
            this.#note('server', text, tookMs);
          }
          this.#opts.observer?.replied?.(action.reply.code, this.#verb, tookMs / 1000);
          this.#lastReplyCode = action.reply.code;
          this.#out += formatReply(action.reply);
          break;
        }
        case 'data':
          this.#draft.write(action.bytes);
          break;
        case 'discard':
          this.#draft.discard();
          break;
        case 'deliver':
          if (this.#opts.faults?.active() === true) this.#deliverWithFaults(action.env, action.trace);
          else this.#deliver(action.env, action.trace);
          break;
        case 'starttls':
          this.#flush();
          this.#startTls();
          break;
        case 'verify':
          this.#verify(action.user, action.password);
          break;
        case 'close':
          // The first reason stands. A close after anything but a 221 (421 HTTP is not spoken here, too many errors) failed.
          if (!this.#closed) this.#end = end ?? (this.#shuttingDown ? 'shutdown' : this.#lastReplyCode === 221 ? 'quit' : 'error');
          this.#closed = true;
          this.#flush();
          if (this.#end === 'quit') {
            // After the 221 a client has nothing left to send: close at once once the reply is out, as Postfix does,
            // rather than wait for its FIN. A client that resets instead (smtp-source does) cost a read error and its
            // stack trace per connection: 190-200 against 155-160 µs of CPU a message, a new connection each.
            const socket = this.#socket;
            socket.end(() => socket.destroy());
          } else this.#socket.end(); // a 421: the client may still be sending, and must get the reply before a reset
          break;
        default:
          assertNever(action);
      }
    }
    const inMessage = this.#session.inMessage;
    if (inMessage !== this.#inMessage) {
      this.#inMessage = inMessage;
      if (inMessage) this.#data.set(this.#clock.now(), this.#opts.limits.dataTimeoutMs);
      else this.#data.clear();
    }
    if (!this.#batching) this.#flush();
  }

  /** limits.maxSessionMs reached: 421 and close, at once, or once the store has answered a message being stored. */
  #endOfLifetime(): void {
    if (this.#closed) return;
    if (this.#session.phase.kind === 'storing') this.#lifetimeOver = true; // see #carryOn
    else this.#apply(this.#session.feed({ type: 'timeout', limit: 'session' }), 'timeout');
  }

  /**
   * A large message's temporary file is behind its client: read no more until its writes are done (as for a client
   * that does not read its replies), so that a fast sender and a slow disk never hold more than a few blocks.
   */
  #waitForSpool(): void {
    if ((this.#holds & HOLD_SPOOL) !== 0) return;
    this.#hold(HOLD_SPOOL);
    void this.#draft.afterWrites().then(() => this.#release(HOLD_SPOOL));
  }

  /** Stops reading for `reason` (a HOLD_* bit); the first reason taken pauses the socket. */
  #hold(reason: number): void {
    if (this.#holds === 0) this.#socket.pause();
    this.#holds |= reason;
  }

  /** Gives `reason` back; once no reason is left, reading goes on (unless the connection is closed). */
  #release(reason: number): void {
    if ((this.#holds & reason) === 0) return;
    this.#holds &= ~reason;
    if (this.#holds === 0 && !this.#closed) this.#socket.resume();
  }

  /** Writes the replies gathered so far, in one write. */
  #flush(): void {
    if (this.#out === '') return;
    const out = this.#out;
    this.#out = '';
    const socket = this.#socket;
    if (!socket.write(out) && (this.#holds & HOLD_DRAIN) === 0) {
      // The client is not reading its replies (a pipelining flood): stop reading until it does, also when a wait
      // (store, verifier, fault) paused reading already. During a wait the drain hands the pause over to its end.
      this.#hold(HOLD_DRAIN);
      socket.once('drain', () => {
        if (this.#feeding.kind === 'waiting') this.#hold(HOLD_WAIT);
        this.#release(HOLD_DRAIN);
      });
    }
  }

  // ---- fault injection (see faults/session-faults.ts for how a verdict becomes the core's step) ----------------

  #event(on: 'connect'): FaultEvent {
    return { on, client: this.#info.clientAddress };
  }

  #commandWithFaults(line: Line): void {
    const before = this.#session.phase;
    const { step: considered, command } = this.#session.considerLine(line);
    const event = command === null ? null : commandEvent(command, before, considered, { client: this.#info.clientAddress, user: this.#session.context.authUser });
    if (event === null) this.#apply(this.#session.commit(considered));
    else this.#withFault(event, (v) => this.#apply(this.#session.commit(faultStep(before, considered, v.outcome)), endOf(v)));
  }

  #deliverWithFaults(env: Envelope, trace: Trace | undefined): void {
    const event = messageEvent(env, { client: this.#info.clientAddress, user: this.#session.context.authUser });
    this.#withFault(event, (v) => {
      const outcome = v.outcome;
      if (outcome.type === 'pass') return this.#deliver(env, trace);
      this.#draft.discard(); // the message is not stored
      if (outcome.type === 'disconnect') this.#apply(this.#session.feed({ type: 'eof' }), 'fault');
      else this.#apply(refusedMessage(this.#session.feed({ type: 'store-failed', reason: 'fault injected' }), outcome.reply), 'fault');
    });
  }

  /**
   * Asks the policy about one event and runs `then` with the verdict, after its delay. Meanwhile nothing more is read
   * (pipelined commands wait their turn) and the idle timer is off; the delay is cut to the idle timeout, so a
   * session never waits on a fault longer than it would wait on its client. Other sessions are not held up: this is
   * a timer, not a wait.
   */
  #withFault(event: FaultEvent, then: (v: FaultVerdict) => void): void {
    const answer = this.#opts.faults?.decide(event) ?? NO_FAULT;
    if (!(answer instanceof Promise) && answer.delayMs === 0) {
      this.#noteFaults(answer);
      then(answer);
      return;
    }
    this.#feeding = WAITING.fault;
    this.#hold(HOLD_WAIT);
    // The idle timer stays on until the verdict is in (a primary that never answers cannot hold the session), then is
    // off for the delay, which is itself cut to the idle timeout.
    void Promise.resolve(answer).catch(() => NO_FAULT).then((v) => this.#guard(() => {
      if (this.#closed) return;
      this.#idle.clear();
      this.#noteFaults(v);
      this.#faultTimer = setTimeout(() => this.#guard(() => {
        this.#faultTimer = undefined;
        if (this.#closed) return;
        this.#feeding = READING;
        this.#idle.set(this.#clock.now(), this.#opts.limits.idleTimeoutMs);
        // A store that `then` starts pauses it again as it always does; a client not reading its replies stays paused
        // until its drain.
        this.#release(HOLD_WAIT);
        then(v);
        if (this.#closed || this.#feeding !== READING) return;
        this.#carryOn();
      }), Math.min(v.delayMs, this.#opts.limits.idleTimeoutMs));
    }));
  }

  #noteFaults(v: FaultVerdict): void {
    for (const n of v.fired) {
      this.#faultsFired.push(n);
      this.#note('info', `[fault: rule ${n}]`);
      this.#opts.display.info(`[${this.#tag}] [fault: rule ${n}]`);
    }
  }

  #startTls(): void {
    const plain = this.#socket;
    const secureContext = this.#opts.secureContext;
    this.#feeding = WAITING.tls;
    // RFC 3207 §4.2 / CVE-2011-0411: whatever arrived with or after STARTTLS, before the handshake, is dropped.
    this.#splitter = new LineSplitter();
    plain.pause();
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    if (secureContext === undefined) {
      plain.destroy(); // the session only asks when the shell said it can; defensive
      return;
    }
    // Flush the 220 on the plain socket first: the write callback runs after every earlier write went out.
    plain.write('', () => this.#guard(() => {
      if (this.#closed || plain.destroyed) return;
      const secure = new TLSSocket(plain, { isServer: true, secureContext });
      this.#socket = secure;
      this.#attach(secure);
      secure.once('secure', () => this.#guard(() => {
        this.#info = { ...this.#info, tls: true };
        this.#note('info', `TLS ${secure.getProtocol() ?? ''} ${secure.getCipher().name}`);
        this.#feeding = READING;
        this.#apply(this.#session.feed({ type: 'tls-ready' }));
        this.#pump();
      }));
    }));
  }

  /**
   * AUTH: the verifier may be slow (bcrypt) or remote; nothing more is fed until it has answered (see #attach). It may
   * also refuse to check (too many failures from this client: see net/login-limiter.ts).
   */
  #verify(user: string, password: string): void {
    const verifier = this.#opts.auth;
    this.#feeding = WAITING.verifier;
    new Promise<boolean | LoginRefusal>((resolve) => resolve(verifier === undefined ? false : verifier.verify(user, password, this.#info.clientAddress)))
      .then((a) => (typeof a === 'boolean' || typeof a?.refused === 'string' ? a : false), () => false) // a verifier that fails says no
      .then((a) => this.#guard(() => this.#stored(this.#session.feed(typeof a === 'boolean' ? { type: 'verified', ok: a } : { type: 'login-refused', refusal: a }))));
  }

  #deliver(env: Envelope, trace: Trace | undefined): void {
    const receivedAt = new Date();
    const header = trace ? receivedHeader(trace, nextTraceId(), receivedAt) : '';
    const taken = this.#draft.take(header);
    if (taken.kind === 'memory') return this.#save(env, receivedAt, taken.raw);
    // Nothing more is fed until the message is read back and stored, or refused (see #read).
    this.#feeding = WAITING.store;
    const failed = (reason: string, full: boolean): void => this.#stored(this.#session.feed({ type: 'store-failed', reason, full }));
    if (taken.kind === 'full') {
      this.#note('info', 'message: dropped, the space for messages in progress is full (--spool-disk)');
      return void Promise.resolve().then(() => failed('the space for messages in progress is full', true)); // as a store answers: later
    }
    taken.raw.then((raw) => this.#save(env, receivedAt, raw), (e: unknown) => failed(`message in progress lost: ${String(e)}`, false));
  }

  #save(env: Envelope, receivedAt: Date, raw: Buffer): void {
    const size = raw.length; // raw is given to the store (transferRaw): not read after save()
    this.#note('info', `message: ${size} bytes`);
    const ctx = this.#session.context;
    let connection = this.#savedInfo;
    if (connection === null || connection.tls !== ctx.tls || (connection.authUser ?? null) !== ctx.authUser) {
      connection = { ...this.#info, tls: ctx.tls, ...(ctx.authUser === null ? {} : { authUser: ctx.authUser }) };
      this.#savedInfo = connection;
    }
    this.#storingEnv = env;
    this.#storingSize = size;
    // Nothing more is fed until the store has answered; input that arrives meanwhile stops reading (see #read).
    this.#feeding = WAITING.store;
    this.#opts.sink.save({ envelope: env, connection, receivedAt, raw, transferRaw: true }).then(this.#onSaved, this.#onSaveFailed);
  }

  /** The store's answers, with the crash boundary (methods made once per connection: these run per message). */
  readonly #onSaved = (id: string): void => {
    try {
      this.#saved(id);
    } catch (error) {
      this.#internalError(error);
    }
  };

  readonly #onSaveFailed = (failure: unknown): void => {
    try {
      this.#saveFailed(failure);
    } catch (error) {
      this.#internalError(error);
    }
  };

  #saved(id: string): void {
    if (this.#opts.recordSessions) this.#messageIds.push(id);
    if (this.#crashed !== null) return;
    this.#opts.observer?.messageStored?.(id, this.#storingSize);
    this.#summary(`stored as ${id}`);
    this.#stored(this.#session.feed({ type: 'stored', id }));
  }

  #saveFailed(error: unknown): void {
    if (this.#crashed !== null) return;
    this.#summary(`store failed: ${String(error)}`);
    this.#stored(this.#session.feed({ type: 'store-failed', reason: String(error), full: error instanceof StoreFullError }));
  }

  /** The session summary of the message being stored, kept only for a display that shows it. */
  #summary(result: string): void {
    const env = this.#storingEnv;
    if (this.#opts.display.session === undefined || env === null) return;
    this.#messages.push({ from: env.from, to: env.to, size: this.#storingSize, result });
  }

  /** The store (or the AUTH verifier) answered: reply, and go on with the input that waited. */
  #stored(actions: Action[]): void {
    this.#feeding = READING;
    this.#apply(actions);
    if (this.#closed) return;
    this.#release(HOLD_WAIT); // a client not reading its replies stays paused until its drain
    this.#carryOn();
  }

  /** After a wait (a store, a verifier, an injected delay): a shutdown that came meanwhile, or the input that queued. */
  #carryOn(): void {
    if (this.#lifetimeOver) this.#endOfLifetime();
    else if (this.#shuttingDown) this.shutdown();
    else this.#pumpBatch();
  }

  /** Feeds every queued line to the core, then writes all the replies it made in one go. */
  #pumpBatch(): void {
    this.#batching = true;
    this.#pump();
    this.#batching = false;
    this.#flush();
  }

  /** The session to the store; a sink that throws fails the promise instead (the socket is closed already). */
  #saveSession(record: SessionRecord): Promise<string | void> {
    try {
      return this.#opts.sink.saveSession(record);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The client went away with a message in progress (DATA or BDAT): said in the transcript; the session failed. */
  #leftMidMessage(): boolean {
    const kind = this.#session.phase.kind;
    if (kind !== 'in-data' && kind !== 'in-chunk' && kind !== 'chunking') return false;
    this.#note('info', 'the client went away during the message: nothing stored');
    return true;
  }

  #note(dir: TranscriptLine['dir'], text: string, responseMs?: number): void {
    if (!this.#opts.recordSessions) return;
    if (this.#transcript.length >= TRANSCRIPT_CAP) {
      this.#truncated = true;
      return;
    }
    this.#transcript.push(responseMs === undefined ? { at: Date.now(), dir, text } : { at: Date.now(), dir, text, responseMs });
  }

  #cleanup(): void {
    if (this.#cleanedUp) return; // after STARTTLS both the plain and the TLS socket report their close
    this.#cleanedUp = true;
    this.#data.dispose();
    this.#idle.dispose();
    clearTimeout(this.#lifetime);
    clearTimeout(this.#faultTimer);
    this.#draft.discard();
    if (!this.#closed) {
      this.#closed = true;
      if (this.#leftMidMessage()) this.#end = 'error'; // a reset during DATA: the message is lost, not a normal end
      this.#guard(() => this.#session.feed({ type: 'eof' })); // frees a message in progress
    }
    const endedAt = new Date();
    this.#opts.display.disconnected(this.#tag, this.#end);
    const ctx = this.#session.context;
    this.#opts.display.session?.({
      tag: this.#tag,
      client: this.#info.clientAddress,
      helo: this.#helo,
      tls: ctx.tls,
      authUser: ctx.authUser,
      messages: this.#messages,
      end: this.#end,
      durationMs: endedAt.getTime() - this.#startedAt.getTime(),
    });
    const done = this.#opts.recordSessions
      ? this.#saveSession({
          ...(this.#crashed === null ? {} : { id: this.#crashed }),
          // The login, when there was one: the store's workspace router (src/workspaces) files the session by it.
          connection: { ...this.#info, ...(ctx.authUser === null ? {} : { authUser: ctx.authUser }), ...(this.#faultsFired.length === 0 ? {} : { faults: this.#faultsFired }) },
          startedAt: this.#startedAt,
          endedAt,
          end: this.#end,
          messageIds: this.#messageIds,
          transcript: this.#transcript,
          truncated: this.#truncated,
        })
      : Promise.resolve();
    done
      .then((id) => this.#opts.observer?.sessionEnded?.(typeof id === 'string' ? id : undefined, this.#end))
      .catch(() => this.#opts.observer?.sessionEnded?.(undefined, this.#end))
      .finally(() => this.#closedResolve());
  }
}
