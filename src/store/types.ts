/**
 * What the server hands to a store. The store knows nothing of sockets or HTTP; the server knows nothing of how a
 * store keeps things. Kept free of SQL-isms so that an embedded and a shared (PostgreSQL) store both fit.
 */
import type { Envelope } from '../smtp/core/types.js';
import type { SaveDeadline } from './deadline.js';
import type { SessionFilter } from './session-filter.js';
import type { WorkspaceRegistry } from './workspace.js';

export type DialectName = 'simplified' | 'smtp';

/** Facts about the connection a message or session came over, recorded beside it. */
export type ConnectionInfo = Readonly<{
  clientAddress: string;
  clientPort: number;
  serverAddress: string;
  serverPort: number;
  dialect: DialectName;
  tls: boolean;
  /** The authenticated user name, when the client used AUTH. */
  authUser?: string;
  /** Sessions only: the rules (numbered from 1) that injected a fault in it, in order (see src/faults). */
  faults?: readonly number[];
  /**
   * The workspace (./workspace.ts) the message was delivered to, or the one session belongs to; absent: `default` for
   * a message, no workspace (admins only) for a session. Set by the workspace router, never by the SMTP server.
   */
  workspace?: string;
}>;

export type IncomingMessage = Readonly<{
  envelope: Envelope;
  connection: ConnectionInfo;
  receivedAt: Date;
  /** The message exactly as received, after dot-unstuffing (and with a Received: header where the dialect adds one). */
  raw: Buffer;
  /**
   * True when the caller gives `raw`'s memory away: a store may then move it to another thread without a copy, and
   * `raw` must not be used after save() is called (it may read as empty). Absent or false: the store copies.
   */
  transferRaw?: boolean;
  /**
   * When the save must be answered by (see ./deadline.ts): a store take()s it just before the commit that holds it and
   * leaves it out if that fails (it was answered 451). Set by withDeadline; absent when a caller stores directly.
   */
  deadline?: SaveDeadline;
}>;

/** One line of a session transcript. Message text is counted, never copied; AUTH arguments are redacted. */
export type TranscriptLine = Readonly<{
  /** Milliseconds since the epoch. */
  at: number;
  dir: 'client' | 'server' | 'info';
  text: string;
  /** On server lines: how long the server took to answer the command before it, in milliseconds. */
  responseMs?: number;
}>;

/** 'fault': closed by an injected fault (a disconnect, or a 421 reply; see src/faults). */
export type SessionEnd = 'quit' | 'client-closed' | 'timeout' | 'shutdown' | 'error' | 'refused' | 'fault';

export type SessionRecord = Readonly<{
  /** Optional: the server may name the session itself (so it can emit `session-ended` at once); else the store does. */
  id?: string;
  connection: ConnectionInfo;
  startedAt: Date;
  endedAt: Date;
  end: SessionEnd;
  /** Ids of the messages stored during the session. */
  messageIds: readonly string[];
  transcript: readonly TranscriptLine[];
  /** True when the transcript was cut at its cap. */
  truncated: boolean;
}>;

