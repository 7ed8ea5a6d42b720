/**
 * MailwireClient: a test suite's calls against a running mailwire (another process, a container, another machine)
 * over its HTTP API. startMailwire() (./start.ts) hands out one of these for the server it starts, so both ways
 * share this one implementation.
 */
import type { HeaderReport } from '../checks/headers.js';
import type { HtmlCheckReport } from '../checks/html.js';
import type { LinkReport } from '../checks/links.js';
import type { SpamReport } from '../checks/spam.js';
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from '../config.js';
import { MailwireError } from '../errors.js';
import type { MessageDetail, MessageSummary } from '../store/index.js';
import type { FaultView } from '../faults/controller.js';
import { caughtMessage, filterQuery, type CaughtMessage, type MessageFilter, type WaitOptions } from './message.js';

export type ClientAuth = Readonly<{ user: string; pass: string }> | string;

export type MailwireClientOptions = Readonly<{
  /** HTTP Basic credentials, `{ user, pass }` or "user:pass", for a server started with --http-auth-file. */
  auth?: ClientAuth;
  /** A workspace's (or an admin's) API token, sent as `Authorization: Bearer TOKEN` (issue 26); instead of `auth`. */
  token?: string;
  /** Sends a request; default: the global fetch. (The MCP endpoint hands the API's own handler here.) */
  fetch?: (request: Request) => Promise<Response>;
}>;

const DEFAULT_WAIT_TIMEOUT_MS = DEFAULT_WAIT_SECONDS * 1000;
/** Each long-poll asks for 10 s less than the server's limit (MAX_WAIT_SECONDS); longer waits ask again. */
const LONG_POLL_MS = (MAX_WAIT_SECONDS - 10) * 1000;
/** messages() pages through at most this many. */
const MAX_LISTED = 10_000;

/** The API answered with an error ({ error: { code, message } }), or something that is not the API answered. */
export class MailwireApiError extends MailwireError {
  override name = 'MailwireApiError' as const;
  readonly status: number;
  constructor(status: number, code: string, message: string) {
    super(code, `mailwire API: ${status} ${message}`);
    this.status = status;
  }
}

/** No matching message arrived within the timeout. */
export class MailwireTimeoutError extends MailwireError {
  override name = 'MailwireTimeoutError' as const;
  readonly query: string;
  constructor(query: string, timeoutMs: number) {
    super('ERR_WAIT_TIMEOUT', `no message${query === '' ? '' : ` matching ${query}`} arrived within ${timeoutMs} ms`);
    this.query = query;
  }
}

/** An envelope recipient address and how many messages it holds. */
export type Inbox = Readonly<{ address: string; total: number; unread: number }>;

type WaitAnswer = { message?: MessageDetail; messages?: MessageDetail[]; cursor?: string; receivedAfter?: string };
type ListAnswer = { messages: MessageSummary[]; nextCursor: string | null };

export class MailwireClient {
  /** The server's base URL, without a trailing slash. */
  readonly url: string;
  readonly #authorization: string | null;
  readonly #fetch: (request: Request) => Promise<Response>;
  /** Aborts every request in flight at close(), so that a pending wait does not keep the process alive. */
  #requests = new AbortController();

  constructor(url: string | URL, options: MailwireClientOptions = {}) {
    const base = new URL(String(url));
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`MailwireClient: ${String(url)} is not an http(s) URL`);
    this.url = base.href.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? ((request) => fetch(request));
    const auth = options.auth;
    if (options.token !== undefined) this.#authorization = `Bearer ${options.token}`;
    else if (auth === undefined) this.#authorization = null;
    else {
      const [user, pass] = typeof auth === 'string' ? splitCredential(auth) : [auth.user, auth.pass];
      this.#authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    }
  }

