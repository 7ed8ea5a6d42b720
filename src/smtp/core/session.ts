/**
 * The server session core: step(phase, input, cfg, ctx) → { phase, actions, ctx? }. No sockets, timers, clocks or
 * console here; the shell feeds lines and events in and carries the actions out. The dialect decides what commands
 * mean; this file owns what is the same in every dialect: message text (dot-unstuffing, the end-of-data rule, the size
 * limit), BDAT octets, waiting for the store, the TLS restart, timeouts, shutdown and end of input.
 */
import { assertNever } from '../../assert-never.js';
import { commandOf, type Command } from './command.js';
import type { Line, LineEnding, OverlongMode } from './line-splitter.js';
import type { Reply } from './reply.js';
import {
  INITIAL_CONTEXT,
  type Action, type DialectPhase, type Envelope, type Input, type Phase, type SessionConfig, type SessionContext, type Step,
} from './types.js';

/** Our own bug, never the client's: an input the session cannot take in its phase. */
export class SessionMisuseError extends Error {
  override name = 'SessionMisuseError' as const;
}

type DataPhase = Extract<Phase, { kind: 'in-data' }>;
type ChunkPhase = Extract<Phase, { kind: 'in-chunk' }>;
type SkipPhase = Extract<Phase, { kind: 'skip-chunk' }>;
export type LineRule = Readonly<{ maxBytes: number; mode: OverlongMode }>;

export function step(p: Phase, input: Input, cfg: SessionConfig, ctx: SessionContext = INITIAL_CONTEXT): Step {
  switch (p.kind) {
    case 'closed':
      return { phase: p, actions: [] }; // late bytes or store results for a session already gone
    case 'storing':
      return afterStore(p, input, cfg, ctx);
    case 'in-data':
      return input.type === 'line' ? dataLine(p, input.line, cfg, ctx) : interrupt(p, input, cfg);
    case 'in-chunk':
    case 'skip-chunk':
      return input.type === 'octets' ? chunkOctets(p, input.bytes, cfg, ctx) : interrupt(p, input, cfg);
    case 'verifying':
      if (input.type === 'verified' || input.type === 'login-refused') {
        if (cfg.dialect.verified === undefined) throw new SessionMisuseError(`the ${cfg.dialect.name} dialect cannot take '${input.type}'`);
        return cfg.dialect.verified(p, input.type === 'verified' ? input.ok : input.refusal, cfg, ctx);
      }
      return interrupt(p, input, cfg);
    case 'starting-tls':
      if (input.type === 'tls-ready') {
        // RFC 3207 §4.2: forget everything learnt before TLS (the hello, any AUTH); the client starts with EHLO.
        return { phase: { kind: 'await-helo' }, actions: [], ctx: { ...ctx, tls: true, esmtp: false, authUser: null } };
      }
      return interrupt(p, input, cfg);
    case 'auth':
      if (input.type !== 'line') return interrupt(p, input, cfg);
      if (cfg.dialect.authAnswer === undefined) throw new SessionMisuseError(`the ${cfg.dialect.name} dialect cannot be in phase 'auth'`);
      return cfg.dialect.authAnswer(p, input.line, cfg, ctx);
    default:
      return input.type === 'line' ? cfg.dialect.command(p, commandOf(input.line), cfg, ctx) : interrupt(p, input, cfg);
  }
}

/**
 * What a line would do, and the typed Command it was read as (null when it is no command: message text, an AUTH
 * answer, or a phase that takes none). Parsed once: fault injection matches on the same Command the dialect acted on.
 */
export function considerLine(p: Phase, line: Line, cfg: SessionConfig, ctx: SessionContext): Readonly<{ step: Step; command: Command | null }> {
  switch (p.kind) {
    case 'await-helo':
    case 'await-mail':
    case 'await-rcpt':
    case 'await-data':
    case 'chunking': {
      const command = commandOf(line);
      return { step: cfg.dialect.command(p, command, cfg, ctx), command };
    }
    default:
      return { step: step(p, { type: 'line', line }, cfg, ctx), command: null };
  }
}

