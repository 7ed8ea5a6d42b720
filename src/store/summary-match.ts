/**
 * Does a newly indexed message match a waiting query? Answered from its summary alone, in memory, so that a long-poll
 * (`wait`) costs a store query only for a message that may be its answer, not one per waiter per message. The same
 * for every store: it reads only a MessageSummary.
 *
 * Exact for from:, to:, subject:, dates, has:attachment and is:read, the same meaning as the stores' search (two
 * exceptions the summary cannot see: a Bcc: header, and the body for full-text words). Full-text words are found in the
 * subject and the addresses; a word found in neither may be in the body, which the summary does not hold: 'maybe'.
 *
 * Every waiter hears every message, so what a clause compares against (lowercased addresses and subject, their words)
 * is made once per message and kept beside it (a WeakMap, gone with the message), not once per waiter: 200 waiters
 * made each message cost the SMTP thread about 45 µs more at 20 connections × 1 KB.
 */
import { textTokens, type Clause, type SearchQuery } from './query.js';
import type { Mailbox, MessageSummary } from './types.js';
import { assertNever } from '../assert-never.js';

export type SummaryMatch = 'yes' | 'no' | 'maybe';

export function matchSummary(q: SearchQuery, m: MessageSummary): SummaryMatch {
  let answer: SummaryMatch = 'yes';
  for (const c of q.clauses) {
    const r = clauseMatch(c, m);
    if (r === 'no') return 'no';
    if (r === 'maybe') answer = 'maybe';
  }
  return answer;
}

const people = (list: readonly Mailbox[]): string => list.map((p) => `${p.name} ${p.address}`).join('\n');
const fromText = (m: MessageSummary): string => `${m.from ? people([m.from]) : ''}\n${m.envelope.from}`;
const toText = (m: MessageSummary): string => `${people(m.to)}\n${people(m.cc)}\n${m.envelope.to.join('\n')}`;
const yesNo = (b: boolean): SummaryMatch => (b ? 'yes' : 'no');

/** What clauses compare a message against, each made on first use. */
type Derived = { fromLc?: string; toLc?: string; subjectLc?: string; subjectWords?: string; addressWords?: string; receivedAt?: number };
const derivedOf = new WeakMap<MessageSummary, Derived>();
function derived(m: MessageSummary): Derived {
  let d = derivedOf.get(m);
  if (d === undefined) {
    d = {};
    derivedOf.set(m, d);
  }
  return d;
}
/** A column's words, space-separated and padded, so that a phrase is a substring. */
const words = (text: string): string => ` ${textTokens(text).join(' ')} `;
/** A text clause's words the same way (null: only punctuation), made once per clause, not once per message. */
const phraseOf = new WeakMap<Clause, string | null>();
function phrase(c: Clause & { kind: 'text' }): string | null {
  let p = phraseOf.get(c);
  if (p === undefined) {
    const tokens = textTokens(c.value);
    p = tokens.length === 0 ? null : ` ${tokens.join(' ')} `;
    phraseOf.set(c, p);
  }
  return p;
}

function clauseMatch(c: Clause, m: MessageSummary): SummaryMatch {
  switch (c.kind) {
    case 'text': {
      const p = phrase(c);
      if (p === null) return 'yes'; // only punctuation: narrows nothing (as in the stores)
      const d = derived(m);
      d.subjectWords ??= words(m.subject);
      const seen = d.subjectWords.includes(p) || (d.addressWords ??= words(`${fromText(m)}\n${toText(m)}`)).includes(p);
      if (seen) return c.negate ? 'no' : 'yes';
      return 'maybe'; // perhaps in the body
    }
    case 'field': {
      const d = derived(m);
      const text = c.field === 'from' ? (d.fromLc ??= fromText(m).toLowerCase())
        : c.field === 'to' ? (d.toLc ??= toText(m).toLowerCase()) : (d.subjectLc ??= m.subject.toLowerCase());
      return yesNo(text.includes(c.value) !== c.negate);
    }
    case 'before':
      return yesNo((derived(m).receivedAt ??= Date.parse(m.receivedAt)) < c.at);
    case 'after':
      return yesNo((derived(m).receivedAt ??= Date.parse(m.receivedAt)) >= c.at);
    case 'has-attachment':
      return yesNo(m.attachmentCount > 0 !== c.negate);
    case 'read':
      return yesNo(m.read === c.read);
    case 'inbox':
      return yesNo(m.envelope.to.some((a) => a.toLowerCase() === c.address) !== c.negate);
    case 'workspace':
      return 'maybe'; // a summary does not say its workspace: the store's own search answers
    case 'id':
      return yesNo((m.id === c.id) !== c.negate);
    default:
      return assertNever(c);
  }
}
