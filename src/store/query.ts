/**
 * The search language, parsed into plain data with no I/O (each backend turns the result into its own query, so
 * no user text is ever spliced into SQL or an FTS expression).
 *
 *   words            full text over subject, addresses and body: every word must appear ("a b" quoted: as a phrase)
 *   from:x to:x subject:x   case-insensitive substring; `to:` also covers Cc, Bcc and the envelope recipients
 *   before:D after:D        received before / at-or-after D (YYYY-MM-DD is midnight UTC; a full ISO time is exact)
 *   has:attachment   is:read  is:unread
 *   inbox:x          an envelope recipient is exactly x (case-insensitive): the message is in that inbox
 *   workspace:x      the message belongs to workspace x (see ./workspace-scope.ts, which adds this term to every search
 *                    of a workspace's handle: the terms are ANDed, so no other term can widen it)
 *   id:x             the message whose id is x (exactly one message: deleting one message from an inbox)
 *   -term            negates any of the above; values with spaces go in double quotes (\" and \\ inside)
 *
 * Anything that is not a known `key:` is a plain word, so `re:`, `a-b`, `x@y.z` and `http://…` just search text.
 */
import { QueryError } from './errors.js';

export type TextField = 'from' | 'to' | 'subject';

export type Clause =
  | Readonly<{ kind: 'text'; value: string; negate: boolean }>
  /** `value` is lowercased. */
  | Readonly<{ kind: 'field'; field: TextField; value: string; negate: boolean }>
  /** Epoch milliseconds; `before` excludes the instant, `after` includes it. */
  | Readonly<{ kind: 'before' | 'after'; at: number }>
  | Readonly<{ kind: 'has-attachment'; negate: boolean }>
  | Readonly<{ kind: 'read'; read: boolean }>
  /** An inbox: the message has this envelope recipient (the whole address, lowercased; plus-addresses as written). */
  | Readonly<{ kind: 'inbox'; address: string; negate: boolean }>
  /** The message's workspace is (or, negated, is not) `name` (lowercased). */
  | Readonly<{ kind: 'workspace'; name: string; negate: boolean }>
  /** One message, by its id. */
  | Readonly<{ kind: 'id'; id: string; negate: boolean }>;

export type SearchQuery = Readonly<{ clauses: readonly Clause[] }>;

/** Bounds on one query's cost (every message may be matched against every term): longer or busier ones are a 400. */
export const MAX_QUERY_LENGTH = 1000;
export const MAX_CLAUSES = 32;
/** Words looked up in the full-text index, over all text terms ("a.b.c" is three): each one is a posting-list walk. */
export const MAX_QUERY_WORDS = 64;

const KEYS = new Set(['from', 'to', 'subject', 'before', 'after', 'has', 'is', 'inbox', 'workspace', 'id']);

export function parseQuery(input: string): SearchQuery {
  if (input.length > MAX_QUERY_LENGTH) throw new QueryError(`query longer than ${MAX_QUERY_LENGTH} characters`, 0);
  const clauses: Clause[] = [];
  let i = 0;
  const n = input.length;
  const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);

  // Reads a double-quoted string starting at input[at] === '"'; returns the value and the index after the quote.
  const quoted = (at: number): [string, number] => {
    let out = '';
    for (let j = at + 1; j < n; j++) {
      const c = input[j];
      if (c === '\\' && j + 1 < n) out += input[++j];
      else if (c === '"') return [out, j + 1];
      else out += c;
    }
    throw new QueryError('unterminated quote', at);
  };
  const bare = (at: number): [string, number] => {
    let j = at;
    while (j < n && !isSpace(input[j])) j++;
    return [input.slice(at, j), j];
  };

  while (i < n) {
    if (isSpace(input[i])) {
      i++;
      continue;
    }
    const start = i;
    let negate = false;
    if (input[i] === '-' && i + 1 < n && !isSpace(input[i + 1])) {
      negate = true;
      i++;
    }
    if (input[i] === '"') {
      const [value, next] = quoted(i);
      i = next;
      push({ kind: 'text', value, negate }, start);
      continue;
    }
    const colon = input.indexOf(':', i);
    const [word] = bare(i);
    const key = colon > i && colon < i + word.length ? input.slice(i, colon).toLowerCase() : '';
    if (!KEYS.has(key)) {
      i += word.length;
      push({ kind: 'text', value: word, negate }, start);
      continue;
    }
    let value: string;
    if (input[colon + 1] === '"') [value, i] = quoted(colon + 1);
    else [value, i] = bare(colon + 1);
    if (value.trim() === '') throw new QueryError(`${key}: needs a value`, start);
    push(keyed(key, value, negate, start), start);
  }
  const words = clauses.reduce((n, c) => n + (c.kind === 'text' ? textTokens(c.value).length : 0), 0);
  if (words > MAX_QUERY_WORDS) throw new QueryError(`query searches for ${words} words, more than ${MAX_QUERY_WORDS}`, 0);
  return { clauses };

  function push(c: Clause, at: number): void {
    if (clauses.length >= MAX_CLAUSES) throw new QueryError(`more than ${MAX_CLAUSES} terms`, at);
    clauses.push(c);
  }
}

function keyed(key: string, value: string, negate: boolean, at: number): Clause {
  switch (key) {
    case 'from':
    case 'to':
    case 'subject':
      return { kind: 'field', field: key, value: value.toLowerCase(), negate };
    case 'before':
    case 'after': {
      const ms = parseDate(value);
      if (ms === null) throw new QueryError(`${key}: wants a date like 2024-05-31 or 2024-05-31T12:00:00Z, not "${value}"`, at);
      const kind = negate ? (key === 'before' ? 'after' : 'before') : key;
      return { kind, at: ms };
    }
    case 'has':
      if (/^attachments?$/i.test(value)) return { kind: 'has-attachment', negate };
      throw new QueryError(`has: knows only "attachment", not "${value}"`, at);
    case 'inbox':
      return { kind: 'inbox', address: value.toLowerCase(), negate };
    case 'workspace':
      return { kind: 'workspace', name: value.toLowerCase(), negate };
    case 'id':
      return { kind: 'id', id: value, negate };
    case 'is':
      if (/^(read|unread)$/i.test(value)) return { kind: 'read', read: (value.toLowerCase() === 'read') !== negate };
      throw new QueryError(`is: knows only "read" and "unread", not "${value}"`, at);
    default:
      throw new QueryError(`unknown key ${key}:`, at);
  }
}

function parseDate(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, time, , , zone] = m;
  const day = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  const check = new Date(day);
  // Reject 2024-02-31 and the like, which Date would roll over silently.
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return null;
  if (time === undefined) return day;
  const ms = Date.parse(zone === undefined ? `${s}Z` : s); // no zone given: UTC, as for plain dates
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Words as the full-text index sees them (SQLite FTS5 unicode61 with remove_diacritics 2): runs of letters and
 * digits, lowercased, accents removed. The memory store uses it to match the same way.
 */
export function textTokens(s: string): string[] {
  return s
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== '');
}

/** A clause's words as an FTS5 phrase: only letters and digits reach it, so nothing the user types can break it. */
export function ftsPhrase(value: string): string | null {
  const tokens = textTokens(value);
  return tokens.length === 0 ? null : `"${tokens.join(' ')}"`;
}