/** The part of a store the SMTP server uses. */
export interface MessageSink {
  /**
   * Resolves with the message's id only once its raw bytes, envelope and connection facts are durable (fsync'd): the
   * server sends its 250 after this, never before. Parsing and indexing come after. A save with a `deadline` is taken
   * (deadline.take()) before the commit that holds it, and left out of it if that says no; the connection's
   * withDeadline answers 451 at the deadline for a save not taken. Rejects with StoreFullError when out of room.
   */
  save(message: IncomingMessage): Promise<string>;
  /** Records a finished session; best effort, never delays a reply. Resolves with the session's id ('' for none). */
  saveSession(session: SessionRecord): Promise<string | void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// What the API reads back. Everything is plain JSON-able data (dates as ISO strings) so it can cross a worker
// boundary or an HTTP response unchanged.

export type Mailbox = Readonly<{ name: string; address: string }>;

export type AttachmentInfo = Readonly<{
  /** Position among the message's attachments, from 0: the `{n}` of the download URL. */
  index: number;
  filename: string;
  contentType: string;
  /** Decoded size in bytes. */
  size: number;
  contentId: string | null;
  disposition: 'attachment' | 'inline' | null;
}>;

/** What a listing shows: parsed once at ingest, never from the raw bytes again. */
export type MessageSummary = Readonly<{
  id: string;
  /** ISO 8601. */
  receivedAt: string;
  /** Raw size in bytes. */
  size: number;
  read: boolean;
  from: Mailbox | null;
  to: readonly Mailbox[];
  cc: readonly Mailbox[];
  subject: string;
  /** The Date: header as ISO 8601, or null when absent or unparsable. */
  date: string | null;
  messageId: string | null;
  attachmentCount: number;
  /** The start of the text body, whitespace collapsed. */
  snippet: string;
  /**
   * True when the index read its headers alone (subject, addresses, date): its body was past the index's CPU budget or
   * postal-mime refused it. The raw bytes are kept whole; only body search and the snippet miss it.
   */
  indexLimited: boolean;
  envelope: Envelope;
}>;

export type MessageDetail = MessageSummary &
  Readonly<{
    connection: ConnectionInfo;
    headers: readonly Readonly<{ name: string; value: string }>[];
    text: string;
    html: string;
    attachments: readonly AttachmentInfo[];
    /** The server's verdict: does the HTML load anything from the network when shown (images, stylesheets, fonts)? */
    remoteContent: boolean;
  }>;

export type AttachmentContent = Readonly<{ info: AttachmentInfo; content: Buffer }>;

export type SessionSummary = Readonly<{
  id: string;
  startedAt: string;
  endedAt: string;
  end: SessionEnd;
  connection: ConnectionInfo;
  messageIds: readonly string[];
  truncated: boolean;
  /** What the client said (./session-said.ts): the HELO/EHLO name, the first MAIL FROM, the RCPT TOs; null/[] when none. */
  helo: string | null;
  mailFrom: string | null;
  rcptTo: readonly string[];
}>;

export type SessionDetail = SessionSummary & Readonly<{ transcript: readonly TranscriptLine[] }>;

/** One page, newest first; `nextCursor` is opaque and null on the last page. */
export type MessageCount = Readonly<{ total: number; unread: number }>;

export type Page<T> = Readonly<{ items: readonly T[]; nextCursor: string | null }>;

/** A Page with its items as the text of their JSON array, exactly `JSON.stringify(page.items)`. */
export type JsonPage = Readonly<{ itemsJson: string; nextCursor: string | null }>;

export type ListOptions = Readonly<{
  /** Search syntax of ./query.ts; empty or absent lists everything. */
  query?: string;
  /** 1..1000, default 50. */
  limit?: number;
  cursor?: string | null;
}>;

export type SessionListOptions = Omit<ListOptions, 'query'> & SessionFilter;

/** An inbox: an envelope recipient address (lowercased; plus-addresses as written) and its messages. */
export type InboxSummary = Readonly<{ address: string; total: number; unread: number }>;

/** What deleteInboxMessages did: `removed` messages left the inbox; those of `deleted` are gone for good. */
export type InboxDeletion = Readonly<{ removed: number; deleted: string[] }>;

export type InboxListOptions = Readonly<{
  /** Only addresses starting with this (case-insensitive). */
  prefix?: string;
  /** 1..1000, default 50. */
  limit?: number;
  cursor?: string | null;
  /** Only the inboxes of this workspace's messages (./workspace-scope.ts sets it). */
  workspace?: string;
}>;

export type StoreStats = Readonly<{
  /** save() calls that resolved. */
  saved: number;
  /** Write transactions committed: with group commit this is at most `saved`, usually far fewer. */
  transactions: number;
  /** save() calls that rejected. */
  failed: number;
}>;

export type PruneResult = Readonly<{ messages: number; sessions: number }>;

/**
 * The whole store: what the server writes through (MessageSink) and what the API reads. No SQL here, so a
 * PostgreSQL backend fits behind the same interface. Unknown or malformed ids give null/false, never a throw;
 * a malformed query or cursor throws a StoreInputError (the API's 400).
 */
export interface MessageStore extends MessageSink {
  readonly kind: 'sqlite' | 'memory' | 'postgres';
  saveSession(session: SessionRecord): Promise<string>;
  listMessages(options?: ListOptions): Promise<Page<MessageSummary>>;
  /**
   * The same page as listMessages, its items already JSON: what the API sends. A store whose reads run on a thread of
   * their own makes the text there, so the SMTP thread neither copies the objects across nor stringifies them.
   */
  listMessagesJson(options?: ListOptions): Promise<JsonPage>;
  getMessage(id: string): Promise<MessageDetail | null>;
  getRaw(id: string): Promise<Buffer | null>;
  /** The n-th attachment (from 0), decoded; null if the message or the attachment does not exist. */
  getAttachment(id: string, index: number): Promise<AttachmentContent | null>;
  /** False when no such message. */
  setRead(id: string, read: boolean): Promise<boolean>;
  /** Sets the read flag of every searchable message the query matches ("mark all read"); resolves with how many changed. */
  setReadMatching(query: string, read: boolean): Promise<number>;
  deleteMessage(id: string): Promise<boolean>;
  /** Deletes every message the query matches (all of them for an empty query); resolves with their ids. */
  deleteMessages(query?: string): Promise<string[]>;
  /**
   * Takes the messages of one inbox (those `inbox:ADDRESS` finds, narrowed by `query`) out of that inbox only: they are
   * no longer listed under it nor found by `inbox:ADDRESS`, and its counts drop. A message still in another of its
   * inboxes stays there; one no inbox holds any more is deleted. Resolves with how many left the inbox and the ids of
   * the messages deleted.
   */
  deleteInboxMessages(address: string, query?: string): Promise<InboxDeletion>;
  /**
   * For long-polling: with `after` null, the newest message matching `query`; with a cursor, the oldest matching
   * message stored after it. `cursor` names the returned message's position, to pass as the next `after`.
   */
  nextMatch(query: string, after: string | null): Promise<{ message: MessageSummary; cursor: string } | null>;
  /**
   * How many searchable messages the query matches (all of them for an empty query), and how many of those are unread:
   * the exact total of the pages listMessages gives for it. A count, not a listing: one pass over an index, no summary
   * read (see README for its cost).
   */
  countMessages(query?: string): Promise<MessageCount>;
  /**
   * Oldest first: up to `limit` (at most 10,000) messages matching `query` stored after cursor `after` (null: from the
   * first), each with its cursor, as repeated nextMatch calls from `after` would give, in one read (an IMAP SELECT of
   * a large inbox; src/mailbox/inbox-view.ts).
   */
  matchesAfter(query: string, after: string | null, limit: number): Promise<readonly { message: MessageSummary; cursor: string }[]>;
  /** Newest first; the filter narrows them (failed only, one client, an address in MAIL FROM or RCPT TO). */
  listSessions(options?: SessionListOptions): Promise<Page<SessionSummary>>;
  /**
   * The inboxes of the searchable messages, in address order: every envelope recipient address with its message counts.
   * Messages of one inbox are those the query `inbox:ADDRESS` finds.
   */
  listInboxes(options?: InboxListOptions): Promise<Page<InboxSummary>>;
  getSession(id: string): Promise<SessionDetail | null>;
  /** Applies retention now (it also runs by itself after commits); resolves once done. */
  prune(): Promise<PruneResult>;
  stats(): StoreStats;
  /**
   * Called once per message when it becomes searchable (listed, found by search and by nextMatch): after a save,
   * for messages recovered (indexed) at start, and for a shared store (PostgreSQL) when any instance indexed it.
   * Returns the function that unsubscribes.
   */
  onIndexed(listener: (message: MessageSummary) => void): () => void;
  health(): StoreHealth;
  /**
   * The workspace of a stored message (indexed or not yet), `default` for one stored without; null when there is no
   * such message. What a workspace's handle (./workspace-scope.ts) checks before it reads or changes a message by id.
   */
  messageWorkspace(id: string): Promise<string | null>;
  /** Where this store keeps its workspaces (./workspace.ts). */
  readonly workspaces: WorkspaceRegistry;
  /**
   * PostgreSQL only: runs `read` with its queries under row-level security for `workspace`, a second wall behind the
   * workspace handle's filter (./workspace-scope.ts calls it for every read). Absent: the handle is the one wall.
   */
  readAsWorkspace?<T>(workspace: string, read: () => Promise<T>): Promise<T>;
  /** The webhooks made through the API and their deliveries (src/webhooks reads and writes them). */
  readonly outbox: WebhookOutbox;
  /** What open() found durable but not yet indexed from the last run, and indexed before it resolved. */
  readonly recovered?: Readonly<{ messages: number; ms: number }>;
}

/** What /healthz and /metrics show of the store. */
export type StoreHealth = Readonly<{
  /** False while the store cannot take mail (database unreachable, writer dead and restarting, disk full). */
  ok: boolean;
  /** Why not ok; null when ok. */
  reason: string | null;
  /** Messages durable (250 sent) but not yet searchable. */
  indexBacklog: number;
  /** Age in ms of the oldest message in the backlog (0 when the backlog is empty). */
  indexLagMs: number;
  /** Set while saves wait too long for the store (see deadline.ts): /healthz then answers 503 `degraded`, this reason. */
  degraded?: string;
}>;

export type StoreKind = 'sqlite' | 'memory' | 'postgres' | 'none';

export type StoreOptions = Readonly<{
  kind: StoreKind;
  /** For sqlite: the directory holding mailwire.sqlite; created if missing. Default ./data. */
  dataDir?: string;
  /** Keep at most this many messages (and as many sessions); 0 = unlimited. Default 10,000. */
  maxMessages?: number;
  /**
   * An inbox holding more than this many messages drops its oldest from that inbox (as deleteInboxMessages does: a
   * message no inbox holds any more is deleted); 0 or absent = unlimited.
   */
  maxMessagesPerInbox?: number;
  /** Drop messages and sessions older than this; 0 or absent = forever. */
  maxAgeMs?: number;
  /** For postgres (also from MAILWIRE_DATABASE_URL in the CLI). */
  databaseUrl?: string;
  /** How long a save may wait (and a read, and a PostgreSQL query); default DEFAULT_STORE_TIMEOUT_MS (CLI --store-timeout). */
  storeTimeoutMs?: number;
  /** For sqlite: a new segment of the message log is started past this many bytes; default 64 MiB (CLI --segment-size). */
  segmentSize?: number;
}>;

// ---------------------------------------------------------------------------------------------------------------
// Webhooks (issue 30): the webhooks made through the API and the outbox of their deliveries, kept by the store so
// that a restart, a SIGKILL or a second instance on the same database loses no event (src/webhooks delivers them).

export type WebhookEventName = 'message-stored' | 'message-deleted' | 'session-ended' | 'relay-finished';
/** What a delivery carries: the summary (default), the whole message as JSON (text, HTML, attachment list), or the .eml. */
export type WebhookPayloadKind = 'summary' | 'message' | 'raw';

export type WebhookRecord = Readonly<{
  id: string;
  url: string;
  events: readonly WebhookEventName[];
  /** Search syntax a message must match ('' for all). */
  query: string;
  payload: WebhookPayloadKind;
  /** Standard Webhooks form, whsec_<base64>. */
  secret: string;
  /** ISO 8601. */
  createdAt: string;
}>;

/** One attempt at a delivery. */
export type DeliveryAttempt = Readonly<{
  /** ISO 8601. */
  at: string;
  /** The receiver's HTTP status; null when there was none (network error, timeout, refused by the guard). */
  status: number | null;
  ms: number;
  /** The first 1 KiB of the answer's body (as UTF-8, lossy). */
  response: string;
  /** Why it failed without a status; null otherwise. */
  error: string | null;
}>;

export type DeliveryState = 'pending' | 'delivering' | 'delivered' | 'failed';

/** An event on its way to one webhook: its id is the webhook-id header, the same on every attempt. */
export type WebhookDelivery = Readonly<{
  id: string;
  webhookId: string;
  event: WebhookEventName;
  /** The message or session the event is about. */
  subject: string;
  /** Epoch milliseconds. */
  createdAt: number;
  state: DeliveryState;
  /** Epoch milliseconds of the next attempt (pending), else null. */
  nextAt: number | null;
  attempts: readonly DeliveryAttempt[];
  /** The event's data as JSON text, fixed when it was recorded. */
  data: string;
}>;

/** A delivery to record: `id` is derived from the webhook and the event, so recording it twice keeps one. */
export type NewDelivery = Omit<WebhookDelivery, 'state' | 'nextAt' | 'attempts'>;

/** What settling an attempt leads to. */
export type DeliveryNext = Readonly<{ state: 'delivered' | 'failed' }> | Readonly<{ state: 'pending'; at: number }>;

/**
 * The store's webhook tables. Every instance on one PostgreSQL database shares them: claim() hands each due delivery
 * to one caller (FOR UPDATE SKIP LOCKED) for `leaseMs`, after which an unsettled one (its instance died) is due again.
 */
export interface WebhookOutbox {
  listWebhooks(): Promise<WebhookRecord[]>;
  /** Creates or replaces. */
  putWebhook(hook: WebhookRecord): Promise<void>;
  /** Also forgets its deliveries. False when no such webhook. */
  deleteWebhook(id: string): Promise<boolean>;
  /**
   * Records deliveries (one already recorded is left as it is), then keeps at most `bound` pending ones per webhook
   * touched, dropping the oldest: resolves with how many were new and how many were dropped per webhook.
   */
  enqueue(deliveries: readonly NewDelivery[], bound: number): Promise<Readonly<{ added: number; dropped: Readonly<Record<string, number>> }>>;
  /** Up to `limit` deliveries due at `now` (pending, or delivering past their lease), oldest first, now this caller's. */
  claim(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]>;
  /** Adds the attempt and moves the delivery on; a delivery gone meanwhile (webhook deleted) is ignored. */
  settle(id: string, attempt: DeliveryAttempt | null, next: DeliveryNext): Promise<void>;
  /** Newest first. */
  listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]>;
  getDelivery(id: string): Promise<WebhookDelivery | null>;
  /** Makes a delivery of this webhook due at `now` again (whatever its state); false when there is none. */
  retryDelivery(webhookId: string, id: string, now: number): Promise<boolean>;
  /** Forgets settled (delivered, failed) deliveries of each webhook beyond its newest `keep`. */
  trimSettled(keep: number): Promise<number>;
}
