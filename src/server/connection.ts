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
import { performance } from 'node:perf_hooks';
import { TLSSocket, type SecureContext } from 'node:tls';
import { decodeUtf8Line } from '../protocol/command.js';
import { LineSplitter, type Line } from '../protocol/line-splitter.js';
import { describeReply, formatReply, type Reply } from '../protocol/reply.js';
import { SmtpSession, assertNever } from '../protocol/session.js';
import { receivedHeader } from '../protocol/trace.js';
import type { Action, Authenticator, Dialect, Envelope, Trace } from '../protocol/types.js';
import type { Limits } from '../protocol/limits.js';
import type { ConnectionInfo, MessageSink, SessionEnd, TranscriptLine } from '../store/types.js';
import type { FaultPolicy } from '../faults/controller.js';
import { NO_FAULT, type FaultEvent, type FaultVerdict } from '../faults/engine.js';
import { commandEvent, faultStep, greetingActions, messageEvent, refusedMessage } from '../faults/session-faults.js';
import { hostPort, peerOf } from './peer-address.js';
import type { Display, MessageSummary } from './display.js';

export type ConnectionOptions = Readonly<{
  dialect: Dialect;
  limits: Limits;
  /** Name used in replies instead of the connection's local IP address. */
  hostname?: string;
  sink: MessageSink;
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
}>;

/** What the server tells the outside as it works (events for the web app, metrics); every hook optional. */
export type ServerObserver = Readonly<{
  messageStored?(id: string, bytes: number): void;
  /** `id` is the stored session's id, when the store keeps sessions. */
  sessionEnded?(id: string | undefined, end: SessionEnd): void;
  /** A reply sent: its code, the command it answered ('CONNECT' for the greeting, 'MESSAGE' for end of data), and how long the answer took. */
  replied?(code: number, verb: string, seconds: number): void;
}>;

/** Verbs named in metrics; anything else counts as OTHER, so a client cannot grow the label set. */
const KNOWN_VERBS: ReadonlySet<string> = new Set([
  'HELO', 'EHLO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'EXPN', 'HELP', 'STARTTLS', 'AUTH', 'BDAT',
]);

/** Received: ids: unique per process start (a random prefix) and per message (a counter), without a syscall each. */
const TRACE_PREFIX = randomBytes(4).toString('hex');
let traceCounter = 0;
const nextTraceId = (): string => `${TRACE_PREFIX}${(++traceCounter).toString(16).padStart(8, '0')}`;

/** Wire bytes of each reply, made once for the constant replies that most commands get. */
const REPLY_BYTES = new WeakMap<Reply, Buffer>();
function replyBytes(r: Reply): Buffer {
  let bytes = REPLY_BYTES.get(r);
  if (bytes === undefined) REPLY_BYTES.set(r, (bytes = Buffer.from(formatReply(r), 'utf8')));
  return bytes;
}

/** A session closed by an injected fault (a disconnect, or a 421) ended by 'fault'. */
const endOf = (v: FaultVerdict): SessionEnd | undefined => (v.outcome.type === 'pass' ? undefined : 'fault');

