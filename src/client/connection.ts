/**
 * The client's I/O shell: one TCP connection to an SMTP server, replies read as whole (multi-line) replies, and every
 * exchange timed with a monotonic clock from the first byte written to the last byte of the reply read.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LineSplitter } from '../protocol/line-splitter.js';
import { ReplyParser } from '../protocol/reply-parser.js';
import type { Reply } from '../protocol/reply.js';
import { SmtpConnectionError } from '../errors.js';

export type Exchange = Readonly<{ command: string; reply: Reply; rttMs: number }>;

export type ConnectOptions = Readonly<{ host: string; port: number; timeoutMs?: number }>;

/** A reply line longer than this is not SMTP (RFC 5321 §4.5.3.1.5 says 512); bounded so a rogue peer can't fill memory. */
const MAX_REPLY_LINE = 64 * 1024;

/** A reply and the moment (performance.now()) its last byte was read. */
type Received = Readonly<{ reply: Reply; at: number }>;
type Waiter = { resolve: (r: Received) => void; reject: (e: Error) => void };

export class SmtpConnection {
  readonly #socket: Socket;
  readonly #splitter = new LineSplitter();
  readonly #parser = new ReplyParser();
  readonly #replies: Received[] = [];
  readonly #waiters: Waiter[] = [];
  #failure: Error | null = null;

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs, () => this.#fail(new SmtpConnectionError('ERR_TIMEOUT', `no reply from the server within ${timeoutMs} ms`)));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e) => this.#fail(new SmtpConnectionError('ERR_CONNECTION', e.message, { cause: e })));
    socket.on('close', () => this.#fail(new SmtpConnectionError('ERR_CLOSED', 'the server closed the connection')));
  }

  /** Connects and reads the greeting; the greeting's time is the connect-to-220 time. */
  static async connect(opts: ConnectOptions): Promise<{ connection: SmtpConnection; greeting: Exchange }> {
    const started = performance.now();
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host: opts.host, port: opts.port });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', (e) => reject(new SmtpConnectionError('ERR_CONNECT', `cannot connect to ${opts.host}:${opts.port}: ${e.message}`, { cause: e })));
    });
    const connection = new SmtpConnection(socket, opts.timeoutMs ?? 60_000);
    const { reply, at } = await connection.#nextReply();
    return { connection, greeting: { command: '(connect)', reply, rttMs: at - started } };
  }

  /** Sends one command line (CRLF added) and waits for its reply. */
  command(line: string): Promise<Exchange> {
    return this.#exchange(line, `${line}\r\n`);
  }

  /** Sends prepared bytes (a dot-stuffed data section, say) under a label, and waits for the one reply they get. */
  send(label: string, bytes: string | Buffer): Promise<Exchange> {
    return this.#exchange(label, bytes);
  }

  close(): void {
    this.#socket.end();
  }

  async #exchange(label: string, bytes: string | Buffer): Promise<Exchange> {
    if (this.#failure) throw this.#failure;
    const started = performance.now();
    this.#socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    const { reply, at } = await this.#nextReply();
    return { command: label, reply, rttMs: at - started };
  }

  #nextReply(): Promise<Received> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #onData(chunk: Buffer): void {
    this.#splitter.push(chunk);
    for (let line = this.#splitter.next(MAX_REPLY_LINE, 'truncate'); line; line = this.#splitter.next(MAX_REPLY_LINE, 'truncate')) {
      const parsed = this.#parser.push(Buffer.from(line.text, 'latin1').toString('utf8'));
      if (!parsed.ok) {
        this.#fail(new SmtpConnectionError('ERR_PROTOCOL', parsed.why));
        this.#socket.destroy();
        return;
      }
      if (parsed.reply === null) continue;
      const received = { reply: parsed.reply, at: performance.now() };
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(received);
      else this.#replies.push(received);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const w of this.#waiters.splice(0)) w.reject(this.#failure);
    if (!this.#socket.destroyed && error instanceof SmtpConnectionError && error.code === 'ERR_TIMEOUT') this.#socket.destroy();
  }
}
