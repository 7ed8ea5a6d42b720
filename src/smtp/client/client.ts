/**
 * The SMTP client library: one connection, any number of messages over it, every phase timed.
 *
 * Theory of operation: SmtpClient.open() connects, reads the greeting and (standard mode) says EHLO, falling back to
 * HELO, then STARTTLS and EHLO again, then AUTH. send() runs one mail transaction from the pure plan
 * (src/smtp/core/client-session.ts) and returns that message's timings; it can be called again on the same client, so
 * N messages over one connection cost one connect. Everything said and heard goes to a Recorder (the transcript, with
 * AUTH secrets masked, and the phase timings), which the caller may own so that it keeps what happened up to a failure.
 *
 * Two modes:
 *  - 'standard' (RFC 5321): EHLO and its extensions, PIPELINING, SIZE, 8BITMIME, SMTPUTF8, STARTTLS, AUTH, CHUNKING.
 *  - 'simplified': our simplified dialect, as the interactive client speaks it: HELO <sender's domain> before every
 *    message, "MAIL FROM: <a>" with the space, one recipient, no extensions.
 * A reply other than the expected one throws SmtpReplyError(command, reply); see src/errors.ts for the other errors.
 */
import { performance } from 'node:perf_hooks';
import {
  authExchanges, chooseAuth, ehloRefused, HELO_ONLY, parseEhloReply, planTransaction, simplifiedTransaction,
  type AuthMechanism, type Capabilities, type PipeliningPolicy, type WireStep,
} from '../core/client-session.js';
import type { Reply } from '../core/reply.js';
import { hostPort, parseServerAddress, type ServerAddress } from '../../net/host-port.js';
import { DEFAULT_CLIENT_NAME } from '../../config.js';
import { MailwireError, SmtpCapabilityError, SmtpConnectionError, SmtpReplyError, SmtpTlsError } from '../../errors.js';
import { SmtpConnection, type LookupFunction, type TlsInfo, type TlsOptions } from './connection.js';
import { PreparedMessage } from './prepared.js';

export type ClientMode = 'standard' | 'simplified';
/** 'starttls': RFC 3207 upgrade after EHLO; 'implicit': TLS from the first byte (RFC 8314, port 465 style). */
export type TlsMode = 'none' | 'starttls' | 'implicit';
export type AuthOptions = Readonly<{ user: string; pass: string; mechanism?: AuthMechanism }>;

export type ClientOptions = Readonly<{
  host: string;
  port: number;
  mode?: ClientMode;
  tls?: TlsMode;
  /** Certificate verification is on unless tlsOptions.insecure; SNI is the host name unless tlsOptions.servername. */
  tlsOptions?: TlsOptions;
  /** The EHLO/HELO name in standard mode ('localhost' by default). The simplified mode says the sender's domain. */
  clientName?: string;
  auth?: AuthOptions;
  pipelining?: PipeliningPolicy;
  /** Send the message with BDAT when the server offers CHUNKING (RFC 3030). */
  chunking?: boolean;
  chunkSize?: number;
  /** Bound on each wait (DNS, connect, handshake, each reply); 60 s by default. */
  timeoutMs?: number;
  lookup?: LookupFunction;
  /** Called with the bytes of every socket write. */
  onWrite?: (bytes: Buffer) => void;
}>;

export type TraceEvent =
  | Readonly<{ type: 'info'; text: string }>
  /** A command as sent (AUTH secrets masked) or a summary of message data. */
  | Readonly<{ type: 'sent'; text: string }>
  | Readonly<{ type: 'received'; reply: Reply; rttMs: number }>;

/** One timed phase: 'dns', 'connect', 'tls', 'greeting', then each command ('EHLO', 'MAIL', 'RCPT', 'RCPT 2', …). */
export type Timing = Readonly<{ phase: string; ms: number }>;

/** `raw` as a PreparedMessage skips the per-message encoding (see src/smtp/client/prepared.ts). */
export type Mail = Readonly<{ from: string; to: readonly string[]; raw: Buffer | string | PreparedMessage }>;

export type MailResult = Readonly<{
  /** This message's commands, in order (MAIL, RCPT…, DATA, message or BDAT…, plus RSET/HELO before it if sent). */
  timings: readonly Timing[];
  /** The server's final reply to the message (its queue id is usually in there). */
  reply: Reply;
  ms: number;
}>;

/**
 * Collects the transcript and the timings. `keep: false` keeps nothing in memory (a load generator's long runs) and
 * only forwards events to `onEvent`.
 */
