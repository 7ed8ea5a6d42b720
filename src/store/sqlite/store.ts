/**
 * The SQLite store, main-thread side: no SQL runs here. Writes go to the writer thread (./sqlite-writer.ts): the ops
 * made in one tick travel together in one message, message bytes transferred rather than copied, and the writer
 * commits everything that reached it in one transaction (group commit), so twenty concurrent senders share an fsync.
 * A save resolves once its bytes are durable; the writer indexes the message just after and this side announces it
 * (onIndexed). Reads go to the reader thread (./sqlite-reader.ts), so a search or a large message's parse never holds
 * up the SMTP sessions on this thread.
 *
 * Bounded waits: every write has a deadline (a save's own, see ../deadline.ts; storeTimeoutMs for the rest), and a save
 * travels to the writer with it: the writer takes the save just before the commit that holds it, or leaves it out once
 * its deadline has cut it, so a save refused 451 is never stored later. If the writer thread dies, what it had rejects
 * with StoreUnavailableError and a new writer is started (its start indexes whatever the dead one had committed but
 * not indexed); what it had not been sent yet goes to the new one. A write that finds no room rejects with
 * StoreFullError. The hops to both threads are RequestChannels (../../request-channel.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { timeOrderedId, validId } from '../ids.js';
import { parseQuery } from '../query.js';
import { clampLimit, decodeCursor, decodeInboxCursor } from '../cursor.js';
import { StoreClosedError, StoreFullError, StoreUnavailableError, StoreWriteError } from '../errors.js';
import { ListenerSet } from '../listeners.js';
import { sessionSaid } from '../session-said.js';
import { ReaderThread } from './reader-thread.js';
import { SqliteOutbox } from './outbox.js';
import { DEFAULT_SEGMENT_SIZE } from './segment-log.js';
import { WRITER_CHANNEL, type IndexState, type WriteOp, type WriterAnswers, type WriterCall, type WriterConfig, type WriterReply, type WriterRequest, type WriterTesting } from './protocol.js';
import { storeTimeoutOf } from '../../config.js';
import { RequestChannel, threadEndpoint, type CallDeadline } from '../../request-channel.js';
import { SaveDeadline, pastDeadline } from '../deadline.js';
import type {
  AttachmentContent, InboxDeletion, InboxListOptions, SessionListOptions, InboxSummary, IncomingMessage, JsonPage, ListOptions, MessageDetail, MessageStore, MessageSummary, Page, PruneResult,
  SessionDetail, SessionRecord, SessionSummary, StoreHealth, StoreStats,
} from '../types.js';
import type { MessageCount } from '../types.js';
import { logError } from '../../log.js';
import type { WorkspaceRegistry } from '../workspace.js';
import { SqliteWorkspaceRegistry } from './workspaces.js';

export const SQLITE_FILE_NAME = 'mailwire.sqlite';
/** The segment log's folder in the data directory (./segment-log.ts). */
export const SEGMENTS_DIR_NAME = 'segments';
/** A writer that keeps dying is started again after 0.1 s, then 0.2, 0.4 … up to this. */
const MAX_RESTART_DELAY_MS = 30_000;

export type SqliteTesting = WriterTesting & Readonly<{
  /** Called with each writer thread started (the first and every restart), so a test can end one. */
  onWriter?: (writer: Worker) => void;
}>;

export type SqliteStoreOptions = Readonly<{
  dataDir: string;
  maxMessages: number;
  /** 0 or absent: unlimited (see StoreOptions). */
  maxMessagesPerInbox?: number;
  maxAgeMs: number;
  storeTimeoutMs?: number;
  /** A new segment of the log is started past this many bytes (default 64 MiB). */
  segmentSize?: number;
  /** Test hooks only (see WriterTesting). */
  testing?: SqliteTesting;
}>;

export async function openSqliteStore(options: SqliteStoreOptions): Promise<MessageStore> {
  mkdirSync(options.dataDir, { recursive: true });
  const store = new SqliteStore(options);
  try {
    await store.opened;
  } catch (e) {
    await store.close();
    throw e;
  }
  store.announceRecovered();
  return store;
}

type Done = WriterAnswers['write'];

/** matchesAfter's limit: 1 to 10,000. */
const clampMatches = (n: number): number => (Number.isSafeInteger(n) ? Math.min(10_000, Math.max(1, n)) : 10_000);

