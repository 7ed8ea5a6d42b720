/**
 * Messages between SqliteStore (main thread) and its writer thread (./sqlite-worker.ts). Plain structured-clone data;
 * a message op's bytes travel in the transfer list when the store may give them away.
 */
import type { Envelope } from '../../smtp/core/types.js';
import type { SearchQuery } from '../query.js';
import type {
  InboxSummary, AttachmentInfo, ConnectionInfo, JsonPage, MessageCount, MessageDetail, MessageSummary, Page, SessionDetail, SessionEnd, SessionSummary,
} from '../types.js';
import type { SessionFilter } from '../session-filter.js';

/** A save's deadline as it crosses to the writer: `cell` stays shared (a SharedArrayBuffer), see ../deadline.ts. */
export type OpDeadline = Readonly<{ at: number; cell: Int32Array }>;

export type WriteOp =
  | Readonly<{ op: 'message'; id: string; receivedAt: number; raw: Uint8Array; envelope: Envelope; connection: ConnectionInfo; deadline: OpDeadline }>
  | Readonly<{
      op: 'session'; id: string; startedAt: number; endedAt: number; end: SessionEnd;
      /** JSON, made on the SMTP thread: a string crosses to the writer far cheaper than the object graph. */
      connection: string; messageIds: string; transcript: string; truncated: boolean;
      /** What the client said (../session-said.ts), as JSON. */
      said: string;
    }>
  | Readonly<{ op: 'set-read'; id: string; read: boolean }>
  | Readonly<{ op: 'delete'; id: string }>
  | Readonly<{ op: 'delete-query'; query: SearchQuery }>
  /** Sets the read flag of the indexed messages `query` finds; `count` is how many changed. */
  | Readonly<{ op: 'set-read-query'; query: SearchQuery; read: boolean }>
  /** Takes the messages of inbox `address` that `query` (holding that inbox: clause) finds out of it; see deleteInboxMessages. */
  | Readonly<{ op: 'delete-inbox'; address: string; query: SearchQuery }>;

/**
 * Per op: `count` is rows affected (1 for a stored message; for delete-inbox, the messages taken out of the inbox),
 * `ids` the ids a delete-query or delete-inbox deleted. A failure says whether it was for want of room (SQLITE_FULL:
 * disk full or max_page_count), which the server answers differently.
 */
export type OpResult = Readonly<{ ok: true; count: number; ids: string[] }> | Readonly<{ ok: false; error: string; full: boolean }>;

/** Hooks for tests only, never set by the CLI's documented options. */
export type WriterTesting = Readonly<{
  /** The indexer does nothing after start-up (recovery still runs): messages stay durable but unsearchable. */
  pauseIndexer?: boolean;
  /** The writer sleeps this long before each durable commit: a stalled disk. */
  stallCommitsMs?: number;
  /** PRAGMA max_page_count on the writer's connection: a small disk. */
  maxPageCount?: number;
  /** Appends that would take the segment log past this many bytes fail as on a full disk (ENOSPC). */
  maxLogBytes?: number;
}>;

export type WriterConfig = Readonly<{
  file: string; segmentsDir: string; segmentSize: number; maxMessages: number; maxMessagesPerInbox: number; maxAgeMs: number; testing: WriterTesting;
}>;

/**
 * How a commit was made, read back from the writer's connection: what a test of the fsync checks. `logSynced`: the
 * commit held message records, and their segment was fdatasync'd before it (the fsync behind the 250).
 */
export type Durability = Readonly<{ journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra'; logSynced: boolean }>;

/** Where the index stands: messages durable but not yet searchable, and since when the oldest of them waits. */
export type IndexState = Readonly<{ backlog: number; oldestPendingAt: number | null }>;

/**
 * The writes and prunes travel on a RequestChannel (../../request-channel.ts) of this name, the calls of one tick in
 * one message; the writer commits whatever calls have arrived, together. A write's answer is its op's result
 * ({ count, ids }), or a failure coded 'full' (no room: SMTP 452) or 'expired' (past its deadline: left out, not stored).
 */
export const WRITER_CHANNEL = 'sqlite-writer';
export type WriterCall = Readonly<{ kind: 'write'; op: WriteOp }> | Readonly<{ kind: 'prune' }>;
export type WriterAnswers = {
  write: Readonly<{ count: number; ids: string[] }>;
  prune: Readonly<{ messages: number; sessions: number }>;
};

/** Besides the calls: the order to commit what was sent, close the database and exit. */
export type WriterRequest = Readonly<{ type: 'close' }>;

/** What the writer says besides its answers. */
export type WriterReply =
  /** Opened, and every message left unindexed by the last run indexed (`recovered` of them, in `recoveryMs`). */
  | Readonly<{ type: 'ready'; version: number; recovered: number; recoveryMs: number; index: IndexState }>
  | Readonly<{ type: 'open-failed'; error: string }>
  /** A transaction committed (posted just before its answers). */
  | Readonly<{ type: 'committed'; index: IndexState; durability: Durability }>
  /** Messages that became searchable, as a JSON array of MessageSummary (parsed only if someone listens). */
  | Readonly<{ type: 'indexed'; summaries: string; count: number; index: IndexState }>
  | Readonly<{ type: 'closed' }>;

// ---- the reader thread (./sqlite-reader.ts): queries and parses on read, off the SMTP thread --------------------

/** What the main thread asks the reader; queries, cursors and ids are checked on the main thread first. */
export type ReadRequest =
  | Readonly<{ kind: 'list'; query: SearchQuery; before: number | null; limit: number }>
  | Readonly<{ kind: 'list-json'; query: SearchQuery; before: number | null; limit: number }>
  | Readonly<{ kind: 'next-match'; query: SearchQuery; after: number | null }>
  | Readonly<{ kind: 'count'; query: SearchQuery }>
  | Readonly<{ kind: 'matches-after'; query: SearchQuery; after: number; limit: number }>
  | Readonly<{ kind: 'message'; id: string }>
  | Readonly<{ kind: 'raw'; id: string }>
  | Readonly<{ kind: 'attachment'; id: string; index: number }>
  | Readonly<{ kind: 'sessions'; before: number | null; limit: number; filter: SessionFilter }>
  | Readonly<{ kind: 'session'; id: string }>
  | Readonly<{ kind: 'inboxes'; prefix: string; after: string | null; limit: number; workspace?: string }>
  | Readonly<{ kind: 'message-workspace'; id: string }>;

/** The answer to each kind of ReadRequest. */
export type ReadAnswers = {
  list: Page<MessageSummary>;
  'list-json': JsonPage;
  'next-match': { message: MessageSummary; cursor: string } | null;
  count: MessageCount;
  'matches-after': readonly { message: MessageSummary; cursor: string }[];
  message: MessageDetail | null;
  raw: Uint8Array | null;
  attachment: Readonly<{ info: AttachmentInfo; content: Uint8Array }> | null;
  sessions: Page<SessionSummary>;
  session: SessionDetail | null;
  inboxes: Page<InboxSummary>;
  'message-workspace': string | null;
};

/** The reads travel on a RequestChannel (../../request-channel.ts) of this name; this asks the thread to close. */
export const READER_CHANNEL = 'sqlite-reader';
export type ReaderClose = Readonly<{ type: 'close' }>;