  /**
   * The newest message matching the filter, as soon as there is one: at once when one is already there, else when
   * it arrives. Rejects with MailwireTimeoutError after `timeout` ms. With `receivedAfter`, only mail received from
   * then on counts; with `count`, it waits for that many matches and resolves with them, oldest first.
   */
  waitForMessage(options: WaitOptions & Readonly<{ count: number }>): Promise<CaughtMessage[]>;
  waitForMessage(options?: WaitOptions & Readonly<{ count?: undefined }>): Promise<CaughtMessage>;
  async waitForMessage(options: WaitOptions = {}): Promise<CaughtMessage | CaughtMessage[]> {
    const { timeout = DEFAULT_WAIT_TIMEOUT_MS, receivedAfter, count, ...filter } = options;
    if (!Number.isFinite(timeout) || timeout < 0) throw new RangeError(`timeout must be a number of milliseconds ≥ 0, not ${timeout}`);
    if (count !== undefined && !(Number.isInteger(count) && count >= 1 && count <= 1000)) throw new RangeError(`count must be a whole number from 1 to 1000, not ${count}`);
    let since: string | null = null;
    if (receivedAfter instanceof Date) {
      if (Number.isNaN(receivedAfter.getTime())) throw new RangeError('receivedAfter is an invalid Date');
      since = receivedAfter.toISOString();
    } else if (receivedAfter === 'now') since = 'now';
    else if (receivedAfter !== undefined) throw new TypeError(`receivedAfter must be a Date or 'now', not ${String(receivedAfter)}`);
    const query = filterQuery(filter);
    const deadline = Date.now() + timeout;
    // Bounded by the deadline: each pass is one long-poll of at most LONG_POLL_MS.
    for (let pass = 0; pass <= Math.ceil(timeout / LONG_POLL_MS); pass++) {
      const left = Math.max(0, Math.min(deadline - Date.now(), LONG_POLL_MS));
      const params = new URLSearchParams({ query, timeout: (left / 1000).toFixed(3) });
      if (since !== null) params.set('receivedAfter', since);
      if (count !== undefined) params.set('count', String(count));
      const r = await this.#request('GET', `/api/v1/messages/wait?${params}`, [408]);
      const answer = (await r.json()) as WaitAnswer;
      // 'now' is the server's instant of the first poll: the polls after it wait from that same instant.
      if (typeof answer.receivedAfter === 'string') since = answer.receivedAfter;
      if (r.status === 200) {
        if (count !== undefined) return (answer.messages ?? []).map((m) => caughtMessage(m, this));
        if (answer.message !== undefined) return caughtMessage(answer.message, this);
      }
      if (Date.now() >= deadline) break;
    }
    throw new MailwireTimeoutError(query, timeout);
  }

