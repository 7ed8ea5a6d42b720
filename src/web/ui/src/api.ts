/**
 * The UI's only way to the server: the HTTP API of src/web/openapi.ts. Types mirror its JSON (src/store/types.ts);
 * they are restated here because the UI is compiled for the browser, apart from the server.
 * Every failure becomes an ApiError carrying the server's `{ error: { code, message } }`, or `network` when the
 * server could not be reached, so the UI can always say what went wrong.
 */
export type Mailbox = { name: string; address: string };
export type Envelope = { helo: string; from: string; to: string[] };
export type ConnectionInfo = {
  clientAddress: string; clientPort: number; serverAddress: string; serverPort: number;
  dialect: 'simplified' | 'smtp'; tls: boolean; authUser?: string;
  /** Sessions: the fault rules (numbered from 1) that fired in it. */
  faults?: number[];
};
export type MessageSummary = {
  id: string; receivedAt: string; size: number; read: boolean; from: Mailbox | null; to: Mailbox[]; cc: Mailbox[];
  subject: string; date: string | null; messageId: string | null; attachmentCount: number; snippet: string; envelope: Envelope;
  /** Indexed from its headers alone: the body was past the index's budget, or could not be parsed. */
  indexLimited: boolean;
};
export type AttachmentInfo = {
  index: number; filename: string; contentType: string; size: number; contentId: string | null; disposition: 'attachment' | 'inline' | null;
};
export type MessageDetail = MessageSummary & {
  connection: ConnectionInfo; headers: { name: string; value: string }[]; text: string; html: string; attachments: AttachmentInfo[];
  /** The server's verdict: the HTML loads something from the network (the UI never scans mail itself). */
  remoteContent: boolean;
  /** http(s) links and numeric one-time codes found in it (src/store/extract.ts). */
  links: string[]; codes: string[];
};
/** GET /api/v1/server: where this mailwire listens. */
export type ServerInfo = {
  version: string;
  smtp: { host: string; port: number; dialect: 'simplified' | 'smtp'; starttls: boolean; auth: boolean } | null;
  http: { host: string; port: number; tls: boolean } | null;
};
export type TranscriptLine = { at: number; dir: 'client' | 'server' | 'info'; text: string; responseMs?: number };
export type SessionEnd = 'quit' | 'client-closed' | 'timeout' | 'shutdown' | 'error' | 'refused' | 'fault';
export type SessionSummary = {
  id: string; startedAt: string; endedAt: string; end: SessionEnd; connection: ConnectionInfo; messageIds: string[]; truncated: boolean;
  /** What the client said: HELO/EHLO name, first MAIL FROM ('' for <>), the RCPT TOs; null/[] when it said none. */
  helo: string | null; mailFrom: string | null; rcptTo: string[];
};
export type SessionDetail = SessionSummary & { transcript: TranscriptLine[] };
/** GET /api/v1/sessions's filters: failed only, one client address, an address in MAIL FROM or RCPT TO. */
export type SessionFilter = { failed?: boolean; client?: string; address?: string };
export type Page<T> = { items: T[]; nextCursor: string | null };
/** An envelope recipient address and its messages. */
export type Inbox = { address: string; total: number; unread: number };
/** GET /api/v1/faults: each rule as it was given, with its counters. */
export type FaultRuleView = Record<string, unknown> & { on: string; matched: number; fired: number };
export type FaultView = { seed: number; rules: FaultRuleView[] };

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: signal ?? null,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'cannot reach the mailwire server');
  }
  if (!res.ok) {
    let code = 'http_' + res.status;
    let message = `${method} ${path}: HTTP ${res.status}`;
    try {
      const j = (await res.json()) as { error?: { code?: string; message?: string } };
      if (j.error?.code) code = j.error.code;
      if (j.error?.message) message = j.error.message;
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

const json = async <T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> =>
  (await (await call(method, path, body, signal)).json()) as T;

const qs = (params: Record<string, string | number | null | undefined>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

const enc = encodeURIComponent;

export const api = {
  async listMessages(query: string, cursor: string | null, limit: number, signal?: AbortSignal): Promise<Page<MessageSummary>> {
    const r = await json<{ messages: MessageSummary[]; nextCursor: string | null }>('GET', `/api/v1/messages${qs({ query, cursor, limit })}`, undefined, signal);
    return { items: r.messages, nextCursor: r.nextCursor };
  },
  async listInboxes(limit: number, signal?: AbortSignal): Promise<Inbox[]> {
    return (await json<{ inboxes: Inbox[] }>('GET', `/api/v1/inboxes${qs({ limit })}`, undefined, signal)).inboxes;
  },
  getMessage: (id: string, signal?: AbortSignal): Promise<MessageDetail> => json('GET', `/api/v1/messages/${enc(id)}`, undefined, signal),
  setRead: (id: string, read: boolean): Promise<{ id: string; read: boolean }> => json('PATCH', `/api/v1/messages/${enc(id)}`, { read }),
  async deleteMessage(id: string): Promise<void> {
    await call('DELETE', `/api/v1/messages/${enc(id)}`);
  },
  /** The DELETE of a message whose Undo was still open when the page is left: keepalive outlives the page. */
  deleteMessageOnLeave(id: string): void {
    void fetch(`/api/v1/messages/${enc(id)}`, { method: 'DELETE', keepalive: true }).catch(() => { /* the page is gone */ });
  },
  /** The exact total of a view and how many of those are unread, in one count. */
  countMessages: (query: string, signal?: AbortSignal): Promise<{ total: number; unread: number }> =>
    json('GET', `/api/v1/messages/count${qs({ query })}`, undefined, signal),
  /** "Mark all read": every message the query matches (all for ''). */
  setReadMatching: (query: string, read: boolean): Promise<{ updated: number; read: boolean }> => json('PATCH', `/api/v1/messages${qs({ query })}`, { read }),
  deleteMatching: (query: string): Promise<{ deleted: number; ids: string[] }> => json('DELETE', `/api/v1/messages${qs({ query })}`),
  async raw(id: string, signal?: AbortSignal): Promise<string> {
    return (await call('GET', rawUrl(id), undefined, signal)).text();
  },
  async listSessions(cursor: string | null, limit: number, filter: SessionFilter = {}, signal?: AbortSignal): Promise<Page<SessionSummary>> {
    const params = { cursor, limit, failed: filter.failed === true ? 'true' : null, client: filter.client ?? null, address: filter.address ?? null };
    const r = await json<{ sessions: SessionSummary[]; nextCursor: string | null }>('GET', `/api/v1/sessions${qs(params)}`, undefined, signal);
    return { items: r.sessions, nextCursor: r.nextCursor };
  },
  getSession: (id: string, signal?: AbortSignal): Promise<SessionDetail> => json('GET', `/api/v1/sessions/${enc(id)}`, undefined, signal),
  serverInfo: (signal?: AbortSignal): Promise<ServerInfo> => json('GET', '/api/v1/server', undefined, signal),
  getFaults: (signal?: AbortSignal): Promise<FaultView> => json('GET', '/api/v1/faults', undefined, signal),
  putFaults: (document: unknown): Promise<FaultView> => json('PUT', '/api/v1/faults', document),
  clearFaults: (): Promise<FaultView> => json('DELETE', '/api/v1/faults'),
};

export const rawUrl = (id: string): string => `/api/v1/messages/${enc(id)}/raw`;
export const htmlUrl = (id: string, remoteImages: boolean): string => `/api/v1/messages/${enc(id)}/html${remoteImages ? '?images=remote' : ''}`;
export const attachmentUrl = (id: string, n: number): string => `/api/v1/messages/${enc(id)}/attachments/${n}`;
export const EVENTS_URL = '/api/v1/events';

export const errorText = (e: unknown): string =>
  e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
