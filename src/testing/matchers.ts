/**
 * The matchers on a caught message, in the one shape Playwright's, Vitest's and Jest's `expect.extend` all take:
 * `(this: { isNot }, received, ...args) => { pass, message }` (a Promise of it for toPassHtmlCheck). The runners'
 * entry points (./expect.ts, ./vitest.ts, ./jest.ts, ./playwright.ts) only hand this object to their `expect`.
 */
import type { MailwireClient } from '../api-client/client.js';
import { SOURCE_CLIENT, type CaughtMessage } from '../api-client/message.js';
import type { HtmlCheckReport } from '../checks/html.js';

export type MatcherResult = { pass: boolean; message: () => string };
/** What the runners hand a matcher as `this`; only `isNot` is read. */
export type MatcherState = { isNot?: boolean };

export type HtmlCheckExpectation = Readonly<{
  /** Which clients count (`gmail.*,outlook.windows`, as the check's `clients`); default: all of them. */
  clients?: string;
  /** The least overall score that passes, from 0 to 1 (the mean of the clients' scores). Default 0.8. */
  min?: number;
  /** The server to ask; default: the client the message came through. */
  client?: MailwireClient;
}>;

export const DEFAULT_HTML_MIN = 0.8;

export const mailwireMatchers = {
  /** A link (http(s), from the HTML's hrefs and the text) matches the pattern; a string must be a substring of it. */
  toHaveLink(this: MatcherState, received: unknown, pattern: RegExp | string): MatcherResult {
    const mail = asMessage(received, 'toHaveLink');
    checkPattern(pattern, 'toHaveLink');
    const hit = mail.links.find((link) => matches(link, pattern));
    return {
      pass: hit !== undefined,
      message: () => hit !== undefined
        ? `expected ${describe(mail)} not to have a link matching ${String(pattern)}, but it has ${hit}`
        : `expected ${describe(mail)} to have a link matching ${String(pattern)}; its links: ${list(mail.links)}`,
    };
  },

  /**
   * The message has a one-time code (4 to 8 digits standing alone); with an argument, that code (a string, exactly)
   * or one matching it (a RegExp).
   */
  toHaveCode(this: MatcherState, received: unknown, expected?: RegExp | string): MatcherResult {
    const mail = asMessage(received, 'toHaveCode');
    if (expected !== undefined) checkPattern(expected, 'toHaveCode');
    const hit = mail.codes.find((code) => expected === undefined || (typeof expected === 'string' ? code === expected : matches(code, expected)));
    const what = expected === undefined ? 'a one-time code' : `the code ${String(expected)}`;
    return {
      pass: hit !== undefined,
      message: () => hit !== undefined
        ? `expected ${describe(mail)} not to have ${what}, but it has ${hit}`
        : `expected ${describe(mail)} to have ${what}; its codes: ${list(mail.codes)}`,
    };
  },

  /** The server's HTML check (caniemail's data) scores the message's HTML at least `min` over `clients`. */
  async toPassHtmlCheck(this: MatcherState, received: unknown, options: HtmlCheckExpectation = {}): Promise<MatcherResult> {
    const mail = asMessage(received, 'toPassHtmlCheck');
    const min = options.min ?? DEFAULT_HTML_MIN;
    if (typeof min !== 'number' || !(min >= 0 && min <= 1)) throw new TypeError(`toPassHtmlCheck: min is a score from 0 to 1, not ${String(min)}`);
    const client = options.client ?? (mail as { [SOURCE_CLIENT]?: MailwireClient })[SOURCE_CLIENT];
    if (client === undefined) throw new TypeError('toPassHtmlCheck: this message did not come through a MailwireClient (a copy of one?); pass { client }');
    if (mail.html === '') {
      return { pass: false, message: () => `expected ${describe(mail)} to pass the HTML check, but it has no HTML part` };
    }
    const report: HtmlCheckReport = await client.check(mail.id, 'html', options.clients === undefined ? {} : { clients: options.clients });
    const worst = [...report.clients].sort((a, b) => a.score - b.score).slice(0, 3).map((c) => `${c.name} ${percent(c.score)}`).join(', ');
    const pass = report.score >= min;
    return {
      pass,
      message: () => pass
        ? `expected ${describe(mail)} not to pass the HTML check at ${percent(min)}, but it scores ${percent(report.score)}`
        : `expected ${describe(mail)} to score at least ${percent(min)} in the HTML check${options.clients === undefined ? '' : ` (${options.clients})`}, ` +
          `but it scores ${percent(report.score)}; lowest: ${worst}; features: ${report.features.map((f) => f.slug).slice(0, 8).join(', ')}`,
    };
  },
};

export type MailwireMatchers = typeof mailwireMatchers;

/** A caught message, or a throw naming the matcher and what it got (a failure whether or not `.not` is used). */
function asMessage(received: unknown, matcher: string): CaughtMessage {
  const m = received as Partial<CaughtMessage> | null;
  if (typeof m !== 'object' || m === null || !Array.isArray(m.links) || !Array.isArray(m.codes) || typeof m.id !== 'string') {
    throw new TypeError(`${matcher}: expected a message from waitForMessage() or messages() (with links and codes), not ${preview(received)}`);
  }
  return m as CaughtMessage;
}

function checkPattern(pattern: unknown, matcher: string): void {
  if (!(pattern instanceof RegExp) && typeof pattern !== 'string') throw new TypeError(`${matcher}: expected a RegExp or a string, not ${preview(pattern)}`);
}

function matches(text: string, pattern: RegExp | string): boolean {
  if (typeof pattern === 'string') return text.includes(pattern);
  pattern.lastIndex = 0; // a /g or /y pattern keeps state between calls
  return pattern.test(text);
}

const describe = (m: CaughtMessage): string => `the message ${JSON.stringify(m.subject)} (${m.id})`;
const list = (items: readonly string[]): string => (items.length === 0 ? 'none' : items.slice(0, 10).join(', ') + (items.length > 10 ? `, … (${items.length})` : ''));
const percent = (score: number): string => `${Math.round(score * 1000) / 10}%`;

function preview(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? `an array of ${value.length}` : `an object with keys ${Object.keys(value).slice(0, 6).join(', ')}`;
  return `${typeof value} ${String(value).slice(0, 40)}`;
}
