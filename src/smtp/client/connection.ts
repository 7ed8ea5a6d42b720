/**
 * The client's I/O shell: one connection to an SMTP server (TCP, implicit TLS, or upgraded by STARTTLS), replies read
 * as whole (multi-line) replies, and every phase timed with a monotonic clock (performance.now()): the DNS lookup, the
 * TCP connect, the TLS handshake, the greeting, and each exchange from the first byte written to the last byte of the
 * reply read. What to send and what to expect is decided elsewhere (src/smtp/core/client-session.ts).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ReplyReader } from '../core/reply-reader.js';
import type { Reply } from '../core/reply.js';
import { DEFAULT_CLIENT_TIMEOUT_MS } from '../../config.js';
import { SmtpConnectionError, SmtpTlsError } from '../../errors.js';
import { hostPort } from '../../net/host-port.js';

export type Exchange = Readonly<{ command: string; reply: Reply; rttMs: number }>;

/** Host name → address; dns.lookup by default (what the system resolver says, /etc/hosts included). */
export type LookupFunction = (host: string) => Promise<{ address: string; family: number }>;

export type TlsOptions = Readonly<{
  /** Skip certificate verification (--tls-insecure). Verification is on unless this is true. */
  insecure?: boolean;
  /** SNI and the name the certificate must carry; the host name by default (none for an IP address). */
  servername?: string;
  /** Trusted CA certificates (PEM) instead of the system's. */
  ca?: string | Buffer | readonly (string | Buffer)[];
}>;

export type ConnectOptions = Readonly<{
  host: string;
  port: number;
  /** Bound on every wait: DNS, connect, handshake, and the silence before each reply. */
  timeoutMs?: number;
  /** Implicit TLS (port 465 style, RFC 8314): the handshake comes before the greeting. */
  tls?: TlsOptions;
  lookup?: LookupFunction;
  /** Called with the bytes of every write, as written (one call per write): for tests and wire dumps. */
  onWrite?: (bytes: Buffer) => void;
}>;

/** Milliseconds per connection phase; null for a phase that did not happen (no DNS for an IP, no implicit TLS). */
export type ConnectTimings = Readonly<{ dnsMs: number | null; connectMs: number; tlsMs: number | null; greetingMs: number }>;

export type TlsInfo = Readonly<{ protocol: string | null; cipher: string; servername: string | null; authorized: boolean; ms: number }>;

export type Connected = Readonly<{
  connection: SmtpConnection;
  greeting: Exchange;
  timings: ConnectTimings;
  /** The IP address connected to (after DNS). */
  address: string;
  tls: TlsInfo | null;
}>;

/** A reply and the moment (performance.now()) its last byte was read. */
type Received = Readonly<{ reply: Reply; at: number }>;
type Waiter = { resolve: (r: Received) => void; reject: (e: Error) => void };

export class SmtpConnection {
  #socket: Socket;
  #reader = new ReplyReader();
  readonly #replies: Received[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #timeoutMs: number;
  readonly #onWrite: ((bytes: Buffer) => void) | undefined;
  #failure: Error | null = null;
  #detach: () => void = () => {};

