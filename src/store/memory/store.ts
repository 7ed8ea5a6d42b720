/**
 * The in-memory store: the same behaviour as SQLite (search semantics included) with nothing on disk; for tests
 * and for a catcher that need not survive a restart. Every write "commits" on its own, so it has no group commit, and
 * a message is indexed as it is saved: it is announced (onIndexed) before save() resolves, and the backlog is always 0.
 */
import { MemoryOutbox } from './outbox.js';
import { timeOrderedId } from '../ids.js';
import type { ParsedMessage, SearchFields, SummaryFields } from '../parse.js';
import { IndexThread } from '../index-thread.js';
import { ParserThread } from '../parse-thread.js';
import { parseQuery, textTokens, type SearchQuery } from '../query.js';
import { clampLimit, decodeCursor, decodeInboxCursor, encodeCursor, encodeInboxCursor } from '../cursor.js';
import { assertNever } from '../../assert-never.js';
import { STORE_CLOSED, StoreClosedError, StoreUnavailableError, StoreWriteError } from '../errors.js';
import { ListenerSet } from '../listeners.js';
import type {
  AttachmentContent, InboxDeletion, InboxListOptions, SessionListOptions, InboxSummary, IncomingMessage, JsonPage, ListOptions, MessageDetail, MessageStore, MessageSummary, Page, PruneResult,
  SessionDetail, SessionRecord, SessionSummary, StoreHealth, StoreStats,
} from '../types.js';
import type { MessageCount } from '../types.js';
import { sessionMatches } from '../session-filter.js';
import { sessionSaid } from '../session-said.js';
import { jsonPage } from '../json-page.js';
import { MemoryWorkspaceRegistry, workspaceOf, type WorkspaceRegistry } from '../workspace.js';

type Stored = {
  seq: number;
  id: string;
  receivedAt: number;
  read: boolean;
  raw: Buffer;
  message: IncomingMessage;
  /** The index's summary (from parseForIndex: attachment bodies left out, so their sizes are not known). */
  summary: SummaryFields;
  /** The whole parse, made on the first read of the message: its attachments' sizes need their bodies decoded. */
  whole: ParsedMessage | null;
  search: SearchFields;
  /** Tokens of each full-text column, joined by spaces, for phrase matching as FTS5 does. */
  fts: string[];
  /** The inboxes (lowercased envelope recipients) the message was taken out of: see deleteInboxMessages. */
  left: Set<string>;
};
type StoredSession = { seq: number; detail: SessionDetail };

export type MemoryStoreOptions = Readonly<{ maxMessages: number; maxMessagesPerInbox?: number; maxAgeMs: number; now?: () => number }>;

export function createMemoryStore(options: MemoryStoreOptions = { maxMessages: 0, maxAgeMs: 0 }): MessageStore {
  return new MemoryStore(options);
}

class MemoryStore implements MessageStore {
  readonly kind = 'memory' as const;
  readonly outbox = new MemoryOutbox();
  readonly #opts: MemoryStoreOptions;
  /** Oldest first. */
  #messages: Stored[] = [];
  #sessions: StoredSession[] = [];
  #seq = 0;
  #closed = false;
  readonly #stats = { saved: 0, transactions: 0, failed: 0 };
  readonly #listeners = new ListenerSet<MessageSummary>('memory store');

  /** The index's parses and the reads' (postal-mime takes over a second on some messages): off the SMTP thread. */
  readonly #indexer = new IndexThread();
  readonly #reader = new ParserThread();
  readonly workspaces: WorkspaceRegistry = new MemoryWorkspaceRegistry();

  constructor(options: MemoryStoreOptions) {
    this.#opts = options;
  }

