/**
 * A fake shell for the pure IMAP session: feeds wire bytes in the given pieces, answers every request at once from a
 * fixed inbox (as the real shell does after its await), and returns every byte the session sent and every effect.
 */
import { ImapSession, DEFAULT_LIMITS, type Action, type ImapConfig, type ImapMessage } from '../../src/imap/core/session.js';

export const CONFIG: ImapConfig = { loginAllowedInPlain: true, tlsAvailable: true, tls: false, uidValidity: 7, limits: DEFAULT_LIMITS };

export const RAWS = new Map<string, Buffer>([
  ['m1', Buffer.from('From: A <a@x.test>\r\nTo: qa@x.test\r\nSubject: first\r\n\r\nneedle here\r\n', 'latin1')],
  ['m2', Buffer.from('From: b@x.test\r\nTo: qa@x.test\r\nSubject: second\r\n\r\nnothing\r\n', 'latin1')],
  ['m3', Buffer.from('From: c@x.test\r\nSubject: third\r\n\r\nneedle too\r\n', 'latin1')],
]);

export const INBOX: readonly ImapMessage[] = [
  { uid: 3, id: 'm1', size: 66, internalDate: Date.UTC(2026, 0, 2, 10), flags: [], from: 'A <a@x.test>', to: ' <qa@x.test>', cc: '', subject: 'first' },
  { uid: 5, id: 'm2', size: 61, internalDate: Date.UTC(2026, 0, 3, 10), flags: ['\\Seen'], from: ' <b@x.test>', to: ' <qa@x.test>', cc: '', subject: 'second' },
  { uid: 9, id: 'm3', size: 46, internalDate: Date.UTC(2026, 0, 4, 10), flags: [], from: ' <c@x.test>', to: '', cc: '', subject: 'third' },
];

export type Effect = string;

export type Run = { out: string; effects: Effect[]; closed: boolean; session: ImapSession };

export type WorldOptions = {
  /** Messages that arrive after the first load (announced by a 'new-mail' the driver sends after each piece). */
  later?: readonly ImapMessage[];
  password?: string;
  config?: ImapConfig;
};

export function converse(pieces: readonly Buffer[], opts: WorldOptions = {}): Run {
  const session = new ImapSession(opts.config ?? CONFIG);
  let out = '';
  const effects: Effect[] = [];
  let closed = false;
  let inbox = [...INBOX];
  let loads = 0;
  const apply = (actions: readonly Action[]): void => {
    for (const a of actions) {
      switch (a.type) {
        case 'send': out += typeof a.data === 'string' ? a.data : a.data.toString('latin1'); break;
        case 'login':
          effects.push(`login ${a.user}`);
          apply(session.feed(a.password === (opts.password ?? 'pw') ? { type: 'login-ok', label: `INBOX is ${a.user}'s inbox` } : { type: 'login-failed', code: 'AUTHENTICATIONFAILED', reason: 'wrong user name or password' }));
          break;
        case 'load':
          loads++;
          if (loads === 2 && opts.later) inbox = [...inbox, ...opts.later];
          apply(session.feed({ type: 'loaded', messages: inbox.filter((m) => m.uid > a.afterUid) }));
          break;
        case 'read': apply(session.feed({ type: 'raw', raw: RAWS.get(a.id) ?? null })); break;
        case 'flags': effects.push(`flags ${a.id} ${a.flags.join(',')}`); break;
        case 'remove': {
          effects.push(`remove ${a.ids.join(',')}${a.wholeInbox ? ' (all)' : ''}`);
          const gone = new Set(a.ids);
          inbox = inbox.filter((m) => !gone.has(m.id));
          apply(session.feed({ type: 'removed', failed: [] }));
          break;
        }
        case 'starttls': effects.push('starttls'); apply(session.feed({ type: 'tls-started' })); break;
        case 'watch': effects.push('watch'); break;
        case 'close': closed = true; break;
      }
    }
  };
  apply(session.greet());
  for (const piece of pieces) {
    if (closed) break;
    apply(session.feed({ type: 'bytes', chunk: piece }));
  }
  return { out, effects, closed, session };
}

/** The wire bytes split at one offset. */
export const splitAt = (wire: Buffer, at: number): Buffer[] => [wire.subarray(0, at), wire.subarray(at)];
