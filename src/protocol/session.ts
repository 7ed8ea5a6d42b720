/**
 * The server session core: step(phase, input, cfg) → { phase, actions }. No sockets, timers, clocks or console here;
 * the shell feeds lines and events in and carries the actions out. The dialect decides what commands mean; this file
 * owns what is the same in every dialect: message text (dot-unstuffing, the end-of-data rule, the size limit), waiting
 * for the store, timeouts, shutdown and end of input.
 */
import type { Line, LineEnding, OverlongMode } from './line-splitter.js';
import type { Action, Input, Phase, SessionConfig, Step } from './types.js';

/** Our own bug, never the client's: an input the session cannot take in its phase. */
export class SessionMisuseError extends Error {
  override name = 'SessionMisuseError' as const;
}

export function assertNever(x: never): never {
  throw new SessionMisuseError(`unexpected variant: ${JSON.stringify(x)}`);
}

type DataPhase = Extract<Phase, { kind: 'in-data' }>;
export type LineRule = Readonly<{ maxBytes: number; mode: OverlongMode }>;

export function step(p: Phase, input: Input, cfg: SessionConfig): Step {
  switch (p.kind) {
    case 'closed':
      return { phase: p, actions: [] }; // late bytes or store results for a session already gone
    case 'storing':
      return afterStore(p, input, cfg);
    case 'in-data':
      return input.type === 'line' ? dataLine(p, input.line, cfg) : interrupt(p, input, cfg);
    default:
      return input.type === 'line' ? cfg.dialect.command(p, input.line, cfg) : interrupt(p, input, cfg);
  }
}

/** The phase a DATA command (or its equivalent) leads to. */
export const startData = (env: DataPhase['env']): DataPhase => ({
  kind: 'in-data', env, bytes: 0, overflow: false, prevEnding: 'crlf',
});

const ENDING_BYTES: Record<LineEnding, string> = { crlf: '\r\n', lf: '\n', none: '' };

function dataLine(p: DataPhase, line: Line, cfg: SessionConfig): Step {
  const atLineStart = p.prevEnding !== 'none';
  // RFC 5321 §4.1.1.4: only CRLF "." CRLF ends the message. A "." after a bare LF, or ended by a bare LF, is text:
  // reading it as the end is how SMTP smuggling slips a second message past a filter.
  if (atLineStart && p.prevEnding === 'crlf' && line.ending === 'crlf' && line.text === '.') {
    const next = cfg.dialect.afterMessage(p.env);
    if (p.overflow) return { phase: next, actions: [{ type: 'reply', reply: cfg.dialect.replies.tooBig }] };
    return { phase: { kind: 'storing', env: p.env }, actions: [{ type: 'deliver', env: p.env }] };
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

function afterStore(p: Extract<Phase, { kind: 'storing' }>, input: Input, cfg: SessionConfig): Step {
  const next = cfg.dialect.afterMessage(p.env);
  switch (input.type) {
    case 'stored':
      return { phase: next, actions: [{ type: 'reply', reply: cfg.dialect.replies.stored }] };
    case 'store-failed':
      return { phase: next, actions: [{ type: 'reply', reply: cfg.dialect.replies.storeFailed }] };
    case 'eof': // the store finishes on its own; there is nobody left to answer
      return { phase: { kind: 'closed' }, actions: [{ type: 'close' }] };
    case 'timeout':
    case 'shutdown':
      return { phase: p, actions: [] }; // the store is bounded by its own deadline; answer when it is done
    case 'line':
      throw new SessionMisuseError('a line was fed while the message was being stored; the shell must wait');
    default:
      return assertNever(input);
  }
}

function interrupt(p: Exclude<Phase, { kind: 'closed' | 'storing' }>, input: Exclude<Input, { type: 'line' }>, cfg: SessionConfig): Step {
  const discard: Action[] = p.kind === 'in-data' ? [{ type: 'discard' }] : [];
  const closed: Phase = { kind: 'closed' };
  switch (input.type) {
    case 'eof':
      return { phase: closed, actions: [...discard, { type: 'close' }] };
    case 'timeout':
      return { phase: closed, actions: [...discard, { type: 'reply', reply: cfg.dialect.replies.timeout(cfg) }, { type: 'close' }] };
    case 'shutdown':
      // A message in progress may finish (the shell bounds how long); an idle session is told and closed.
      if (p.kind === 'in-data') return { phase: p, actions: [] };
      return { phase: closed, actions: [{ type: 'reply', reply: cfg.dialect.replies.shutdown(cfg) }, { type: 'close' }] };
    case 'stored':
    case 'store-failed':
      throw new SessionMisuseError(`'${input.type}' fed in phase '${p.kind}'`);
    default:
      return assertNever(input);
  }
}

/** A thin holder so the shell can say session.feed(...). */
export class SmtpSession {
  #phase: Phase = { kind: 'await-helo' };
  readonly #cfg: SessionConfig;
  readonly #commandRule: LineRule;
  readonly #dataRule: LineRule;

  constructor(cfg: SessionConfig) {
    this.#cfg = cfg;
    // maxCommandBytes counts the CRLF (§4.5.3.1.4); the splitter counts the text alone.
    this.#commandRule = { maxBytes: cfg.limits.maxCommandBytes - 2, mode: 'truncate' };
    this.#dataRule = { maxBytes: cfg.limits.maxLineBytes, mode: 'split' };
  }

  get phase(): Phase {
    return this.#phase;
  }

  greet(): Action[] {
    return [{ type: 'reply', reply: this.#cfg.dialect.greeting(this.#cfg) }];
  }

  feed(input: Input): Action[] {
    const r = step(this.#phase, input, this.#cfg);
    this.#phase = r.phase;
    return r.actions;
  }

  /** The line limit and over-long policy for the next line, which depend on the phase. */
  get lineRule(): LineRule {
    return this.#phase.kind === 'in-data' ? this.#dataRule : this.#commandRule;
  }
}