  async save(message: IncomingMessage): Promise<string> {
    if (this.#closed) throw new StoreClosedError();
    const raw = Buffer.from(message.raw); // a copy: the caller may reuse its buffer
    // Parsed on the index thread, within its budget: this is the SMTP thread, which a hostile message once stopped.
    const { summary: fields, search } = await this.#indexer.entry(raw, message.envelope);
    if (this.#closed) throw new StoreWriteError('store is closed');
    // The commit is the push below: a save its deadline cut meanwhile (answered 451) is left out.
    if (message.deadline !== undefined && !message.deadline.take()) throw new StoreUnavailableError('not stored: past its deadline');
    const id = timeOrderedId();
    const stored: Stored = {
      seq: ++this.#seq, id, receivedAt: message.receivedAt.getTime(), read: false, raw, message, summary: fields, whole: null, search,
      fts: [search.ftsSubject, search.ftsAddresses, search.ftsBody].map((t) => ` ${textTokens(t).join(' ')} `), left: new Set(),
    };
    this.#messages.push(stored);
    this.#stats.saved++;
    this.#stats.transactions++;
    this.#pruneNow();
    if (this.#listeners.size > 0) this.#listeners.emit(summary(stored));
    return id;
  }

  onIndexed(listener: (message: MessageSummary) => void): () => void {
    return this.#listeners.add(listener);
  }

  health(): StoreHealth {
    return { ok: !this.#closed, reason: this.#closed ? STORE_CLOSED : null, indexBacklog: 0, indexLagMs: 0 };
  }

  async saveSession(s: SessionRecord): Promise<string> {
    if (this.#closed) throw new StoreClosedError();
    const id = s.id ?? timeOrderedId();
    this.#sessions.push({
      seq: ++this.#seq,
      detail: {
        id, startedAt: s.startedAt.toISOString(), endedAt: s.endedAt.toISOString(), end: s.end, connection: s.connection,
        messageIds: [...s.messageIds], truncated: s.truncated, ...sessionSaid(s.transcript), transcript: [...s.transcript],
      },
    });
    this.#pruneNow();
    return id;
  }

  async listMessages(options: ListOptions = {}): Promise<Page<MessageSummary>> {
    const q = parseQuery(options.query ?? '');
    const before = decodeCursor('m', options.cursor);
    const limit = clampLimit(options.limit);
    const out: Stored[] = [];
    let more = false;
    for (let i = this.#messages.length - 1; i >= 0; i--) {
      const m = this.#messages[i];
      if (!m || (before !== null && m.seq >= before) || !matches(q, m)) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(m);
    }
    const last = out[out.length - 1];
    return { items: out.map(summary), nextCursor: more && last ? encodeCursor('m', last.seq) : null };
  }

  async listMessagesJson(options: ListOptions = {}): Promise<JsonPage> {
    return jsonPage(await this.listMessages(options));
  }

  async countMessages(query = ''): Promise<MessageCount> {
    const q = parseQuery(query);
    let total = 0;
    let unread = 0;
    for (const m of this.#messages) {
      if (!m || !matches(q, m)) continue;
      total++;
      if (!m.read) unread++;
    }
    return { total, unread };
  }

  async nextMatch(query: string, after: string | null): Promise<{ message: MessageSummary; cursor: string } | null> {
    const q = parseQuery(query);
    const from = decodeCursor('m', after);
    const list = from === null ? [...this.#messages].reverse() : this.#messages.filter((m) => m.seq > from);
    const m = list.find((x) => matches(q, x));
    return m ? { message: summary(m), cursor: encodeCursor('m', m.seq) } : null;
  }

  async matchesAfter(query: string, after: string | null, limit: number): Promise<readonly { message: MessageSummary; cursor: string }[]> {
    const q = parseQuery(query);
    const from = decodeCursor('m', after) ?? 0;
    const n = Number.isSafeInteger(limit) ? Math.min(10_000, Math.max(1, limit)) : 10_000;
    const out: { message: MessageSummary; cursor: string }[] = [];
    // Kept in seq order: start at the first one after `from` (binary search), not at the oldest.
    let lo = 0;
    let hi = this.#messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#messages[mid]?.seq ?? 0) <= from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#messages.length && out.length < n; i++) {
      const m = this.#messages[i];
      if (m !== undefined && matches(q, m)) out.push({ message: summary(m), cursor: encodeCursor('m', m.seq) });
    }
    return out;
  }

  #find(id: string): Stored | undefined {
    return typeof id === 'string' ? this.#messages.find((m) => m.id === id) : undefined;
  }

  async getMessage(id: string): Promise<MessageDetail | null> {
    const m = this.#find(id);
    if (!m) return null;
    m.whole ??= await this.#reader.message(m.raw);
    const { headers, text, html, attachments, remoteContent } = m.whole;
    return { ...summary(m), connection: m.message.connection, headers, text, html, attachments, remoteContent };
  }

  async messageWorkspace(id: string): Promise<string | null> {
    const m = this.#find(id);
    return m === undefined ? null : workspaceOf(m.message.connection);
  }

  async getRaw(id: string): Promise<Buffer | null> {
    return this.#find(id)?.raw ?? null;
  }

  async getAttachment(id: string, index: number): Promise<AttachmentContent | null> {
    const m = this.#find(id);
    return m && Number.isSafeInteger(index) && index >= 0 ? this.#reader.attachment(m.raw, index) : null;
  }

  async setRead(id: string, read: boolean): Promise<boolean> {
    const m = this.#find(id);
    if (m) m.read = read;
    return m !== undefined;
  }

  async setReadMatching(query: string, read: boolean): Promise<number> {
    const q = parseQuery(query);
    let n = 0;
    for (const m of this.#messages) {
      if (m.read !== read && matches(q, m)) {
        m.read = read;
        n++;
      }
    }
    return n;
  }

  async deleteMessage(id: string): Promise<boolean> {
    const before = this.#messages.length;
    this.#messages = this.#messages.filter((m) => m.id !== id);
    return this.#messages.length < before;
  }

  async deleteMessages(query = ''): Promise<string[]> {
    const q = parseQuery(query);
    const gone = this.#messages.filter((m) => matches(q, m));
    this.#messages = this.#messages.filter((m) => !matches(q, m));
    return gone.map((m) => m.id);
  }

  async deleteInboxMessages(address: string, query = ''): Promise<InboxDeletion> {
    const inbox = address.toLowerCase();
    const q = parseQuery(query);
    const inQuery: SearchQuery = { clauses: [{ kind: 'inbox', address: inbox, negate: false }, ...q.clauses] };
    const taken = this.#messages.filter((m) => matches(inQuery, m));
    for (const m of taken) m.left.add(inbox);
    const gone = new Set(taken.filter((m) => inboxesOf(m).length === 0));
    this.#messages = this.#messages.filter((m) => !gone.has(m));
    return { removed: taken.length, deleted: [...gone].map((m) => m.id) };
  }

  async listSessions(options: SessionListOptions = {}): Promise<Page<SessionSummary>> {
    const before = decodeCursor('s', options.cursor);
    const limit = clampLimit(options.limit);
    const all = this.#sessions.filter((s) => (before === null || s.seq < before) && sessionMatches(s.detail, options)).reverse();
    const items = all.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(({ detail: { transcript: _t, ...rest } }) => rest),
      nextCursor: all.length > limit && last ? encodeCursor('s', last.seq) : null,
    };
  }

  async listInboxes(options: InboxListOptions = {}): Promise<Page<InboxSummary>> {
    const after = decodeInboxCursor(options.cursor);
    const limit = clampLimit(options.limit);
    const prefix = (options.prefix ?? '').toLowerCase();
    const counts = new Map<string, { total: number; unread: number }>();
    for (const m of this.#messages) {
      if (options.workspace !== undefined && workspaceOf(m.message.connection) !== options.workspace) continue;
      for (const address of inboxesOf(m)) {
        if (!address.startsWith(prefix) || (after !== null && address <= after)) continue;
        const c = counts.get(address) ?? { total: 0, unread: 0 };
        c.total++;
        if (!m.read) c.unread++;
        counts.set(address, c);
      }
    }
    const all = [...counts.keys()].sort(byCodePoint);
    const items = all.slice(0, limit).map((address) => ({ address, ...(counts.get(address) ?? { total: 0, unread: 0 }) }));
    const last = items[items.length - 1];
    return { items, nextCursor: all.length > limit && last ? encodeInboxCursor(last.address) : null };
  }

  async getSession(id: string): Promise<SessionDetail | null> {
    return this.#sessions.find((s) => s.detail.id === id)?.detail ?? null;
  }

  async prune(): Promise<PruneResult> {
    return this.#pruneNow();
  }

  #pruneNow(): PruneResult {
    const { maxMessages, maxAgeMs } = this.#opts;
    const now = (this.#opts.now ?? Date.now)();
    const m0 = this.#messages.length;
    const s0 = this.#sessions.length;
    if (maxAgeMs > 0) {
      this.#messages = this.#messages.filter((m) => m.receivedAt >= now - maxAgeMs);
      this.#sessions = this.#sessions.filter((s) => Date.parse(s.detail.startedAt) >= now - maxAgeMs);
    }
    if (maxMessages > 0) {
      this.#messages = this.#messages.slice(-maxMessages);
      this.#sessions = this.#sessions.slice(-maxMessages);
    }
    const perInbox = this.#opts.maxMessagesPerInbox ?? 0;
    if (perInbox > 0) {
      // Each inbox's messages, oldest first; those beyond its newest `perInbox` leave it.
      const held = new Map<string, Stored[]>();
      for (const m of this.#messages) {
        for (const a of inboxesOf(m)) {
          const list = held.get(a);
          if (list === undefined) held.set(a, [m]);
          else list.push(m);
        }
      }
      for (const [address, list] of held) for (const m of list.slice(0, -perInbox)) m.left.add(address);
      this.#messages = this.#messages.filter((m) => inboxesOf(m).length > 0);
    }
    return { messages: m0 - this.#messages.length, sessions: s0 - this.#sessions.length };
  }

  stats(): StoreStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#indexer.close(), this.#reader.close()]);
  }
}

/** Code-point order, as SQLite's BINARY and PostgreSQL's "C" collation compare (lowercased addresses). */
export const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function summary(m: Stored): MessageSummary {
  const env = m.message.envelope;
  return {
    id: m.id, receivedAt: new Date(m.receivedAt).toISOString(), size: m.raw.byteLength, read: m.read, ...m.summary,
    envelope: { helo: env.helo, from: env.from, to: [...env.to] },
  };
}

/** The inboxes a message is in: its envelope recipients, lowercased, once each, less those it was taken out of. */
function inboxesOf(m: Stored): string[] {
  return [...new Set(m.message.envelope.to.map((a) => a.toLowerCase()))].filter((a) => !m.left.has(a));
}

/** The same meaning as sqlite-search.ts: a text term is a phrase of tokens in any one full-text column. */
export function matches(q: SearchQuery, m: Stored): boolean {
  return q.clauses.every((c) => {
    switch (c.kind) {
      case 'text': {
        const tokens = textTokens(c.value);
        if (tokens.length === 0) return true;
        const phrase = ` ${tokens.join(' ')} `;
        return m.fts.some((col) => col.includes(phrase)) !== c.negate;
      }
      case 'field': {
        const col = c.field === 'from' ? m.search.fromLc : c.field === 'to' ? m.search.toLc : m.search.subjectLc;
        return col.includes(c.value) !== c.negate;
      }
      case 'before':
        return m.receivedAt < c.at;
      case 'after':
        return m.receivedAt >= c.at;
      case 'has-attachment':
        return m.search.hasAttachment !== c.negate;
      case 'read':
        return m.read === c.read;
      case 'inbox':
        return inboxesOf(m).includes(c.address) !== c.negate;
      case 'workspace':
        return (workspaceOf(m.message.connection) === c.name) !== c.negate;
      case 'id':
        return (m.id === c.id) !== c.negate;
      default:
        return assertNever(c);
    }
  });
}