class SqliteStore implements MessageStore {
  readonly kind = 'sqlite' as const;
  readonly outbox: SqliteOutbox;
  readonly #config: WriterConfig;
  readonly #testing: SqliteTesting;
  readonly #timeoutMs: number;
  readonly #reader: ReaderThread;
  #writer: Worker | null = null;
  /** The writer has answered 'ready': ops may be posted. */
  #writerReady = false;
  /** Writers that died in a row, for the restart delay. */
  #deaths = 0;
  /** Writes and prunes: the calls of one tick in one message, held while no writer is ready. */
  readonly #writes: RequestChannel<WriterCall, WriterAnswers>;
  #restartTimer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  readonly #stats = { saved: 0, transactions: 0, failed: 0 };
  readonly #listeners = new ListenerSet<MessageSummary>('sqlite store');
  /** Messages indexed before open() resolved (recovery), announced on the turn after, to whoever subscribed by then. */
  #early: MessageSummary[] | null = [];
  #index: IndexState = { backlog: 0, oldestPendingAt: null };
  /** Why no message can be taken now (writer dead or restarting), or null. */
  #unavailable: string | null = null;
  /** Set by a message refused for want of room, cleared by the next message stored. */
  #full: string | null = null;
  recovered: { messages: number; ms: number } = { messages: 0, ms: 0 };
  readonly opened: Promise<void>;
  readonly #workspaces: SqliteWorkspaceRegistry;

