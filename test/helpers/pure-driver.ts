/**
 * Drives the pure session the way the server shell does (LineSplitter → session → actions), with no sockets, and
 * with a store that answers at once. Bytes can be fed whole or split at any offset: the replies must not change.
 */
import { LineSplitter } from '../../src/protocol/line-splitter.js';
import { resolveLimits, type Limits } from '../../src/protocol/limits.js';
import { formatReply } from '../../src/protocol/reply.js';
import { SmtpSession } from '../../src/protocol/session.js';
import type { Dialect, Envelope, Phase } from '../../src/protocol/types.js';
import { checkReplies, clientBytes, type Names, type TranscriptStep } from './transcript.js';

export const PURE_NAMES: Names = { server: '192.0.2.1', client: '198.51.100.7' };

export type Delivered = { env: Envelope; raw: string };
export type PureRun = { replies: string[]; delivered: Delivered[]; closed: boolean; phase: Phase };

/** Feeds `bytes` in chunks of `chunkSize` (Infinity: all at once) and returns every reply line and every message. */
export function runPure(dialect: Dialect, bytes: string, opts: { chunkSize?: number; limits?: Partial<Limits>; storeFails?: boolean } = {}): PureRun {
  const session = new SmtpSession({ dialect, serverName: PURE_NAMES.server, clientAddress: PURE_NAMES.client, limits: resolveLimits(opts.limits) });
  const splitter = new LineSplitter();
  const wire: string[] = [];
  const delivered: Delivered[] = [];
  let draft = '';
  let closed = false;

  const apply = (actions: ReturnType<SmtpSession['feed']>): void => {
    for (const a of actions) {
      switch (a.type) {
        case 'reply': wire.push(formatReply(a.reply)); break;
        case 'data': draft += a.bytes; break;
        case 'discard': draft = ''; break;
        case 'deliver':
          if (opts.storeFails === true) apply(session.feed({ type: 'store-failed', reason: 'test' }));
          else {
            delivered.push({ env: a.env, raw: draft });
            apply(session.feed({ type: 'stored', id: String(delivered.length) }));
          }
          draft = '';
          break;
        case 'close': closed = true; break;
      }
    }
  };

  apply(session.greet());
  const chunk = opts.chunkSize ?? Infinity;
  const buf = Buffer.from(bytes, 'latin1');
  for (let i = 0; i < buf.length && !closed; i += chunk === Infinity ? buf.length : chunk) {
    splitter.push(buf.subarray(i, chunk === Infinity ? buf.length : i + chunk));
    for (;;) {
      if (closed) break;
      const rule = session.lineRule;
      const line = splitter.next(rule.maxBytes, rule.mode);
      if (line === null) break;
      apply(session.feed({ type: 'line', line }));
    }
  }
  const replies = wire.join('').split('\r\n').slice(0, -1);
  return { replies, delivered, closed, phase: session.phase };
}

/** Runs a transcript against the pure session: whole, byte by byte, and in 7-byte chunks, which must all agree. */
export function pureTranscript(dialect: Dialect, steps: readonly TranscriptStep[], limits?: Partial<Limits>): PureRun {
  const bytes = clientBytes(steps);
  const whole = runPure(dialect, bytes, { ...(limits ? { limits } : {}) });
  checkReplies(steps, whole.replies, PURE_NAMES);
  for (const chunkSize of [1, 7]) {
    const split = runPure(dialect, bytes, { chunkSize, ...(limits ? { limits } : {}) });
    checkReplies(steps, split.replies, PURE_NAMES);
    if (JSON.stringify(split.delivered) !== JSON.stringify(whole.delivered)) {
      throw new Error(`fed in ${chunkSize}-byte chunks, the stored messages differ`);
    }
  }
  return whole;
}
