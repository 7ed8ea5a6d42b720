/**
 * Mailpit's search language (mailpit.axllent.org/docs/usage/search-filters) in terms of mailwire's (src/store/query.ts).
 * Pure: no I/O.
 *
 * Each Mailpit term becomes a check on a message's summary with Mailpit's meaning (an address term is a substring of
 * that header's names and addresses, a date is inclusive, sizes compare the raw size), and where mailwire's search
 * can narrow the store query without dropping a match it goes into `query` too, so the store does the bulk of the work.
 * A term mailwire cannot answer exactly from what it keeps (tag:, is:tagged, has:inline, reply-to:) is refused with a
 * SearchTermError naming it, never dropped: a dropped term would widen the search silently.
 *
 * Known differences, said in README: plain words are matched as mailwire's full-text words (whole words, where
 * Mailpit matches substrings), and dates without `tz` are UTC (Mailpit: the server's local time).
 */
import { textTokens } from '../../store/query.js';
import type { Mailbox, MessageSummary } from '../../store/types.js';

export class SearchTermError extends Error {}

export type MailpitSearch = Readonly<{
  /** mailwire search syntax: every message Mailpit's search finds is among those this finds. */
  query: string;
  /** Mailpit's meaning, checked on each message the store query found. */
  matches(m: MessageSummary): boolean;
}>;

type Check = (m: MessageSummary) => boolean;

/** Mailpit's tools.ArgsParser: split on spaces outside double quotes, quotes removed. */
export function mailpitArgs(s: string): string[] {
  const args: string[] = [];
  let cur = '';
  let quoted = false;
  const flush = (): void => {
    const v = cur.replaceAll('"', '').trim();
    if (v !== '') args.push(v);
    cur = '';
  };
  for (const ch of s) {
    if (ch === '"') {
      quoted = !quoted;
      cur += ch;
    } else if (!quoted && ch === ' ') flush();
    else cur += ch;
  }
  flush();
  return args;
}

/** Mailpit's storage.cleanString: line breaks, tabs, <>",;() become spaces; whitespace collapsed; lowercased. */
export function cleanString(s: string): string {
  return s.replaceAll('\uFEFF', ' ').replace(/\r?\n|\t|>|<|"|,|;|\(|\)/g, ' ').trim().split(/\s+/).filter((w) => w !== '').join(' ').toLowerCase();
}

const quote = (v: string): string => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
const people = (list: readonly Mailbox[]): string => list.map((p) => `${p.name} ${p.address}`).join('\n').toLowerCase();

/** Envelope recipients in no To or Cc header: Mailpit adds them to Bcc as it stores (its smtpd does). */
export function bccOf(m: MessageSummary): Mailbox[] {
  const shown = new Set([...m.to, ...m.cc].map((p) => p.address.toLowerCase()));
  const seen = new Set<string>();
  const out: Mailbox[] = [];
  for (const a of m.envelope.to) {
    const lc = a.toLowerCase();
    if (shown.has(lc) || seen.has(lc)) continue;
    seen.add(lc);
    out.push({ name: '', address: a });
  }
  return out;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
function sizeToBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  const unit = m === null ? undefined : UNITS[(m[2] ?? '').toLowerCase()];
  return m === null || unit === undefined ? 0 : Math.floor(Number(m[1]) * unit);
}

/**
 * A date as Mailpit's dateparse reads the common forms (2024-05-31, 2024/05/31, 2024-05-31 12:00, ISO 8601 with a
 * zone), in `tz` (an IANA zone; UTC when absent); null when it cannot be read.
 */
export function parseMailpitDate(value: string, tz: string | undefined): number | null {
  const v = value.trim().toUpperCase();
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(v) && /T|\s\d/.test(v)) {
    const ms = Date.parse(v.replace(' ', 'T'));
    return Number.isNaN(ms) ? null : ms;
  }
  const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(v);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(asUtc);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23) return null;
  if (tz === undefined || tz === '' || tz.toUpperCase() === 'UTC') return asUtc;
  const offset = zoneOffsetMs(tz, asUtc);
  if (offset === null) throw new SearchTermError(`unknown time zone tz=${JSON.stringify(tz)}: give an IANA name such as Europe/Paris`);
  // The wall time in tz: subtract that zone's offset (looked up again at the result, for a day that changes DST).
  const first = asUtc - offset;
  return asUtc - (zoneOffsetMs(tz, first) ?? offset);
}

function zoneOffsetMs(tz: string, at: number): number | null {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    }).formatToParts(new Date(at));
  } catch {
    return null;
  }
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - Math.floor(at / 1000) * 1000;
}