  private constructor(socket: Socket, timeoutMs: number, onWrite?: (bytes: Buffer) => void) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#onWrite = onWrite;
    this.#attach(socket);
  }

  /** Resolves the host, connects (and does the implicit TLS handshake when asked), and reads the greeting. */
  static async connect(opts: ConnectOptions): Promise<Connected> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const where = hostPort(opts.host, opts.port);
    let address = opts.host;
    let dnsMs: number | null = null;
    if (isIP(opts.host) === 0) {
      const started = performance.now();
      const lookup = opts.lookup ?? ((host: string) => dnsLookup(host));
      try {
        address = (await withDeadline(lookup(opts.host), timeoutMs, () => new SmtpConnectionError('ERR_TIMEOUT', `no DNS answer for ${opts.host} within ${timeoutMs} ms`))).address;
      } catch (e) {
        if (e instanceof SmtpConnectionError) throw e;
        throw new SmtpConnectionError('ERR_DNS', `cannot resolve ${opts.host}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      dnsMs = performance.now() - started;
    }

    const tcpStarted = performance.now();
    let socket = await openTcp(address, opts.port, timeoutMs, where);
    const connectMs = performance.now() - tcpStarted;

    let tls: TlsInfo | null = null;
    if (opts.tls !== undefined) {
      const secured = await handshake(socket, opts.host, opts.tls, timeoutMs);
      socket = secured.socket;
      tls = secured.info;
    }

    const connection = new SmtpConnection(socket, timeoutMs, opts.onWrite);
    const greetingStarted = performance.now();
    const { reply, at } = await connection.#nextReply();
    const greetingMs = at - greetingStarted;
    return {
      connection,
      greeting: { command: '(connect)', reply, rttMs: greetingMs },
      timings: { dnsMs, connectMs, tlsMs: tls?.ms ?? null, greetingMs },
      address,
      tls,
    };
  }

  /** Sends one command line (CRLF added) and waits for its reply. */
  command(line: string, label: string = line): Promise<Exchange> {
    return this.#exchange(label, `${line}\r\n`);
  }

  /** Sends prepared bytes (a dot-stuffed data section, say) under a label, and waits for the one reply they get. */
  send(label: string, bytes: string | Buffer): Promise<Exchange> {
    return this.#exchange(label, bytes);
  }

  /**
   * Writes every item in one write and then reads one reply per item, in order (RFC 2920 §3.1). Each RTT runs from
   * the write to the last byte of that item's reply, so the last one is the batch's round trip.
   */
  async batch(items: readonly Readonly<{ label: string; bytes: string | Buffer }>[]): Promise<Exchange[]> {
    if (this.#failure) throw this.#failure;
    const started = performance.now();
    // One item (a message's data section, say) is written as it is: Buffer.concat would copy it.
    this.#write(items.length === 1 && items[0] !== undefined ? toBuffer(items[0].bytes) : Buffer.concat(items.map((i) => toBuffer(i.bytes))));
    const out: Exchange[] = [];
    for (const item of items) {
      const { reply, at } = await this.#nextReply();
      out.push({ command: item.label, reply, rttMs: at - started });
    }
    return out;
  }

  /**
   * RFC 3207: after the server's 220 to STARTTLS, the TLS handshake on the same socket. Anything the server sent after
   * that 220 would be plaintext injected into the TLS session (CVE-2011-0411 style): refused.
   */
  async startTls(host: string, opts: TlsOptions): Promise<TlsInfo> {
    if (this.#failure) throw this.#failure;
    if (this.#replies.length > 0 || this.#reader.pendingBytes > 0) {
      this.destroy();
      throw new SmtpTlsError('ERR_TLS_INJECTION', 'the server sent more after its 220 to STARTTLS: refusing to start TLS over it');
    }
    this.#detach();
    const plain = this.#socket;
    plain.on('error', () => {}); // the TLS socket reports failures from now on
    try {
      const secured = await handshake(plain, host, opts, this.#timeoutMs);
      this.#socket = secured.socket;
      this.#reader = new ReplyReader();
      this.#attach(secured.socket);
      return secured.info;
    } catch (e) {
      this.#failure ??= e instanceof Error ? e : new Error(String(e));
      plain.destroy();
      throw e;
    }
  }

  /** Ends the connection politely (after QUIT): no more commands. */
  close(): void {
    if (this.#failure === null) this.#fail(CLOSED_BY_US);
    this.#socket.end();
  }

  /** Drops the connection at once: the server discards a message in progress (RFC 5321 §4.1.1.4). */
  destroy(): void {
    this.#fail(new SmtpConnectionError('ERR_CLOSED', 'the connection was closed by the client'));
    this.#socket.destroy();
  }

  /** True once the connection failed or ended: no more commands can be sent. */
  get closed(): boolean {
    return this.#failure !== null;
  }

  get secure(): boolean {
    return 'encrypted' in this.#socket && (this.#socket as TLSSocket).encrypted === true;
  }

  #attach(socket: Socket): void {
    socket.setNoDelay(true);
    const onTimeout = (): void => {
      this.#fail(new SmtpConnectionError('ERR_TIMEOUT', `no reply from the server within ${this.#timeoutMs} ms`));
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => this.#onData(chunk);
    const onError = (e: Error): void => this.#fail(new SmtpConnectionError('ERR_CONNECTION', e.message, { cause: e }));
    // Only the first failure counts; building an error (its stack) for every ordinary close costs a load generator
    // that opens thousands of connections a second.
    const onClose = (): void => {
      if (this.#failure === null) this.#fail(new SmtpConnectionError('ERR_CLOSED', 'the server closed the connection'));
    };
    socket.setTimeout(this.#timeoutMs, onTimeout);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    this.#detach = () => {
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
  }

  async #exchange(label: string, bytes: string | Buffer): Promise<Exchange> {
    if (this.#failure) throw this.#failure;
    const started = performance.now();
    this.#write(toBuffer(bytes));
    const { reply, at } = await this.#nextReply();
    return { command: label, reply, rttMs: at - started };
  }

  #write(bytes: Buffer): void {
    this.#onWrite?.(bytes);
    this.#socket.write(bytes);
  }

  #nextReply(): Promise<Received> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #onData(chunk: Buffer): void {
    const read = this.#reader.push(chunk);
    const at = performance.now();
    for (const reply of read.replies) {
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve({ reply, at });
      else this.#replies.push({ reply, at });
    }
    if (!read.ok) {
      this.#fail(new SmtpConnectionError('ERR_PROTOCOL', read.why));
      this.#socket.destroy();
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const w of this.#waiters.splice(0)) w.reject(this.#failure);
  }
}

/** The state after close(), shared: nothing went wrong, and no stack is worth capturing for it. */
const CLOSED_BY_US = new SmtpConnectionError('ERR_CLOSED', 'the connection was closed by the client (after QUIT)');

const toBuffer = (bytes: string | Buffer): Buffer => (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);

function openTcp(address: string, port: number, timeoutMs: number, where: string): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host: address, port });
    const onError = (e: Error): void => {
      s.destroy();
      reject(new SmtpConnectionError('ERR_CONNECT', `cannot connect to ${where}: ${e.message}`, { cause: e }));
    };
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new SmtpConnectionError('ERR_TIMEOUT', `cannot connect to ${where}: no answer within ${timeoutMs} ms`));
    });
    s.once('error', onError);
    s.once('connect', () => {
      s.setTimeout(0);
      s.off('error', onError);
      resolve(s);
    });
  });
}