  constructor(options: SqliteStoreOptions) {
    const file = join(options.dataDir, SQLITE_FILE_NAME);
    this.#workspaces = new SqliteWorkspaceRegistry(options.dataDir);
    const { onWriter: _onWriter, ...writerTesting } = options.testing ?? {};
    this.#config = {
      file, segmentsDir: join(options.dataDir, SEGMENTS_DIR_NAME), segmentSize: options.segmentSize ?? DEFAULT_SEGMENT_SIZE, maxMessages: options.maxMessages, maxMessagesPerInbox: options.maxMessagesPerInbox ?? 0, maxAgeMs: options.maxAgeMs, testing: writerTesting,
    };
    this.#testing = options.testing ?? {};
    this.#timeoutMs = storeTimeoutOf(options);
    this.#reader = new ReaderThread(file, this.#config.segmentsDir, this.#timeoutMs);
    this.outbox = new SqliteOutbox(options.dataDir);
    this.#writes = new RequestChannel<WriterCall, WriterAnswers>({
      channel: WRITER_CHANNEL, name: 'store writer', batch: true, waitForReady: true,
      onOther: (m) => this.#onMessage(m as WriterReply),
      failure: (error, code) => this.#failure(error, code),
    });
    this.opened = this.#startWriter().then((ready) => {
      this.recovered = { messages: ready.recovered, ms: ready.recoveryMs };
    });
  }

  // ---- the writer thread -----------------------------------------------------------------------------------------

  /** Starts a writer; resolves with its 'ready' (after it indexed what an earlier run left), rejects if it cannot open. */
  #startWriter(): Promise<Extract<WriterReply, { type: 'ready' }>> {
    // Resolved next to this file, so it works from dist/src/store/ after tsc.
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: this.#config });
    this.#writer = worker;
    this.#writerReady = false;
    this.#testing.onWriter?.(worker);
    this.#writes.attach(threadEndpoint(worker));
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: WriterReply) => {
        if (m.type === 'ready') {
          ready = true;
          this.#writerReady = true;
          this.#unavailable = null;
          this.#deaths = 0;
          this.#index = m.index;
          resolve(m);
          this.#writes.ready();
        } else if (m.type === 'open-failed') {
          reject(new StoreWriteError(`cannot open ${this.#config.file}: ${m.error}`));
        }
      });
      worker.on('error', (e) => {
        if (!ready) reject(new StoreWriteError(`cannot open ${this.#config.file}: ${e.message}`));
        else logError('mailwire sqlite store: writer thread failed:', e);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new StoreWriteError(`cannot open ${this.#config.file}: the writer exited (${code})`));
        if (this.#writer === worker) this.#writerDied(`store writer exited (${code})`);
      });
    });
  }

  /** What the dead writer had fails (it may or may not have committed it: the client tries again); a new one starts. */
  #writerDied(why: string): void {
    this.#writer = null;
    this.#writerReady = false;
    // The channel has failed what the dead writer had (it may or may not have committed it: the client tries again);
    // what it was never sent waits for the next writer.
    if (this.#closing !== null) return;
    this.#unavailable = `${why}; restarting`;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** this.#deaths++);
    // Not unref'd: writes wait for this writer, as they would for I/O.
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#closing !== null) return;
      this.#startWriter().catch((e: unknown) => {
        logError(`mailwire sqlite store: ${e instanceof Error ? e.message : String(e)}`);
      });
    }, delay);
  }

  /** What a failed write becomes: full (452), unavailable (451: writer lost, past its deadline, closed) or a write error. */
  #failure(error: string, code: string | undefined): Error {
    switch (code) {
      case 'full':
        this.#full = `no room to store the message: ${error}`;
        return new StoreFullError(this.#full);
      case 'expired':
      case 'deadline':
        return new StoreUnavailableError(pastDeadline(this.#timeoutMs));
      case 'lost':
        return new StoreUnavailableError(`${error}; the message was not stored`);
      case 'closed':
        return new StoreUnavailableError(error);
      default:
        return new StoreWriteError(error);
    }
  }

  /** What the writer says besides its answers. */
  #onMessage(m: WriterReply): void {
    switch (m.type) {
      case 'committed':
        this.#stats.transactions++;
        this.#index = m.index;
        return;
      case 'indexed': {
        this.#index = m.index;
        if (this.#listeners.size === 0 && this.#early === null) return;
        const summaries = JSON.parse(m.summaries) as MessageSummary[];
        if (this.#early !== null) this.#early.push(...summaries);
        else for (const s of summaries) this.#listeners.emit(s);
        return;
      }
      case 'ready':
      case 'open-failed':
      case 'closed':
        return;
    }
  }

  /** Called by openSqliteStore once open() has resolved: the recovered messages go to the listeners of that turn. */
  announceRecovered(): void {
    setImmediate(() => {
      const early = this.#early ?? [];
      this.#early = null;
      for (const s of early) this.#listeners.emit(s);
    });
  }

  onIndexed(listener: (message: MessageSummary) => void): () => void {
    return this.#listeners.add(listener);
  }

  health(): StoreHealth {
    const reason = this.#unavailable ?? this.#full;
    const oldest = this.#index.oldestPendingAt;
    return { ok: reason === null, reason, indexBacklog: this.#index.backlog, indexLagMs: oldest === null ? 0 : Math.max(0, Date.now() - oldest) };
  }

  // ---- writes ----------------------------------------------------------------------------------------------------

  async save(message: IncomingMessage): Promise<string> {
    const id = timeOrderedId();
    const raw = message.raw;
    // The bytes cross to the writer by transfer when they are the caller's to give and own their memory; otherwise a
    // copy of their own (a small Buffer is a view into a shared 8 KiB pool, which must not be moved or cloned whole).
    const bytes = message.transferRaw === true && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : new Uint8Array(raw);
    // A save made without one (straight to the store, not through withDeadline) gets the store's own deadline.
    const deadline = message.deadline ?? new SaveDeadline(Date.now() + this.#timeoutMs);
    try {
      await this.#write({
        op: 'message', id, receivedAt: message.receivedAt.getTime(), raw: bytes,
        envelope: { helo: message.envelope.helo, from: message.envelope.from, to: [...message.envelope.to] },
        connection: { ...message.connection }, deadline: { at: deadline.at, cell: deadline.cell },
      }, { at: deadline.at, cut: () => deadline.cut() });
    } catch (e) {
      this.#stats.failed++;
      throw e;
    }
    this.#stats.saved++;
    this.#full = null;
    return id;
  }

  async saveSession(s: SessionRecord): Promise<string> {
    const id = s.id ?? timeOrderedId();
    await this.#write({
      op: 'session', id, startedAt: s.startedAt.getTime(), endedAt: s.endedAt.getTime(), end: s.end,
      connection: JSON.stringify(s.connection), messageIds: JSON.stringify(s.messageIds), transcript: JSON.stringify(s.transcript),
      truncated: s.truncated, said: JSON.stringify(sessionSaid(s.transcript)),
    });
    return id;
  }

  async setRead(id: string, read: boolean): Promise<boolean> {
    if (!validId(id)) return false;
    return (await this.#write({ op: 'set-read', id, read })).count > 0;
  }

  async setReadMatching(query: string, read: boolean): Promise<number> {
    return (await this.#write({ op: 'set-read-query', query: parseQuery(query), read })).count;
  }

  async deleteMessage(id: string): Promise<boolean> {
    if (!validId(id)) return false;
    return (await this.#write({ op: 'delete', id })).count > 0;
  }

  async deleteMessages(query = ''): Promise<string[]> {
    return (await this.#write({ op: 'delete-query', query: parseQuery(query) })).ids;
  }

  async deleteInboxMessages(address: string, query = ''): Promise<InboxDeletion> {
    const inbox = address.toLowerCase();
    const q = parseQuery(query);
    const done = await this.#write({ op: 'delete-inbox', address: inbox, query: { clauses: [{ kind: 'inbox', address: inbox, negate: false }, ...q.clauses] } });
    return { removed: done.count, deleted: done.ids };
  }

  prune(): Promise<PruneResult> {
    if (this.#writer === null || !this.#writerReady) return Promise.reject(new StoreUnavailableError(this.#unavailable ?? 'store writer not ready'));
    // A writer that dies meanwhile pruned nothing that this can tell; the next one prunes as it starts.
    return this.#writes.call({ kind: 'prune' }).catch((e: unknown) => {
      if (e instanceof StoreUnavailableError && this.#closing === null) return { messages: 0, sessions: 0 };
      throw e;
    });
  }

  stats(): StoreStats {
    return { ...this.#stats };
  }

  /** A write, sent with the others of this tick; `deadline`: a save's own (cut unless the writer took it). */
  #write(op: WriteOp, deadline?: CallDeadline): Promise<Done> {
    if (this.#closing) return Promise.reject(new StoreClosedError());
    const transfer = op.op === 'message' ? [op.raw.buffer as ArrayBuffer] : [];
    return this.#writes.call({ kind: 'write', op }, { transfer, deadline: deadline ?? { at: Date.now() + this.#timeoutMs } });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.resolve(); // the writes of this tick go out first (the channel sends them on a microtask)
      // Readers first: the last connection to close checkpoints the WAL and removes it, and only the writer can.
      await this.#reader.close();
      const writer = this.#writer;
      if (writer !== null) {
        // The writer commits what it was sent before it closes, and answers for it: those writes were promised.
        const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
        if (this.#writerReady) writer.postMessage({ type: 'close' } satisfies WriterRequest);
        else void writer.terminate();
        await exited;
      }
      if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
      this.#writes.close('store closed');
      this.#workspaces.close();
      this.outbox.close();
    })();
    return this.#closing;
  }

  get workspaces(): WorkspaceRegistry {
    return this.#workspaces;
  }

  // ---- reads (on the reader thread) ------------------------------------------------------------------------------

  async listMessages(options: ListOptions = {}): Promise<Page<MessageSummary>> {
    const query = parseQuery(options.query ?? '');
    const before = decodeCursor('m', options.cursor);
    return this.#reader.ask({ kind: 'list', query, before, limit: clampLimit(options.limit) });
  }

  async listMessagesJson(options: ListOptions = {}): Promise<JsonPage> {
    const query = parseQuery(options.query ?? '');
    const before = decodeCursor('m', options.cursor);
    return this.#reader.ask({ kind: 'list-json', query, before, limit: clampLimit(options.limit) });
  }

  async nextMatch(query: string, after: string | null): Promise<{ message: MessageSummary; cursor: string } | null> {
    return this.#reader.ask({ kind: 'next-match', query: parseQuery(query), after: decodeCursor('m', after) });
  }

  async countMessages(query = ''): Promise<MessageCount> {
    return this.#reader.ask({ kind: 'count', query: parseQuery(query) });
  }

  async matchesAfter(query: string, after: string | null, limit: number): Promise<readonly { message: MessageSummary; cursor: string }[]> {
    return this.#reader.ask({ kind: 'matches-after', query: parseQuery(query), after: decodeCursor('m', after) ?? 0, limit: clampMatches(limit) });
  }

  async getMessage(id: string): Promise<MessageDetail | null> {
    return validId(id) ? this.#reader.ask({ kind: 'message', id }) : null;
  }

  async getRaw(id: string): Promise<Buffer | null> {
    if (!validId(id)) return null;
    const raw = await this.#reader.ask({ kind: 'raw', id });
    return raw === null ? null : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  }

  async getAttachment(id: string, index: number): Promise<AttachmentContent | null> {
    if (!validId(id) || !Number.isSafeInteger(index) || index < 0) return null;
    const a = await this.#reader.ask({ kind: 'attachment', id, index });
    return a === null ? null : { info: a.info, content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength) };
  }

  async listInboxes(options: InboxListOptions = {}): Promise<Page<InboxSummary>> {
    const after = decodeInboxCursor(options.cursor);
    return this.#reader.ask({
      kind: 'inboxes', prefix: options.prefix ?? '', after, limit: clampLimit(options.limit),
      ...(options.workspace === undefined ? {} : { workspace: options.workspace }),
    });
  }

  async messageWorkspace(id: string): Promise<string | null> {
    return validId(id) ? this.#reader.ask({ kind: 'message-workspace', id }) : null;
  }

  async listSessions(options: SessionListOptions = {}): Promise<Page<SessionSummary>> {
    const before = decodeCursor('s', options.cursor);
    const { failed, client, address, workspace } = options;
    const filter = {
      ...(failed === true ? { failed } : {}), ...(client === undefined ? {} : { client }), ...(address === undefined ? {} : { address }),
      ...(workspace === undefined ? {} : { workspace }),
    };
    return this.#reader.ask({ kind: 'sessions', before, limit: clampLimit(options.limit), filter });
  }

  async getSession(id: string): Promise<SessionDetail | null> {
    return validId(id) ? this.#reader.ask({ kind: 'session', id }) : null;
  }
}

