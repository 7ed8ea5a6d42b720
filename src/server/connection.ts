/**
 * The I/O shell around one SMTP session: socket bytes → LineSplitter → session → actions → socket / store / display.
 * This is the only place a connection's bytes are read or written; the session decides, this file carries it out.
 * Node's form of the text's "a new thread for every client": each connection has its own session and state, and the
 * event loop interleaves them, so a slow or silent client never delays another.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodeUtf8Line } from '../protocol/command.js';
import { LineSplitter, type Line } from '../protocol/line-splitter.js';
import { describeReply, formatReply } from '../protocol/reply.js';
import { SmtpSession, assertNever } from '../protocol/session.js';
import type { Action, Dialect, Envelope } from '../protocol/types.js';
import type { Limits } from '../protocol/limits.js';
import type { ConnectionInfo, MessageSink, SessionEnd, TranscriptLine } from '../store/types.js';
import { hostPort, peerOf } from './address.js';
import type { Display } from './display.js';

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

/** How many transcript lines a session keeps; enough for a long session, bounded against a flood. */
const TRANSCRIPT_CAP = 300;

export class Connection {
  readonly #socket: Socket;
  readonly #opts: ConnectionOptions;
  readonly #session: SmtpSession;
  readonly #splitter = new LineSplitter();
  readonly #tag: string;
  readonly #info: ConnectionInfo;
  readonly #startedAt = new Date();
  readonly #transcript: TranscriptLine[] = [];
  readonly #messageIds: string[] = [];
  /** Message bytes streamed so far (latin1 strings), committed on 'deliver', dropped on 'discard'. */
  #draft: string[] = [];
  #storing = false;
  #closed = false;
  #shuttingDown = false;
  #end: SessionEnd = 'client-closed';
  #truncated = false;
  /** When the command being answered arrived (performance.now()), for the transcript's response times. */
  #commandAt = performance.now();
  #verb = 'CONNECT';
  #dataTimer: NodeJS.Timeout | undefined;
  #closedResolve!: () => void;
  /** Resolves once the socket is closed and the session recorded. */
  readonly closed = new Promise<void>((resolve) => (this.#closedResolve = resolve));

  constructor(socket: Socket, opts: ConnectionOptions) {
    this.#socket = socket;
    this.#opts = opts;
    const peer = peerOf(socket);
    this.#tag = hostPort(peer.clientAddress, peer.clientPort);
    this.#info = { ...peer, dialect: opts.dialect.name, tls: false };
    this.#session = new SmtpSession({
      dialect: opts.dialect,
      serverName: opts.hostname ?? peer.serverAddress,
      clientAddress: peer.clientAddress,
      limits: opts.limits,
    });

    socket.setNoDelay(true);
    socket.setTimeout(opts.limits.idleTimeoutMs, () => this.#apply(this.#session.feed({ type: 'timeout' }), 'timeout'));
    socket.on('data', (chunk: Buffer) => {
      this.#splitter.push(chunk);
      this.#pump();
    });
    socket.on('end', () => this.#apply(this.#session.feed({ type: 'eof' }), 'client-closed'));
    socket.on('error', () => socket.destroy()); // ECONNRESET and kin: 'close' follows and cleans up
    socket.on('close', () => this.#cleanup());

    opts.display.connected(this.#tag);
    this.#note('info', `connected from ${this.#tag}`);
    this.#apply(this.#session.greet());
  }

  /** Graceful shutdown: an idle session is told 421 and closed now; one in a message is told once it is done. */
  shutdown(): void {
    this.#shuttingDown = true;
    if (!this.#closed && !this.#storing && this.#session.phase.kind !== 'in-data') {
      this.#apply(this.#session.feed({ type: 'shutdown' }), 'shutdown');
    }
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Feed every complete line to the session, until the input runs dry or a message is being stored. */
  #pump(): void {
    while (!this.#storing && !this.#closed) {
      const rule = this.#session.lineRule;
      const line = this.#splitter.next(rule.maxBytes, rule.mode);
      if (line === null) return;
      this.#show(line, rule.mode === 'split');
      this.#apply(this.#session.feed({ type: 'line', line }));
    }
  }

  #show(line: Line, isMessageText: boolean): void {
    const text = decodeUtf8Line(line.text) ?? line.text;
    if (isMessageText) {
      this.#opts.display.messageLine(this.#tag, text);
      if (line.ending === 'crlf' && line.text === '.') {
        this.#commandAt = performance.now();
        this.#verb = 'MESSAGE';
      }
      return;
    }
    this.#commandAt = performance.now();
    const verb = /^\s*(\S+)/.exec(text)?.[1]?.toUpperCase() ?? '';
    this.#verb = KNOWN_VERBS.has(verb) ? verb : 'OTHER';
    this.#opts.display.command(this.#tag, text);
    this.#note('client', /^\s*AUTH\b/i.test(text) ? text.replace(/^(\s*AUTH\s+\S+).*$/i, '$1 [redacted]') : text);
  }

  #apply(actions: Action[], end?: SessionEnd): void {
    for (const action of actions) {
      switch (action.type) {
        case 'reply': {
          const text = describeReply(action.reply);
          const tookMs = performance.now() - this.#commandAt;
          this.#opts.display.reply(this.#tag, text);
          this.#note('server', text, tookMs);
          this.#opts.observer?.replied?.(action.reply.code, this.#verb, tookMs / 1000);
          if (action.reply.code === 354) this.#startDataTimer();
          if (!this.#socket.write(formatReply(action.reply))) {
            // The client is not reading its replies (a pipelining flood): stop reading until it does.
            this.#socket.pause();
            this.#socket.once('drain', () => this.#socket.resume());
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
          this.#deliver(action.env);
          break;
        case 'close':
          this.#end = end ?? (this.#shuttingDown ? 'shutdown' : 'quit');
          this.#closed = true;
          this.#socket.end();
          break;
        default:
          assertNever(action);
      }
    }
  }

  #deliver(env: Envelope): void {
    const raw = Buffer.from(this.#draft.join(''), 'latin1');
    this.#draft = [];
    this.#note('info', `message: ${raw.length} bytes`);
    this.#storing = true;
    this.#socket.pause(); // back-pressure: nothing more is read until the store has answered
    this.#opts.sink
      .save({ envelope: env, connection: this.#info, receivedAt: new Date(), raw })
      .then(
        (id) => {
          this.#messageIds.push(id);
          this.#opts.observer?.messageStored?.(id, raw.length);
          return this.#session.feed({ type: 'stored', id });
        },
        (error: unknown) => this.#session.feed({ type: 'store-failed', reason: String(error) }),
      )
      .then((actions) => {
        this.#storing = false;
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
    this.#stopDataTimer();
    this.#draft = [];
    if (!this.#closed) {
      this.#closed = true;
      this.#session.feed({ type: 'eof' }); // frees a message in progress
    }
    this.#opts.display.disconnected(this.#tag, this.#end);
    const done = this.#opts.recordSessions
      ? this.#opts.sink.saveSession({
          connection: this.#info,
          startedAt: this.#startedAt,
          endedAt: new Date(),
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
