/**
 * What a test suite gets for a caught message: the stored message as the API shows it, plus the links and numeric
 * one-time codes found in it, so that "click the confirmation link" and "type the code" need no parsing of their own.
 */
import type { MessageDetail } from '../store/index.js';
import { extractCodes, extractLinks } from '../store/extract.js';
import { quoteTerm } from '../store/search-term.js';

export type CaughtMessage = MessageDetail &
  Readonly<{
    /** http(s) links in the HTML (href) and in the text, first seen first, each once. */
    links: readonly string[];
    /** Numbers of 4 to 8 digits standing alone in the subject, text or HTML (one-time codes), each once. */
    codes: readonly string[];
  }>;

/** Which messages: each given field narrows (all must hold); `query` is the search syntax of the API. */
export type MessageFilter = Readonly<{
  /** A recipient (To, Cc or the envelope), as a case-insensitive substring. */
  to?: string;
  /** An inbox: exactly this envelope recipient (case-insensitive), so `qa+run1@x.test` is not `qa@x.test`. */
  inbox?: string;
  from?: string;
  /** A case-insensitive substring of the subject. */
  subject?: string;
  /** More search terms: `has:attachment`, `is:unread`, free words … */
  query?: string;
}>;

export type WaitOptions = MessageFilter &
  Readonly<{
    /** How long to wait, in milliseconds. Default 30,000. */
    timeout?: number;
    /**
     * Only mail received at or after this instant: a Date, or 'now' (the server's clock as the wait starts), which
     * ignores what was there before the call.
     */
    receivedAfter?: Date | 'now';
    /** Wait for this many matching messages (1 to 1000) and resolve with them, oldest first, as an array. */
    count?: number;
  }>;

/** waitForMessage: one message, or with `count` that many (oldest first). */
export type WaitForMessage = {
  (options: WaitOptions & Readonly<{ count: number }>): Promise<CaughtMessage[]>;
  (options?: WaitOptions & Readonly<{ count?: undefined }>): Promise<CaughtMessage>;
};

/**
 * The client a CaughtMessage came through, as a hidden (non-enumerable) property: the matchers' toPassHtmlCheck asks
 * that server for the check. Equality, JSON and spreading do not see it.
 */
export const SOURCE_CLIENT: unique symbol = Symbol('mailwire.sourceClient');

export function caughtMessage(m: MessageDetail, source?: object): CaughtMessage {
  const out: CaughtMessage = { ...m, links: extractLinks(m.text, m.html), codes: extractCodes(m.subject, m.text, m.html) };
  if (source !== undefined) Object.defineProperty(out, SOURCE_CLIENT, { value: source, enumerable: false });
  return out;
}

/** The filter as one search query (`to:"bob@x.test" subject:"Welcome" …`); a string is taken as a query already. */
export function filterQuery(filter: MessageFilter | string = {}): string {
  if (typeof filter === 'string') return filter;
  const parts: string[] = [];
  for (const field of ['inbox', 'to', 'from', 'subject'] as const) {
    const value = filter[field];
    if (value !== undefined) parts.push(`${field}:${quoteTerm(value)}`);
  }
  if (filter.query !== undefined && filter.query.trim() !== '') parts.push(filter.query.trim());
  return parts.join(' ');
}