export class Recorder {
  readonly transcript: TraceEvent[] = [];
  readonly timings: Timing[] = [];
  readonly #onEvent: ((e: TraceEvent) => void) | undefined;
  readonly #keep: boolean;

  constructor(onEvent?: (e: TraceEvent) => void, opts: { keep?: boolean } = {}) {
    this.#onEvent = onEvent;
    this.#keep = opts.keep ?? true;
  }

  event(e: TraceEvent): void {
    if (this.#keep) this.transcript.push(e);
    this.#onEvent?.(e);
  }

  time(phase: string, ms: number): Timing {
    const t = { phase, ms };
    if (this.#keep) this.timings.push(t);
    return t;
  }
}

export class SmtpClient {
  readonly #conn: SmtpConnection;
  readonly #opts: ClientOptions;
  readonly #rec: Recorder;
  #caps: Capabilities = HELO_ONLY;
  #messages = 0;
  /** A transaction failed after MAIL was accepted: reset before the next one (RFC 5321 §4.1.1.5). */
  #needsReset = false;
  #tls: TlsInfo | null;
  readonly address: string;

  private constructor(conn: SmtpConnection, opts: ClientOptions, rec: Recorder, address: string, tls: TlsInfo | null) {
    this.#conn = conn;
    this.#opts = opts;
    this.#rec = rec;
    this.address = address;
    this.#tls = tls;
  }

  /** What the server offered in its (last) EHLO reply; HELO_ONLY after a HELO fallback or in simplified mode. */
  get capabilities(): Capabilities {
    return this.#caps;
  }

  get tls(): TlsInfo | null {
    return this.#tls;
  }

  get recorder(): Recorder {
    return this.#rec;
  }

  /** False once the connection failed or was closed. */
  get usable(): boolean {
    return !this.#conn.closed;
  }

  /** Connects and gets the session ready for send(): greeting, EHLO/HELO, STARTTLS, AUTH (standard mode). */
  static async open(opts: ClientOptions, rec: Recorder = new Recorder()): Promise<SmtpClient> {
    const where = hostPort(opts.host, opts.port);
    const tlsOptions = opts.tlsOptions ?? {};
    rec.event({ type: 'info', text: `connecting to ${where}` });
    const c = await SmtpConnection.connect({
      host: opts.host,
      port: opts.port,
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.tls === 'implicit' ? { tls: tlsOptions } : {}),
      ...(opts.lookup === undefined ? {} : { lookup: opts.lookup }),
      ...(opts.onWrite === undefined ? {} : { onWrite: opts.onWrite }),
    });
    if (c.timings.dnsMs !== null) {
      rec.time('dns', c.timings.dnsMs);
      rec.event({ type: 'info', text: `${opts.host} is ${c.address}` });
    }
    rec.time('connect', c.timings.connectMs);
    rec.event({ type: 'info', text: `connected to ${hostPort(c.address, opts.port)}` });
    if (c.tls) {
      rec.time('tls', c.tls.ms);
      rec.event({ type: 'info', text: describeTls(c.tls, tlsOptions) });
    }
    rec.event({ type: 'received', reply: c.greeting.reply, rttMs: c.timings.greetingMs });
    rec.time('greeting', c.timings.greetingMs);
    const client = new SmtpClient(c.connection, opts, rec, c.address, c.tls);
    try {
      if (c.greeting.reply.code !== 220) throw new SmtpReplyError('(greeting)', c.greeting.reply);
      if ((opts.mode ?? 'standard') === 'standard') await client.#setUp();
      else if (opts.tls !== undefined && opts.tls !== 'none') throw new MailwireError('ERR_USAGE', 'the simplified mode has no TLS');
      return client;
    } catch (e) {
      await client.#end(e);
      throw e;
    }
  }

  /** One mail transaction; may be called again for the next message over the same connection. */
  async send(mail: Mail): Promise<MailResult> {
    const started = performance.now();
    // RFC 5321 §2.3.8: no bare CR or LF on the wire; latin1 keeps every octet as it is.
    const message = mail.raw instanceof PreparedMessage ? mail.raw : PreparedMessage.from(mail.raw);
    const timings: Timing[] = [];
    let steps: readonly (readonly WireStep[])[];
    if ((this.#opts.mode ?? 'standard') === 'simplified') {
      const simplified = this.#simplifiedPlan(mail);
      steps = simplified.steps;
      timings.push(await this.#expect(simplified.helo, 'HELO', [250]));
    } else {
      if (this.#needsReset && this.#caps.esmtp) timings.push(await this.#expect('RSET', 'RSET', [250]));
      else if (this.#needsReset || (!this.#caps.esmtp && this.#messages > 0)) {
        // A HELO-only server (our simplified dialect among them) wants HELO again before the next message; RFC 5321
        // §4.1.4 allows it anywhere, where it also resets the transaction.
        timings.push(await this.#expect(`HELO ${this.#name}`, 'HELO', [250]));
      }
      const plan = planTransaction({
        caps: this.#caps,
        from: mail.from,
        to: mail.to,
        message: message.facts,
        pipelining: this.#opts.pipelining ?? 'auto',
        chunking: this.#opts.chunking ?? false,
        ...(this.#opts.chunkSize === undefined ? {} : { chunkSize: this.#opts.chunkSize }),
      });
      if (!plan.ok) throw new SmtpCapabilityError(plan.code, plan.message);
      steps = plan.plan.batches;
    }

    this.#needsReset = true;
    const counts = new Map<string, number>();
    let last: Reply | null = null;
    for (const batch of steps) {
      const items = batch.map((step) => wireItem(step, message));
      for (const item of items) this.#rec.event({ type: 'sent', text: item.shown });
      const exchanges = await this.#conn.batch(items);
      let failed: { step: WireStep; reply: Reply; label: string } | null = null;
      let inData = false;
      for (const [i, ex] of exchanges.entries()) {
        const step = batch[i] as WireStep;
        this.#rec.event({ type: 'received', reply: ex.reply, rttMs: ex.rttMs });
        const n = (counts.get(step.stage) ?? 0) + 1;
        counts.set(step.stage, n);
        timings.push(this.#rec.time(n === 1 ? step.stage : `${step.stage} ${n}`, ex.rttMs));
        if (step.stage === 'DATA' && ex.reply.code === 354) inData = true;
        if (failed === null && !step.expect.includes(ex.reply.code)) failed = { step, reply: ex.reply, label: items[i]?.label ?? step.stage };
        last = ex.reply;
      }
      if (failed !== null) {
        // A pipelined DATA already got its 354 although MAIL or a RCPT failed: the only way out of the data phase
        // without sending a message is to drop the connection (the server discards what it has, §4.1.1.4).
        if (inData) this.#conn.destroy();
        throw new SmtpReplyError(failed.label, failed.reply);
      }
    }
    this.#needsReset = false;
    this.#messages++;
    return { timings, reply: last ?? { code: 0, lines: [''] }, ms: performance.now() - started };
  }

  /** QUIT and close; never throws (the message is already accepted or already failed). */
  async quit(): Promise<void> {
    if (this.#conn.closed) return;
    try {
      this.#rec.event({ type: 'sent', text: 'QUIT' });
      const ex = await this.#conn.command('QUIT');
      this.#rec.event({ type: 'received', reply: ex.reply, rttMs: ex.rttMs });
      this.#rec.time('QUIT', ex.rttMs);
    } catch {
      // the server may close before or instead of answering 221
    } finally {
      this.#conn.close();
    }
  }

  /** Drops the connection without QUIT. */
  destroy(): void {
    this.#conn.destroy();
  }

  get #name(): string {
    return this.#opts.clientName ?? DEFAULT_CLIENT_NAME;
  }

  async #setUp(): Promise<void> {
    await this.#hello('');
    if (this.#opts.tls === 'starttls') {
      if (!this.#caps.starttls) throw new SmtpTlsError('ERR_STARTTLS_UNAVAILABLE', 'STARTTLS was asked for and the server does not offer it');
      await this.#expect('STARTTLS', 'STARTTLS', [220]);
      const tlsOptions = this.#opts.tlsOptions ?? {};
      this.#tls = await this.#conn.startTls(this.#opts.host, tlsOptions);
      this.#rec.time('tls', this.#tls.ms);
      this.#rec.event({ type: 'info', text: describeTls(this.#tls, tlsOptions) });
      // RFC 3207 §4.2: forget what was learned before TLS and ask again.
      this.#caps = HELO_ONLY;
      await this.#hello(' (TLS)');
    }
    const auth = this.#opts.auth;
    if (auth !== undefined) {
      const mechanism = chooseAuth(this.#caps.auth, auth.mechanism);
      if (mechanism === null) {
        const offered = this.#caps.auth.length === 0 ? 'no AUTH' : `AUTH ${this.#caps.auth.join(' ')}`;
        throw new SmtpCapabilityError('ERR_AUTH_UNAVAILABLE', `AUTH ${auth.mechanism ?? 'PLAIN or LOGIN'} was asked for and the server offers ${offered}`);
      }
      for (const [i, x] of authExchanges(mechanism, auth.user, auth.pass).entries()) {
        await this.#expect(x.line, i === 0 ? 'AUTH' : `AUTH ${i + 1}`, [x.expect], x.shown, i === 0 ? x.shown : `AUTH ${mechanism} ${x.shown}`);
      }
    }
  }

  /** EHLO, and HELO when the server refuses EHLO (RFC 5321 §3.2). */
  async #hello(suffix: string): Promise<void> {
    const line = `EHLO ${this.#name}`;
    const ehlo = await this.#command(line, `EHLO${suffix}`, line);
    if (ehlo.code === 250) {
      this.#caps = parseEhloReply(ehlo);
      return;
    }
    if (!ehloRefused(ehlo)) throw new SmtpReplyError(line, ehlo);
    this.#rec.event({ type: 'info', text: 'EHLO refused: falling back to HELO, without extensions' });
    await this.#expect(`HELO ${this.#name}`, `HELO${suffix}`, [250]);
    this.#caps = HELO_ONLY;
  }

  async #command(line: string, phase: string, shown: string): Promise<Reply> {
    this.#rec.event({ type: 'sent', text: shown });
    const ex = await this.#conn.command(line, shown);
    this.#rec.event({ type: 'received', reply: ex.reply, rttMs: ex.rttMs });
    this.#rec.time(phase, ex.rttMs);
    return ex.reply;
  }

  async #expect(line: string, phase: string, codes: readonly number[], shown = line, errorLabel = shown): Promise<Timing> {
    this.#rec.event({ type: 'sent', text: shown });
    const ex = await this.#conn.command(line, shown);
    this.#rec.event({ type: 'received', reply: ex.reply, rttMs: ex.rttMs });
    const t = this.#rec.time(phase, ex.rttMs);
    if (!codes.includes(ex.reply.code)) throw new SmtpReplyError(errorLabel, ex.reply);
    return t;
  }

  /** The simplified dialect's steps after its HELO, each in its own batch (the dialect has no PIPELINING). */
  #simplifiedPlan(mail: Mail): { helo: string; steps: WireStep[][] } {
    const [to, ...more] = mail.to;
    if (to === undefined || more.length > 0) throw new MailwireError('ERR_ONE_RECIPIENT', 'the simplified dialect takes exactly one recipient per message');
    for (const a of [mail.from, to]) {
      if (/[\r\n<>]/.test(a)) throw new SmtpCapabilityError('ERR_BAD_ADDRESS', `the address ${JSON.stringify(a)} holds a line break or an angle bracket`);
    }
    const [helo, ...rest] = simplifiedTransaction(mail.from, to);
    const steps: WireStep[] = [];
    for (const s of rest) {
      if (s.kind === 'message') steps.push({ stage: 'message', expect: [s.expect] });
      else steps.push({ stage: s.label === 'MAIL FROM' ? 'MAIL' : s.label === 'RCPT TO' ? 'RCPT' : 'DATA', line: s.line, expect: [s.expect] });
    }
    return { helo: helo?.kind === 'command' ? helo.line : 'HELO', steps: steps.map((s) => [s]) };
  }

  async #end(error: unknown): Promise<void> {
    // After a refusal the server is still talking to us: say QUIT. After a connection or TLS failure, just drop.
    if (error instanceof SmtpReplyError || error instanceof SmtpCapabilityError || (error instanceof MailwireError && error.code === 'ERR_USAGE')) await this.quit();
    else this.destroy();
  }

  /** Ends the session after a failed send(): QUIT when the server still listens, else drop. */
  async endAfter(error: unknown): Promise<void> {
    await this.#end(error);
  }
}

function wireItem(step: WireStep, message: PreparedMessage): { label: string; shown: string; bytes: Buffer } {
  const raw = message.raw;
  switch (step.stage) {
    case 'MAIL':
    case 'RCPT':
    case 'DATA':
      return { label: step.line, shown: step.line, bytes: Buffer.from(`${step.line}\r\n`, 'utf8') };
    case 'message': {
      const bytes = message.dataSection;
      return { label: '(message)', shown: `[message: ${raw.length} octets, ${bytes.length} on the wire with dot-stuffing and the final "."]`, bytes };
    }
    case 'BDAT':
      return {
        label: step.line,
        shown: `${step.line} [+ ${step.length} octets of message]`,
        bytes: Buffer.concat([Buffer.from(`${step.line}\r\n`, 'latin1'), raw.subarray(step.offset, step.offset + step.length)]),
      };
    default:
      return step satisfies never;
  }
}

function describeTls(info: TlsInfo, opts: TlsOptions): string {
  const verified = opts.insecure === true ? (info.authorized ? 'certificate valid (not required: --tls-insecure)' : 'certificate NOT verified (--tls-insecure)') : 'certificate verified';
  return `TLS ${info.protocol ?? '?'} ${info.cipher}${info.servername === null ? '' : `, SNI ${info.servername}`}, ${verified}`;
}

/** What one whole session (connect … QUIT) produced; never throws for SMTP, network or TLS failures. */
export type SessionOutcome = Readonly<{
  transcript: readonly TraceEvent[];
  /** Every phase in order, then nothing else: the total is `totalMs`. */
  timings: readonly Timing[];
  totalMs: number;
}> &
  ({ ok: true; reply: Reply } | { ok: false; error: Error });

/** Connects, sends one message, says QUIT: the `mailwire send` unit of work. */
export async function sendOnce(opts: ClientOptions, mail: Mail, onEvent?: (e: TraceEvent) => void): Promise<SessionOutcome> {
  const rec = new Recorder(onEvent);
  const started = performance.now();
  let client: SmtpClient | null = null;
  try {
    client = await SmtpClient.open(opts, rec);
    const result = await client.send(mail);
    await client.quit();
    return { ok: true, reply: result.reply, transcript: rec.transcript, timings: rec.timings, totalMs: performance.now() - started };
  } catch (e) {
    if (client !== null) await client.endAfter(e);
    const error = e instanceof Error ? e : new Error(String(e));
    return { ok: false, error, transcript: rec.transcript, timings: rec.timings, totalMs: performance.now() - started };
  }
}

export type RelayOptions = Readonly<{
  /** "host[:port]" (port 25 by default) or an address. */
  server: string | ServerAddress;
  tls?: TlsMode;
  tlsOptions?: TlsOptions;
  auth?: AuthOptions;
  from: string;
  to: readonly string[];
  /** The message as stored: sent as it is (line ends made CRLF). */
  raw: Buffer | string;
  clientName?: string;
  timeoutMs?: number;
}>;

/** Relays a stored message to another server in the standard mode (for the HTTP API's release). */
export function relayMessage(opts: RelayOptions, onEvent?: (e: TraceEvent) => void): Promise<SessionOutcome> {
  const server = typeof opts.server === 'string' ? parseServerAddress(opts.server, 25) : opts.server;
  return sendOnce(
    {
      host: server.host,
      port: server.port,
      mode: 'standard',
      tls: opts.tls ?? 'none',
      ...(opts.tlsOptions === undefined ? {} : { tlsOptions: opts.tlsOptions }),
      ...(opts.auth === undefined ? {} : { auth: opts.auth }),
      ...(opts.clientName === undefined ? {} : { clientName: opts.clientName }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    },
    { from: opts.from, to: opts.to, raw: opts.raw },
    onEvent,
  );
}

/** Where a session failed, for exit codes and load reports. */
export type FailureKind = 'usage' | 'connection' | 'tls' | 'auth' | 'mail' | 'rcpt' | 'data' | 'refused' | 'unknown';

export function classifyFailure(e: unknown): FailureKind {
  if (e instanceof SmtpTlsError) return 'tls';
  if (e instanceof SmtpConnectionError) return 'connection';
  if (e instanceof SmtpReplyError) {
    switch ((e.command.split(' ')[0] ?? '').toUpperCase()) {
      case 'STARTTLS': return 'tls';
      case 'AUTH': return 'auth';
      case 'MAIL': return 'mail';
      case 'RCPT': return 'rcpt';
      case 'DATA':
      case 'BDAT':
      case '(MESSAGE)': return 'data';
      default: return 'refused'; // the greeting, EHLO/HELO or RSET
    }
  }
  if (e instanceof SmtpCapabilityError) return e.code === 'ERR_AUTH_UNAVAILABLE' ? 'auth' : e.code === 'ERR_BAD_ADDRESS' || e.code === 'ERR_NO_RECIPIENT' ? 'usage' : 'refused';
  if (e instanceof MailwireError && (e.code === 'ERR_USAGE' || e.code === 'ERR_ONE_RECIPIENT')) return 'usage';
  return 'unknown';
}
