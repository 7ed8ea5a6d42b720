/**
 * Messages between SqliteStore (main thread) and its writer thread (./sqlite-worker.ts). Plain structured-clone data;
 * a message op's bytes travel in the transfer list when the store may give them away.
 */
import type { Envelope } from '../../smtp/core/types.js';
import type { SearchQuery } from '../query.js';
import type {
  InboxSummary, AttachmentInfo, ConnectionInfo, JsonPage, MessageDetail, MessageSummary, Page, SessionDetail, SessionEnd, SessionSummary,
} from '../types.js';
import type { SessionFilter } from '../session-filter.js';

export type WriteOp =
  | Readonly<{ op: 'message'; id: string; receivedAt: number; raw: Uint8Array; envelope: Envelope; connection: ConnectionInfo }>
  | Readonly<{
      op: 'session'; id: string; startedAt: number; endedAt: number; end: SessionEnd;
      /** JSON, made on the SMTP thread: a string crosses to the writer far cheaper than the object graph. */
      connection: string; messageIds: string; transcript: string; truncated: boolean;
    }>
  | Readonly<{ op: 'set-read'; id: string; read: boolean }>
  | Readonly<{ op: 'delete'; id: string }>
  | Readonly<{ op: 'delete-query'; query: SearchQuery }>
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
}>;

export type WriterConfig = Readonly<{ file: string; maxMessages: number; maxMessagesPerInbox: number; maxAgeMs: number; testing: WriterTesting }>;

/** How a commit was made, read back from the writer's connection: what a test of the fsync checks. */
export type Durability = Readonly<{ journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra' }>;

/** Where the index stands: messages durable but not yet searchable, and since when the oldest of them waits. */
export type IndexState = Readonly<{ backlog: number; oldestPendingAt: number | null }>;

export type WriterRequest =
  /** Ops numbered by the main thread; the writer commits whatever has arrived, together. */
  | Readonly<{ type: 'ops'; ops: { n: number; op: WriteOp }[] }>
  | Readonly<{ type: 'prune'; request: number }>
  | Readonly<{ type: 'close' }>;

export type WriterReply =
  /** Opened, and every message left unindexed by the last run indexed (`recovered` of them, in `recoveryMs`). */
  | Readonly<{ type: 'ready'; version: number; recovered: number; recoveryMs: number; index: IndexState }>
  | Readonly<{ type: 'open-failed'; error: string }>
  /** One transaction: `committed` false means it rolled back and every op in `ns` failed with `error`. */
  | Readonly<{ type: 'done'; committed: true; ns: number[]; results: OpResult[]; index: IndexState; durability: Durability }>
  | Readonly<{ type: 'done'; committed: false; ns: number[]; error: string; full: boolean }>
  /** Messages that became searchable, as a JSON array of MessageSummary (parsed only if someone listens). */
  | Readonly<{ type: 'indexed'; summaries: string; count: number; index: IndexState }>
  | Readonly<{ type: 'pruned'; request: number; messages: number; sessions: number }>
  | Readonly<{ type: 'closed' }>;

// ---- the reader thread (./sqlite-reader.ts): queries and parses on read, off the SMTP thread --------------------

/** What the main thread asks the reader; queries, cursors and ids are checked on the main thread first. */
export type ReadRequest =
  | Readonly<{ kind: 'list'; query: SearchQuery; before: number | null; limit: number }>
  | Readonly<{ kind: 'list-json'; query: SearchQuery; before: number | null; limit: number }>
  | Readonly<{ kind: 'next-match'; query: SearchQuery; after: number | null }>
  | Readonly<{ kind: 'message'; id: string }>
  | Readonly<{ kind: 'raw'; id: string }>
  | Readonly<{ kind: 'attachment'; id: string; index: number }>
  | Readonly<{ kind: 'sessions'; before: number | null; limit: number; filter: SessionFilter }>
  | Readonly<{ kind: 'session'; id: string }>
  | Readonly<{ kind: 'inboxes'; prefix: string; after: string | null; limit: number }>;

/** The answer to each kind of ReadRequest. */
export type ReadAnswers = {
  list: Page<MessageSummary>;
  'list-json': JsonPage;
  'next-match': { message: MessageSummary; cursor: string } | null;
  message: MessageDetail | null;
  raw: Uint8Array | null;
  attachment: Readonly<{ info: AttachmentInfo; content: Uint8Array }> | null;
  sessions: Page<SessionSummary>;
  session: SessionDetail | null;
  inboxes: Page<InboxSummary>;
};

export type ReaderMessage = Readonly<{ n: number; request: ReadRequest }> | Readonly<{ n: 0; request: 'close' }>;
export type ReaderReply = Readonly<{ n: number; ok: true; value: ReadAnswers[keyof ReadAnswers] }> | Readonly<{ n: number; ok: false; error: string }>;