/** The phase a DATA command (or its equivalent) leads to. */
export const startData = (env: DataPhase['env']): DataPhase => ({
  kind: 'in-data', env, bytes: 0, overflow: false, prevEnding: 'crlf',
});

const deliver = (env: Envelope, cfg: SessionConfig, ctx: SessionContext): Step => {
  const trace = cfg.dialect.trace?.(env, cfg, ctx);
  return { phase: { kind: 'storing', env }, actions: [{ type: 'deliver', env, ...(trace ? { trace } : {}) }] };
};

const ENDING_BYTES: Record<LineEnding, string> = { crlf: '\r\n', lf: '\n', none: '' };

function dataLine(p: DataPhase, line: Line, cfg: SessionConfig, ctx: SessionContext): Step {
  const atLineStart = p.prevEnding !== 'none';
  // RFC 5321 §4.1.1.4: only CRLF "." CRLF ends the message. A "." after a bare LF, or ended by a bare LF, is text:
  // reading it as the end is how SMTP smuggling slips a second message past a filter.
  if (atLineStart && p.prevEnding === 'crlf' && line.ending === 'crlf' && line.text === '.') {
    const next = cfg.dialect.afterMessage(p.env);
    if (p.overflow) return { phase: next, actions: [{ type: 'reply', reply: cfg.dialect.replies.tooBig }] };
    return deliver(p.env, cfg, ctx);
  }
  // §4.5.2: a line's leading dot was doubled by the sender; take one away.
  const text = atLineStart && line.text.length > 1 && line.text.charCodeAt(0) === 0x2e ? line.text.slice(1) : line.text;
  const bytes = text + ENDING_BYTES[line.ending];
  const total = p.bytes + bytes.length;
  const overflow = p.overflow || total > cfg.limits.maxMessageBytes;
  // Past the limit, keep reading to the end (so the client hears 552, not a cut connection) but keep nothing.
  const actions: Action[] = overflow ? (p.overflow ? [] : [{ type: 'discard' }]) : [{ type: 'data', bytes }];
  return { phase: { ...p, bytes: total, overflow, prevEnding: line.ending }, actions };
}

/**
 * BDAT (RFC 3030): the dialect calls this for a well-formed "BDAT size [LAST]" in a transaction. The chunk is octets,
 * not lines: no dot-stuffing, no end-of-data rule, and the size limit counts what was announced as it arrives.
 */
export function startChunk(
  txn: Readonly<{ env: Envelope; bytes: number; overflow: boolean }>, size: number, last: boolean, cfg: SessionConfig, ctx: SessionContext,
): Step {
  const p: ChunkPhase = { kind: 'in-chunk', env: txn.env, bytes: txn.bytes, overflow: txn.overflow, size, remaining: size, last };
  return size === 0 ? endOfChunk(p, [], cfg, ctx) : { phase: p, actions: [] };
}

/** A BDAT the dialect refused: its octets are read and dropped, then the refusal is sent (they are never commands). */
export function skipChunk(size: number, refusal: Reply, resume: DialectPhase): Step {
  if (size === 0) return { phase: resume, actions: [{ type: 'reply', reply: refusal }] };
  return { phase: { kind: 'skip-chunk', remaining: size, refusal, resume }, actions: [] };
}