function handshake(socket: Socket, host: string, opts: TlsOptions, timeoutMs: number): Promise<{ socket: TLSSocket; info: TlsInfo }> {
  // RFC 6066 §3: SNI carries a DNS name, never an IP address literal.
  const servername = opts.servername ?? (isIP(host) === 0 ? host : undefined);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      socket,
      host: servername ?? host,
      ...(servername === undefined ? {} : { servername }),
      rejectUnauthorized: opts.insecure !== true,
      ...(opts.ca === undefined ? {} : { ca: opts.ca as string | Buffer | (string | Buffer)[] }),
    });
    const onError = (e: Error): void => {
      s.destroy();
      reject(new SmtpTlsError('ERR_TLS', `TLS handshake with ${servername ?? host} failed: ${e.message}`, { cause: e }));
    };
    s.setTimeout(timeoutMs, () => onError(new Error(`no handshake within ${timeoutMs} ms`)));
    s.once('error', onError);
    s.once('secureConnect', () => {
      s.setTimeout(0);
      s.off('error', onError);
      resolve({
        socket: s,
        info: {
          protocol: s.getProtocol(),
          cipher: s.getCipher().name,
          servername: servername ?? null,
          authorized: s.authorized,
          ms: performance.now() - started,
        },
      });
    });
  });
}

function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e: unknown) => { clearTimeout(timer); reject(e); },
    );
  });
}