export function translateMailpitSearch(search: string, tz?: string): MailpitSearch {
  const ours: string[] = [];
  const checks: Check[] = [];
  const add = (check: Check, exclude: boolean): void => {
    checks.push(exclude ? (m) => !check(m) : check);
  };
  for (const arg of mailpitArgs(search)) {
    if (cleanString(arg) === '') continue;
    let w = arg;
    let exclude = false;
    if (w.length > 1 && (w.startsWith('-') || w.startsWith('!'))) {
      exclude = true;
      w = w.slice(1);
    }
    const lw = w.toLowerCase();
    const colon = lw.indexOf(':');
    const key = colon === -1 ? '' : lw.slice(0, colon + 1);
    const rest = w.slice(colon + 1);
    const refuse = (why: string): SearchTermError =>
      new SearchTermError(`the search term ${JSON.stringify(arg)} has no mailwire equivalent: ${why}`);
    const field = (ourKey: string | null, text: (m: MessageSummary) => string): void => {
      const v = cleanString(rest);
      if (v === '') return;
      if (!exclude && ourKey !== null) ours.push(`${ourKey}:${quote(v)}`);
      add((m) => text(m).includes(v), exclude);
    };
    switch (key) {
      case 'to:': field('to', (m) => people(m.to)); continue;
      case 'from:': field('from', (m) => (m.from === null ? '' : people([m.from]))); continue;
      case 'cc:': field('to', (m) => people(m.cc)); continue;
      case 'bcc:': field('to', (m) => people(bccOf(m))); continue;
      case 'addressed:': field(null, (m) => people([...(m.from === null ? [] : [m.from]), ...m.to, ...m.cc, ...bccOf(m)])); continue;
      case 'message-id:': field(null, (m) => (m.messageId ?? '').replace(/^<|>$/g, '').toLowerCase()); continue;
      case 'subject:': {
        if (rest === '') continue;
        const v = rest.toLowerCase();
        if (!exclude) ours.push(`subject:${quote(v)}`);
        add((m) => m.subject.toLowerCase().includes(v), exclude);
        continue;
      }
      case 'reply-to:': throw refuse('mailwire does not index Reply-To');
      case 'tag:': throw refuse('mailwire has no message tags');
      case 'after:':
      case 'before:': {
        const v = cleanString(rest);
        if (v === '') continue;
        const at = parseMailpitDate(v, tz);
        if (at === null) throw new SearchTermError(`${key} wants a date such as 2024-05-31 or 2024-05-31T12:00:00Z, not ${JSON.stringify(rest)}`);
        const after = key === 'after:';
        if (after && !exclude) ours.push(`after:${new Date(at).toISOString()}`);
        // Mailpit: after: is Created >= t, before: Created <= t, and a negation flips to the other side, inclusive.
        const atOrAfter = after !== exclude;
        checks.push((m) => (atOrAfter ? Date.parse(m.receivedAt) >= at : Date.parse(m.receivedAt) <= at));
        continue;
      }
      case 'larger:':
      case 'smaller:': {
        const size = sizeToBytes(cleanString(rest));
        if (size > 0) {
          const above = (key === 'larger:') !== exclude;
          checks.push((m) => (above ? m.size > size : m.size < size));
          continue;
        }
        break; // not a size: Mailpit searches it as text
      }
      default:
        if (lw === 'is:read' || lw === 'is:unread') {
          const read = (lw === 'is:read') !== exclude;
          ours.push(read ? 'is:read' : 'is:unread');
          continue;
        }
        if (lw === 'is:tagged') throw refuse('mailwire has no message tags');
        if (lw === 'has:inline' || lw === 'has:inlines') throw refuse('mailwire counts inline parts with the attachments');
        if (lw === 'has:attachment' || lw === 'has:attachments') {
          ours.push(exclude ? '-has:attachment' : 'has:attachment');
          add((m) => m.attachmentCount > 0, exclude);
          continue;
        }
    }
    // Plain text: mailwire's full-text words, as a phrase. A negation also drops what the summary shows containing it.
    const v = cleanString(w);
    if (textTokens(v).length === 0) {
      add((m) => `${m.subject}\n${m.snippet}\n${people(m.from === null ? m.to : [m.from, ...m.to])}`.toLowerCase().includes(v), exclude);
      continue;
    }
    ours.push(`${exclude ? '-' : ''}${quote(v)}`);
    if (exclude) add((m) => `${m.subject}\n${m.snippet}\n${people(m.from === null ? m.to : [m.from, ...m.to, ...m.cc])}`.toLowerCase().includes(v), true);
  }
  return { query: ours.join(' '), matches: (m) => checks.every((c) => c(m)) };
}
