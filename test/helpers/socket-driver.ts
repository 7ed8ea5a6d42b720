/** Drives the real server over a real TCP socket with the same transcripts the pure tests use. */
import { connect, type Socket } from 'node:net';
import { LineSplitter } from '../../src/smtp/core/line-splitter.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits, type Limits } from '../../src/smtp/core/limits.js';
import { quietDisplay, type Display } from '../../src/smtp/server/display.js';
import { startServer, type RunningServer } from '../../src/smtp/server/server.js';
import type { MessageSink } from '../../src/store/types.js';
import type { Authenticator, Dialect } from '../../src/smtp/core/types.js';
import type { FaultPolicy } from '../../src/faults/controller.js';
import { createCaptureSink } from './capture-sink.js';
import { checkReplies, fill, type Names, type TranscriptStep } from './transcript.js';
import type { Clock } from '../../src/net/clock.js';
import type { ServerObserver } from '../../src/smtp/server/connection.js';

export const LOOPBACK_NAMES: Names = { server: '127.0.0.1', client: '127.0.0.1' };

export type TestServerOptions = {
  sink?: MessageSink;
  limits?: Partial<Limits>;
  display?: Display;
  /** simplified unless said otherwise */
  dialect?: Dialect;
  tls?: Readonly<{ cert: string; key: string }>;
  tlsPort?: number;
  auth?: Authenticator;
  recordSessions?: boolean;
  faults?: FaultPolicy;
  /** Where large messages in progress go (default: the system's temporary directory). */
  spoolDir?: string;
  /** The deadlines' clock; the system's unless a test moves its own (./manual-clock.ts). */
  clock?: Clock;
  observer?: ServerObserver;
};

export async function startTestServer(opts: TestServerOptions = {}) {
  const sink = opts.sink ?? createCaptureSink();
  const server: RunningServer = await startServer({
    host: '127.0.0.1',
    port: 0,
    dialect: opts.dialect ?? simplifiedDialect,
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.tlsPort === undefined ? {} : { tlsPort: opts.tlsPort }),
    ...(opts.auth ? { auth: opts.auth } : {}),
    limits: resolveLimits(opts.limits),
    sink,
    display: opts.display ?? quietDisplay,
    recordSessions: opts.recordSessions ?? true,
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.spoolDir === undefined ? {} : { spoolDir: opts.spoolDir }),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.observer ? { observer: opts.observer } : {}),
  });
  return { server, sink };
}

/** Reads lines from a socket, each with a deadline so that a missing reply fails the test instead of hanging it. */
export class SocketLines {
  readonly socket: Socket;
  /** This end's port, kept after close: the server records the client by it. */
  readonly localPort: number;
  readonly #splitter = new LineSplitter();
  readonly #lines: string[] = [];
  #wake: (() => void) | null = null;
  #ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (chunk: Buffer) => {
      this.#splitter.push(chunk);
      for (let l = this.#splitter.next(1 << 16, 'truncate'); l; l = this.#splitter.next(1 << 16, 'truncate')) this.#lines.push(l.text);
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  /** Reads lines from a socket already open (a TLSSocket after STARTTLS, for instance). */
  static wrap(socket: Socket): SocketLines {
    return new SocketLines(socket);
  }

  static open(port: number): Promise<SocketLines> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new SocketLines(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** The next line from the server, or null once it has closed the connection. */
  async next(timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0 && !this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from the server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
    return this.#lines.shift() ?? null;
  }

  /** Resolves once the server has closed the connection (within the deadline). */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    return (await this.next(timeoutMs)) === null;
  }
}

/** Plays a transcript over a socket, step by step (each expectation waits for its line), then checks it. */
export async function socketTranscript(port: number, steps: readonly TranscriptStep[]): Promise<SocketLines> {
  const conn = await SocketLines.open(port);
  const got: string[] = [];
  for (const step of steps) {
    if (step.kind === 'send') conn.write(step.bytes);
    else {
      const line = await conn.next();
      got.push(line ?? '(connection closed)');
      const want = fill(step.line, LOOPBACK_NAMES);
      if (line === null || !(step.prefix ? line.startsWith(want) : line === want)) break;
    }
  }
  checkReplies(steps, got, LOOPBACK_NAMES);
  return conn;
}