function chunkOctets(p: ChunkPhase | SkipPhase, bytes: string, cfg: SessionConfig, ctx: SessionContext): Step {
  if (bytes.length === 0 || bytes.length > p.remaining) {
    throw new SessionMisuseError(`${bytes.length} octets fed where ${p.remaining} were wanted`);
  }
  const remaining = p.remaining - bytes.length;
  if (p.kind === 'skip-chunk') {
    if (remaining > 0) return { phase: { ...p, remaining }, actions: [] };
    return { phase: p.resume, actions: [{ type: 'reply', reply: p.refusal }] };
  }
  const total = p.bytes + bytes.length;
  const overflow = p.overflow || total > cfg.limits.maxMessageBytes;
  const actions: Action[] = overflow ? (p.overflow ? [] : [{ type: 'discard' }]) : [{ type: 'data', bytes }];
  const next: ChunkPhase = { ...p, bytes: total, overflow, remaining };
  return remaining > 0 ? { phase: next, actions } : endOfChunk(next, actions, cfg, ctx);
}

function endOfChunk(p: ChunkPhase, actions: Action[], cfg: SessionConfig, ctx: SessionContext): Step {
  if (p.overflow) {
    // The transaction is over (RFC 3030 §3: a failed chunk fails the message); later BDATs get 503 after their octets.
    return { phase: cfg.dialect.afterMessage(p.env), actions: [...actions, { type: 'reply', reply: cfg.dialect.replies.tooBig }] };
  }
  if (p.last) {
    const d = deliver(p.env, cfg, ctx);
    return { ...d, actions: [...actions, ...d.actions] };
  }
  const ack = cfg.dialect.replies.chunk?.(p.size) ?? { code: 250, lines: [`${p.size} octets received`] };
  return { phase: { kind: 'chunking', env: p.env, bytes: p.bytes, overflow: false }, actions: [...actions, { type: 'reply', reply: ack }] };
}

function afterStore(p: Extract<Phase, { kind: 'storing' }>, input: Input, cfg: SessionConfig, ctx: SessionContext): Step {
  const next = cfg.dialect.afterMessage(p.env);
  const { stored, storeFailed, storeFull } = cfg.dialect.replies;
  switch (input.type) {
    case 'stored': { // a message received forgives the commands that moved no mail before it (as Postfix does)
      const actions: Action[] = [{ type: 'reply', reply: typeof stored === 'function' ? stored(input.id) : stored }];
      return ctx.junk === 0 ? { phase: next, actions } : { phase: next, actions, ctx: { ...ctx, junk: 0 } };
    }
    case 'store-failed':
      return { phase: next, actions: [{ type: 'reply', reply: input.full === true ? storeFull : storeFailed }] };
    case 'eof': // the store finishes on its own; there is nobody left to answer
      return { phase: { kind: 'closed' }, actions: [{ type: 'close' }] };
    case 'timeout':
    case 'shutdown':
      return { phase: p, actions: [] }; // the store is bounded by its own deadline; answer when it is done
    case 'line':
    case 'octets':
      throw new SessionMisuseError('input was fed while the message was being stored; the shell must wait');
    case 'tls-ready':
    case 'verified':
    case 'login-refused':
      throw new SessionMisuseError(`'${input.type}' fed in phase '${p.kind}'`);
    default:
      return assertNever(input);
  }
}

/** Phases where a message is in progress, so that an interruption drops what was streamed. */
const HOLDS_MESSAGE: ReadonlySet<Phase['kind']> = new Set(['in-data', 'in-chunk', 'chunking']);

