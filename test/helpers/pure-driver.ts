/**
 * Drives the pure session the way the server shell does (LineSplitter → session → actions), with no sockets, and
 * with a store that answers at once. Bytes can be fed whole or split at any offset: the replies must not change.
 * STARTTLS is played as the shell plays it: on 'starttls' the bytes buffered and the rest of the packet being read are
 * dropped, and the handshake "completes" at once ('tls-ready'); the next packet is what came over TLS.
 */
import { LineSplitter } from '../../src/smtp/core/line-splitter.js';
import { resolveLimits, type Limits } from '../../src/smtp/core/limits.js';
import { formatReply } from '../../src/smtp/core/reply.js';
import { SmtpSession } from '../../src/smtp/core/session.js';
import type { Authenticator, Dialect, Envelope, Phase, SessionContext, Trace } from '../../src/smtp/core/types.js';
import { checkReplies, clientBytes, type Names, type TranscriptStep } from './transcript.js';

export const PURE_NAMES: Names = { server: '192.0.2.1', client: '198.51.100.7' };

export type Delivered = { env: Envelope; raw: string; trace?: Trace };
export type PureRun = { replies: string[]; delivered: Delivered[]; closed: boolean; phase: Phase; ctx: SessionContext; tlsStarts: number };
export type PureOptions = {
  chunkSize?: number;
  limits?: Partial<Limits>;
  storeFails?: boolean;
  /** The shell can do STARTTLS. */
  starttls?: boolean;
  auth?: Authenticator;
  /** Implicit TLS: the session starts encrypted. */
  tls?: boolean;
};

/**
 * Feeds `bytes` (one packet, or several in order) in chunks of `chunkSize` (Infinity: each packet at once) and
 * returns every reply line and every message.
 */
export function runPure(dialect: Dialect, bytes: string | readonly string[], opts: PureOptions = {}): PureRun {
  const session = new SmtpSession(
    {
      dialect, serverName: PURE_NAMES.server, clientAddress: PURE_NAMES.client, limits: resolveLimits(opts.limits),
      ...(opts.starttls === true ? { starttls: true } : {}), ...(opts.auth ? { auth: opts.auth } : {}),
    },
    { tls: opts.tls === true },
  );
  let splitter = new LineSplitter();
  const wire: string[] = [];
  const delivered: Delivered[] = [];
  let draft = '';
  let closed = false;
  let dropRest = false;
  let tlsStarts = 0;

  const apply = (actions: ReturnType<SmtpSession['feed']>): void => {
    for (const a of actions) {
      switch (a.type) {
        case 'reply': wire.push(formatReply(a.reply)); break;
        case 'data': draft += a.bytes; break;
        case 'discard': draft = ''; break;
        case 'deliver':
          if (opts.storeFails === true) apply(session.feed({ type: 'store-failed', reason: 'test' }));
          else {
            delivered.push({ env: a.env, raw: draft, ...(a.trace ? { trace: a.trace } : {}) });
            apply(session.feed({ type: 'stored', id: String(delivered.length) }));
          }
          draft = '';
          break;
        case 'starttls':
          tlsStarts++;
          splitter = new LineSplitter();
          dropRest = true;
          apply(session.feed({ type: 'tls-ready' }));
          break;
        case 'verify': {
          const ok = opts.auth?.verify(a.user, a.password, '127.0.0.1') ?? false;
          if (typeof ok !== 'boolean') throw new Error('the pure driver answers at once: give it a synchronous verifier');
          apply(session.feed({ type: 'verified', ok }));
          break;
        }
        case 'close': closed = true; break;
      }
    }
  };

  apply(session.greet());
  const chunk = opts.chunkSize ?? Infinity;
  for (const packet of typeof bytes === 'string' ? [bytes] : bytes) {
    dropRest = false;
    const buf = Buffer.from(packet, 'latin1');
    for (let i = 0; i < buf.length && !closed && !dropRest; i += chunk === Infinity ? buf.length : chunk) {
      splitter.push(buf.subarray(i, chunk === Infinity ? buf.length : i + chunk));
      for (let guard = 0; guard < 1_000_000; guard++) {
        if (closed || dropRest) break;
        const wanted = session.octetsWanted;
        if (wanted > 0) {
          const octets = splitter.take(wanted);
          if (octets === null) break;
          apply(session.feed({ type: 'octets', bytes: octets }));
          continue;
        }
        const rule = session.lineRule;
        const line = rule.mode === 'split' ? splitter.nextText(rule.maxBytes) : splitter.next(rule.maxBytes, rule.mode);
        if (line === null) break;
        apply(session.feed({ type: 'line', line }));
      }
    }
  }
  const replies = wire.join('').split('\r\n').slice(0, -1);
  return { replies, delivered, closed, phase: session.phase, ctx: session.context, tlsStarts };
}

/** Runs a transcript against the pure session: whole, byte by byte, and in 7-byte chunks, which must all agree. */
export function pureTranscript(dialect: Dialect, steps: readonly TranscriptStep[], limits?: Partial<Limits>, opts: Omit<PureOptions, 'chunkSize' | 'limits'> = {}): PureRun {
  const bytes = clientBytes(steps);
  const whole = runPure(dialect, bytes, { ...opts, ...(limits ? { limits } : {}) });
  checkReplies(steps, whole.replies, PURE_NAMES);
  for (const chunkSize of [1, 7]) {
    const split = runPure(dialect, bytes, { ...opts, chunkSize, ...(limits ? { limits } : {}) });
    checkReplies(steps, split.replies, PURE_NAMES);
    if (JSON.stringify(split.delivered) !== JSON.stringify(whole.delivered)) {
      throw new Error(`fed in ${chunkSize}-byte chunks, the stored messages differ`);
    }
  }
  return whole;
}
