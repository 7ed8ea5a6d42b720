/**
 * The load generator's accounting (pure: no I/O, no clock): what happened to each message and how long each step
 * took. The engine (load.ts) feeds it; the report is a plain value for the text and JSON outputs.
 */
import { Histogram, type LatencyBin, type LatencySummary } from './histogram.js';

export type BenchReport = Readonly<{
  /** Messages whose transaction was started (accepted + failed). */
  attempted: number;
  accepted: number;
  failed: number;
  /** Message octets accepted by the server (the message as composed, before dot-stuffing). */
  bytes: number;
  wallMs: number;
  messagesPerSecond: number;
  bytesPerSecond: number;
  connectionsOpened: number;
  /** Failures by the server's reply code ("550") or, for failures without a reply, the error code ("ERR_CLOSED"). */
  errors: Readonly<Record<string, number>>;
  latencyMs: Readonly<{
    /** An accepted message from its first command (its connect, with a new connection per message) to its 250. */
    message: LatencySummary;
    /** The same, as a histogram (Histogram.bins): what `mailwire bench` draws at the end of its report. */
    messageBins: readonly LatencyBin[];
    /** Each command's round trip, by verb: connect, greeting, EHLO, HELO, MAIL, RCPT, DATA, message, RSET, QUIT. */
    commands: Readonly<Record<string, LatencySummary>>;
  }>;
}>;

export class BenchTally {
  #accepted = 0;
  #failed = 0;
  #bytes = 0;
  #connections = 0;
  readonly #errors = new Map<string, number>();
  readonly #message = new Histogram();
  readonly #commands = new Map<string, Histogram>();

  get accepted(): number {
    return this.#accepted;
  }

  get failed(): number {
    return this.#failed;
  }

  get attempted(): number {
    return this.#accepted + this.#failed;
  }

  accept(ms: number, bytes: number): void {
    this.#accepted++;
    this.#bytes += bytes;
    this.#message.record(ms);
  }

  /** A message that was not accepted; `key` is its reply code or error code. */
  fail(key: string): void {
    this.#failed++;
    this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
  }

  connectionOpened(): void {
    this.#connections++;
  }

  /** One command's round trip. "RCPT 2" (the library's label for a second recipient) counts as RCPT. */
  command(phase: string, ms: number): void {
    const space = phase.indexOf(' ');
    const verb = space === -1 ? phase : phase.slice(0, space);
    let h = this.#commands.get(verb);
    if (h === undefined) this.#commands.set(verb, (h = new Histogram()));
    h.record(ms);
  }

  report(wallMs: number): BenchReport {
    const seconds = wallMs / 1000;
    const rate = (n: number): number => (seconds > 0 ? n / seconds : 0);
    return {
      attempted: this.attempted,
      accepted: this.#accepted,
      failed: this.#failed,
      bytes: this.#bytes,
      wallMs,
      messagesPerSecond: rate(this.#accepted),
      bytesPerSecond: rate(this.#bytes),
      connectionsOpened: this.#connections,
      errors: Object.fromEntries([...this.#errors].sort(([a], [b]) => a.localeCompare(b))),
      latencyMs: {
        message: this.#message.summary(),
        messageBins: this.#message.bins(),
        commands: Object.fromEntries([...this.#commands].map(([verb, h]) => [verb, h.summary()])),
      },
    };
  }
}