function interrupt(p: Exclude<Phase, { kind: 'closed' | 'storing' }>, input: Input, cfg: SessionConfig): Step {
  const discard: Action[] = HOLDS_MESSAGE.has(p.kind) ? [{ type: 'discard' }] : [];
  const closed: Phase = { kind: 'closed' };
  switch (input.type) {
    case 'eof':
      return { phase: closed, actions: [...discard, { type: 'close' }] };
    case 'timeout': {
      // Mid-handshake there is no channel to speak on (the client is sending TLS records): just close.
      if (p.kind === 'starting-tls') return { phase: closed, actions: [{ type: 'close' }] };
      const said = input.limit === 'session' ? cfg.dialect.replies.lifetime(cfg) : cfg.dialect.replies.timeout(cfg);
      return { phase: closed, actions: [...discard, { type: 'reply', reply: said }, { type: 'close' }] };
    }
    case 'shutdown':
      // A message in progress may finish (the shell bounds how long); an idle session is told and closed.
      if (p.kind === 'in-data' || p.kind === 'in-chunk' || p.kind === 'skip-chunk') return { phase: p, actions: [] };
      if (p.kind === 'starting-tls') return { phase: closed, actions: [{ type: 'close' }] };
      return { phase: closed, actions: [...discard, { type: 'reply', reply: cfg.dialect.replies.shutdown(cfg) }, { type: 'close' }] };
    case 'line':
    case 'octets':
    case 'stored':
    case 'store-failed':
    case 'tls-ready':
    case 'verified':
    case 'login-refused':
      throw new SessionMisuseError(`'${input.type}' fed in phase '${p.kind}'`);
    default:
      return assertNever(input);
  }
}

/** A thin holder so the shell can say session.feed(...). */
export class SmtpSession {
  #phase: Phase = { kind: 'await-helo' };
  #ctx: SessionContext;
  readonly #cfg: SessionConfig;
  readonly #commandRule: LineRule;
  readonly #dataRule: LineRule;

  /** `ctx.tls` is true for implicit TLS (the socket was encrypted before the greeting). */
  constructor(cfg: SessionConfig, ctx: Partial<SessionContext> = {}) {
    this.#cfg = cfg;
    this.#ctx = { ...INITIAL_CONTEXT, ...ctx };
    // maxCommandBytes counts the CRLF (§4.5.3.1.4); the splitter counts the text alone.
    this.#commandRule = { maxBytes: cfg.limits.maxCommandBytes - 2, mode: 'truncate' };
    this.#dataRule = { maxBytes: cfg.limits.maxLineBytes, mode: 'split' };
  }

  get phase(): Phase {
    return this.#phase;
  }

  get context(): SessionContext {
    return this.#ctx;
  }

  greet(): Action[] {
    return [{ type: 'reply', reply: this.#cfg.dialect.greeting(this.#cfg) }];
  }

  feed(input: Input): Action[] {
    return this.commit(this.consider(input));
  }

  /** What the input would do, without doing it (the state is unchanged until `commit`): fault injection looks first. */
  consider(input: Input): Step {
    return step(this.#phase, input, this.#cfg, this.#ctx);
  }

  /** What a line would do, with the Command it was read as (see considerLine); the state is unchanged until `commit`. */
  considerLine(line: Line): Readonly<{ step: Step; command: Command | null }> {
    return considerLine(this.#phase, line, this.#cfg, this.#ctx);
  }

  /** Takes a step: the one `consider` returned, or another the shell chose in its place (see faults/session-faults). */
  commit(r: Step): Action[] {
    this.#phase = r.phase;
    if (r.ctx) this.#ctx = r.ctx;
    return r.actions;
  }

  /** The line limit and over-long policy for the next line, which depend on the phase. */
  get lineRule(): LineRule {
    return this.#phase.kind === 'in-data' ? this.#dataRule : this.#commandRule;
  }

  /** Octets the session wants raw (inside a BDAT chunk) before the next line; 0 when it reads lines. */
  get octetsWanted(): number {
    return this.#phase.kind === 'in-chunk' || this.#phase.kind === 'skip-chunk' ? this.#phase.remaining : 0;
  }

  /** A message is in progress (DATA text, BDAT chunks, or a refused chunk's octets): the shell bounds it by dataTimeoutMs. */
  get inMessage(): boolean {
    const kind = this.#phase.kind;
    return kind === 'in-data' || kind === 'in-chunk' || kind === 'chunking' || kind === 'skip-chunk';
  }

  /** The next line is a secret (a SASL answer): show and record it redacted. */
  get secretInput(): boolean {
    return this.#phase.kind === 'auth';
  }
}