/** How many transcript lines a session keeps; enough for a long session, bounded against a flood. */
const TRANSCRIPT_CAP = 300;

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
  /** Message bytes streamed so far (latin1 strings), committed on 'deliver', dropped on 'discard'. */
  #draft: string[] = [];
  /** Set while the store works or the TLS handshake runs: no input is fed to the session meanwhile. */
  #waiting = false;
  #closed = false;
  #cleanedUp = false;
  #shuttingDown = false;
  #end: SessionEnd = 'client-closed';
  #truncated = false;
  /** The last hello the session took, for the session summary. */
  #helo: string | null = null;
  /** Whether anyone reads the text of commands and replies: a display that shows them, or a transcript not yet full. */
  get #describes(): boolean {
    return this.#opts.display.showsLines !== false || (this.#opts.recordSessions && this.#transcript.length < TRANSCRIPT_CAP);
  }
  /** When the command being answered arrived (performance.now()), for the transcript's response times. */
  #commandAt = performance.now();
  #verb = 'CONNECT';
  #dataTimer: NodeJS.Timeout | undefined;
  /** An injected delay in progress. */
  #faultTimer: NodeJS.Timeout | undefined;
  /** Rules that injected a fault in this session, in order (numbers from 1). */
  readonly #faultsFired: number[] = [];
  #closedResolve!: () => void;
  /** Resolves once the socket is closed and the session recorded. */
  readonly closed = new Promise<void>((resolve) => (this.#closedResolve = resolve));

  /** `implicitTls`: the socket is a TLSSocket whose handshake is done (the port-465 style listener). */
  constructor(socket: Socket, opts: ConnectionOptions, implicitTls = false) {
    this.#socket = socket;
    this.#opts = opts;
    const peer = peerOf(socket);
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
    opts.display.connected(this.#tag);
    this.#note('info', `connected from ${this.#tag}`);
    if (opts.faults?.active() === true) this.#withFault(this.#event('connect'), (v) => this.#apply(greetingActions(this.#session.greet(), v.outcome), endOf(v)));
    else this.#apply(this.#session.greet());
  }

  #attach(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setTimeout(this.#opts.limits.idleTimeoutMs, () => this.#apply(this.#session.feed({ type: 'timeout' }), 'timeout'));
    socket.on('data', (chunk: Buffer) => {
      this.#splitter.push(chunk);
      // Replies to everything this chunk held leave in one write, as Postfix flushes only when its input runs dry:
      // a pipelining client then costs one syscall per batch, not one per reply.
      socket.cork();
      this.#pump();
      socket.uncork();
    });
    socket.on('end', () => this.#apply(this.#session.feed({ type: 'eof' }), 'client-closed'));
    socket.on('error', () => socket.destroy()); // ECONNRESET and kin: 'close' follows and cleans up
    socket.on('close', () => this.#cleanup());
  }

  /**
   * Graceful shutdown: the session decides (an idle one answers 421 and closes; one in a message or being stored goes
   * on), and is asked again after each input until it has closed.
   */
  shutdown(): void {
    this.#shuttingDown = true;
    if (!this.#closed) this.#apply(this.#session.feed({ type: 'shutdown' }), 'shutdown');
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Feed every complete line (or BDAT octets) to the session, until the input runs dry or the session must wait. */
  #pump(): void {
    while (!this.#waiting && !this.#closed) {
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
      if (line.ending === 'crlf' && line.text === '.') {
        this.#commandAt = performance.now();
        this.#verb = 'MESSAGE';
      }
      return;
    }
    this.#commandAt = performance.now();
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
          const tookMs = performance.now() - this.#commandAt;
          if (this.#describes) {
            const text = describeReply(action.reply);
            this.#opts.display.reply(this.#tag, text);
            this.#note('server', text, tookMs);
          }
          this.#opts.observer?.replied?.(action.reply.code, this.#verb, tookMs / 1000);
          if (action.reply.code === 354) this.#startDataTimer();
          if (!this.#socket.write(replyBytes(action.reply))) {
            // The client is not reading its replies (a pipelining flood): stop reading until it does.
            const socket = this.#socket;
            socket.pause();
            socket.once('drain', () => {
              if (!this.#waiting) socket.resume();
            });
          }
          break;
        }
        case 'data':
          this.#draft.push(action.bytes);
          break;
        case 'discard':
          this.#draft = [];
          this.#stopDataTimer();
          break;
        case 'deliver':
          this.#stopDataTimer();
          if (this.#opts.faults?.active() === true) this.#deliverWithFaults(action.env, action.trace);
          else this.#deliver(action.env, action.trace);
          break;
        case 'starttls':
          this.#startTls();
          break;
        case 'close':
          if (!this.#closed) this.#end = end ?? (this.#shuttingDown ? 'shutdown' : 'quit'); // the first reason stands
          this.#closed = true;
          this.#socket.end();
          break;
        default:
          assertNever(action);
      }
    }
  }

  // ---- fault injection (see faults/session-faults.ts for how a verdict becomes the core's step) ----------------

  #event(on: 'connect'): FaultEvent {
    return { on, client: this.#info.clientAddress };
  }

  #commandWithFaults(line: Line): void {
    const before = this.#session.phase;
    const considered = this.#session.consider({ type: 'line', line });
    const event = commandEvent(this.#verb, before, considered, { client: this.#info.clientAddress, user: this.#session.context.authUser });
    if (event === null) this.#apply(this.#session.commit(considered));
    else this.#withFault(event, (v) => this.#apply(this.#session.commit(faultStep(before, considered, v.outcome)), endOf(v)));
  }

  #deliverWithFaults(env: Envelope, trace: Trace | undefined): void {
    const event = messageEvent(env, { client: this.#info.clientAddress, user: this.#session.context.authUser });
    this.#withFault(event, (v) => {
      const outcome = v.outcome;
      if (outcome.type === 'pass') return this.#deliver(env, trace);
      this.#draft = []; // the message is not stored
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
    this.#waiting = true;
    this.#socket.pause();
    this.#socket.setTimeout(0);
    void Promise.resolve(answer).catch(() => NO_FAULT).then((v) => {
      if (this.#closed) return;
      this.#noteFaults(v);
      this.#faultTimer = setTimeout(() => {
        this.#faultTimer = undefined;
        if (this.#closed) return;
        this.#waiting = false;
        this.#socket.setTimeout(this.#opts.limits.idleTimeoutMs);
        then(v);
        if (this.#closed || this.#waiting) return;
        this.#socket.resume();
        if (this.#shuttingDown) this.shutdown();
        else this.#pump();
      }, Math.min(v.delayMs, this.#opts.limits.idleTimeoutMs));
    });
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
    this.#waiting = true;
    // RFC 3207 §4.2 / CVE-2011-0411: whatever arrived with or after STARTTLS, before the handshake, is dropped.
    this.#splitter = new LineSplitter();
    plain.pause();
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.setTimeout(0);
    if (secureContext === undefined) {
      plain.destroy(); // the session only asks when the shell said it can; defensive
      return;
    }
    // Flush the 220 on the plain socket first: the write callback runs after every earlier write went out.
    plain.write('', () => {
      if (this.#closed || plain.destroyed) return;
      const secure = new TLSSocket(plain, { isServer: true, secureContext });
      this.#socket = secure;
      this.#attach(secure);
      secure.once('secure', () => {
        this.#info = { ...this.#info, tls: true };
        this.#note('info', `TLS ${secure.getProtocol() ?? ''} ${secure.getCipher().name}`);
        this.#waiting = false;
        this.#apply(this.#session.feed({ type: 'tls-ready' }));
        this.#pump();
      });
    });
  }

  #deliver(env: Envelope, trace: Trace | undefined): void {
    const body = Buffer.from(this.#draft.join(''), 'latin1');
    this.#draft = [];
    const receivedAt = new Date();
    const header = trace ? Buffer.from(receivedHeader(trace, nextTraceId(), receivedAt), 'utf8') : null;
    const raw = header ? Buffer.concat([header, body]) : body;
    this.#note('info', `message: ${raw.length} bytes`);
    const ctx = this.#session.context;
    const connection: ConnectionInfo = { ...this.#info, tls: ctx.tls, ...(ctx.authUser === null ? {} : { authUser: ctx.authUser }) };
    const summary = (result: string): void => void this.#messages.push({ from: env.from, to: env.to, size: raw.length, result });
    this.#waiting = true;
    this.#socket.pause(); // back-pressure: nothing more is read until the store has answered
    this.#opts.sink
      .save({ envelope: env, connection, receivedAt, raw })
      .then(
        (id) => {
          this.#messageIds.push(id);
          this.#opts.observer?.messageStored?.(id, raw.length);
          summary(`stored as ${id}`);
          return this.#session.feed({ type: 'stored', id });
        },
        (error: unknown) => {
          summary(`store failed: ${String(error)}`);
          return this.#session.feed({ type: 'store-failed', reason: String(error) });
        },
      )
      .then((actions) => {
        this.#waiting = false;
        this.#apply(actions);
        if (this.#closed) return;
        this.#socket.resume();
        if (this.#shuttingDown) this.shutdown();
        else this.#pump();
      });
  }

  #startDataTimer(): void {
    this.#dataTimer = setTimeout(() => this.#apply(this.#session.feed({ type: 'timeout' }), 'timeout'), this.#opts.limits.dataTimeoutMs);
  }

  #stopDataTimer(): void {
    clearTimeout(this.#dataTimer);
    this.#dataTimer = undefined;
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
    this.#stopDataTimer();
    clearTimeout(this.#faultTimer);
    this.#draft = [];
    if (!this.#closed) {
      this.#closed = true;
      this.#session.feed({ type: 'eof' }); // frees a message in progress
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
      ? this.#opts.sink.saveSession({
          connection: this.#faultsFired.length === 0 ? this.#info : { ...this.#info, faults: this.#faultsFired },
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