  /** Every message matching the filter (all of them with none), newest first, at most `limit` (default 1000). */
  async messages(filter: MessageFilter | string = {}, options: Readonly<{ limit?: number }> = {}): Promise<CaughtMessage[]> {
    const limit = options.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LISTED) throw new RangeError(`limit must be a whole number from 1 to ${MAX_LISTED}`);
    const query = filterQuery(filter);
    const summaries: MessageSummary[] = [];
    let cursor: string | null = null;
    while (summaries.length < limit) {
      const page = await this.summaries(query, { limit: Math.min(1000, limit - summaries.length), cursor });
      summaries.push(...page.messages);
      cursor = page.nextCursor;
      if (cursor === null || page.messages.length === 0) break;
    }
    const out: CaughtMessage[] = [];
    for (const s of summaries) { // one at a time: a test suite's store is small, and the server stays responsive
      const m = await this.message(s.id);
      if (m !== null) out.push(m); // deleted meanwhile: not there any more
    }
    return out;
  }

  /** One page of summaries (no bodies) of the messages matching the filter, newest first; `limit` 1 to 1000, default 50. */
  async summaries(filter: MessageFilter | string = {}, options: Readonly<{ limit?: number; cursor?: string | null }> = {}): Promise<{ messages: MessageSummary[]; nextCursor: string | null }> {
    const params = new URLSearchParams({ query: filterQuery(filter), limit: String(options.limit ?? 50) });
    if (options.cursor != null) params.set('cursor', options.cursor);
    return (await (await this.#request('GET', `/api/v1/messages?${params}`)).json()) as ListAnswer;
  }

  /** One message by id; null when there is no such message. */
  async message(id: string): Promise<CaughtMessage | null> {
    const r = await this.#found(`/api/v1/messages/${encodeURIComponent(id)}`);
    return r === null ? null : caughtMessage((await r.json()) as MessageDetail, this);
  }

  /** The message exactly as received; null when there is no such message. */
  async raw(id: string): Promise<Buffer | null> {
    const r = await this.#found(`/api/v1/messages/${encodeURIComponent(id)}/raw`);
    return r === null ? null : Buffer.from(await r.arrayBuffer());
  }

  /** The n-th attachment (from 0), decoded; null when the message or the attachment is not there. */
  async attachment(id: string, index: number): Promise<Buffer | null> {
    const r = await this.#found(`/api/v1/messages/${encodeURIComponent(id)}/attachments/${index}`);
    return r === null ? null : Buffer.from(await r.arrayBuffer());
  }

  /**
   * A check of the message (README, "Checks"): 'html' (compatibility per mail client), 'links' (each link requested),
   * 'spam' (spamd or rspamd score) or 'headers'. Throws MailwireApiError for a missing message (404) or a check the
   * server cannot run (the spam check without a checker: 404 saying which flag).
   */
  async check<K extends CheckKind>(id: string, kind: K, options: Readonly<{ clients?: string }> = {}): Promise<CheckReports[K]> {
    const path = `/api/v1/messages/${encodeURIComponent(id)}/checks/${kind}`;
    const query = kind === 'html' && options.clients !== undefined ? `?${new URLSearchParams({ clients: options.clients })}` : '';
    const method = kind === 'links' || kind === 'spam' ? 'POST' : 'GET';
    return (await (await this.#request(method, path + query)).json()) as CheckReports[K];
  }

  /** The HTML rendered by the server's headless Chromium, as PNG (or JPEG) bytes. */
  async screenshot(id: string, options: Readonly<{ width?: number; format?: 'png' | 'jpeg'; full?: boolean }> = {}): Promise<Buffer> {
    const params = new URLSearchParams({ width: String(options.width ?? 390), format: options.format ?? 'png', ...(options.full === true ? { full: '1' } : {}) });
    const r = await this.#request('GET', `/api/v1/messages/${encodeURIComponent(id)}/screenshot?${params}`);
    return Buffer.from(await r.arrayBuffer());
  }

  /**
   * The inboxes (every envelope recipient address, lowercased; plus-addresses as written), in address order, with
   * their message counts; `prefix` narrows them (case-insensitive). Page on with `cursor: nextCursor`.
   */
  async inboxes(options: Readonly<{ prefix?: string; limit?: number; cursor?: string | null }> = {}): Promise<{ inboxes: Inbox[]; nextCursor: string | null }> {
    const params = new URLSearchParams({ prefix: options.prefix ?? '', limit: String(options.limit ?? 100) });
    if (options.cursor != null) params.set('cursor', options.cursor);
    return (await (await this.#request('GET', `/api/v1/inboxes?${params}`)).json()) as { inboxes: Inbox[]; nextCursor: string | null };
  }

  /** Deletes one message; false when there is no such message. */
  async deleteMessage(id: string): Promise<boolean> {
    const r = await this.#request('DELETE', `/api/v1/messages/${encodeURIComponent(id)}`, [404]);
    await r.body?.cancel();
    return r.status !== 404;
  }

  /**
   * Deletes the messages matching the filter (every message with none); resolves with how many went. With `inbox`,
   * they leave that inbox only (a message sent to other recipients stays in their inboxes) and it resolves with how
   * many left it.
   */
  async clear(filter: MessageFilter | string = {}): Promise<number> {
    if (typeof filter !== 'string' && filter.inbox !== undefined) {
      const { inbox, ...rest } = filter;
      const query = filterQuery(rest);
      const r = await this.#request('DELETE', `/api/v1/inboxes/${encodeURIComponent(inbox)}/messages${query === '' ? '' : `?${new URLSearchParams({ query })}`}`);
      return ((await r.json()) as { removed: number }).removed;
    }
    const query = filterQuery(filter);
    const r = await this.#request('DELETE', `/api/v1/messages${query === '' ? '' : `?${new URLSearchParams({ query })}`}`);
    return ((await r.json()) as { deleted: number }).deleted;
  }

  /**
   * Puts a fault document in force (README, "Fault injection"), replacing the one there and starting its counters
   * again; resolves with it as the server shows it. A bad document rejects with a MailwireApiError (status 400) whose
   * message names the field and why, and the rules in force stay as they were.
   */
  async setFaults(document: unknown): Promise<FaultView> {
    return (await (await this.#request('PUT', '/api/v1/faults', [], document)).json()) as FaultView;
  }

  /** The fault rules in force, each with `matched` (events that met its match) and `fired` (faults it injected). */
  async faults(): Promise<FaultView> {
    return (await (await this.#request('GET', '/api/v1/faults')).json()) as FaultView;
  }

  /** No more faults: every session is served normally again. */
  async clearFaults(): Promise<void> {
    await (await this.#request('DELETE', '/api/v1/faults')).body?.cancel();
  }

  /** What the server is and where it listens (GET /api/v1/server): its version, and SMTP's host and port. */
  async serverInfo(): Promise<ServerInfo> {
    return (await (await this.#request('GET', '/api/v1/server')).json()) as ServerInfo;
  }

  /** Ends every request still in flight (a pending waitForMessage rejects); the client can be used again after. */
  async close(): Promise<void> {
    this.#requests.abort(new MailwireError('ERR_CLIENT_CLOSED', 'MailwireClient closed'));
    this.#requests = new AbortController();
  }

  /** GET `path`: the response, or null (its body dropped) when the server says 404. */
  async #found(path: string): Promise<Response | null> {
    const r = await this.#request('GET', path, [404]);
    if (r.status !== 404) return r;
    await r.body?.cancel();
    return null;
  }

  async #request(method: string, path: string, expected: readonly number[] = [], json?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#authorization !== null) headers['authorization'] = this.#authorization;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const signal = this.#requests.signal;
    let r: Response;
    try {
      r = await this.#fetch(new Request(`${this.url}${path}`, { method, headers, signal, ...(json === undefined ? {} : { body: JSON.stringify(json) }) }));
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new MailwireError('ERR_API_UNREACHABLE', `mailwire API at ${this.url} did not answer: ${describe(error)}`, { cause: error });
    }
    if (r.ok || expected.includes(r.status)) return r;
    const text = await r.text();
    let code = 'http_error';
    let message = text.slice(0, 200);
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof body.error?.code === 'string') code = body.error.code;
      if (typeof body.error?.message === 'string') message = body.error.message;
    } catch { /* not JSON: keep the text */ }
    throw new MailwireApiError(r.status, code, `${method} ${path}: ${message}`);
  }
}

/** The part of GET /api/v1/server a test needs. */
export type ServerInfo = Readonly<{ version: string; smtp: Readonly<{ host: string; port: number; dialect: string }> }>;

export type CheckKind = 'html' | 'links' | 'spam' | 'headers';
export type CheckReports = { html: HtmlCheckReport; links: LinkReport; spam: SpamReport; headers: HeaderReport };

function splitCredential(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new TypeError('MailwireClient auth must be "user:pass" or { user, pass }');
  return [text.slice(0, colon), text.slice(colon + 1)];
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
