/**
 * The PostgreSQL store: several mailwire instances on one database act as one catcher.
 *
 * Theory of operation (the tables are described in postgres-schema.ts):
 * - save() queues the message; one transaction at a time takes every message queued when it starts (group commit;
 *   up to WRITERS once SECOND_WRITER_AT wait), in one INSERT of the raw bytes, envelope and connection facts plus their
 *   index_queue rows, committed with synchronous_commit on. save() resolves after that commit; a save still queued
 *   when its deadline (../deadline.ts) passes is left out (the connection's withDeadline has answered it 451), one
 *   taken into a transaction is answered by its commit; a connection that fails gives StoreUnavailableError (SMTP 451).
 * - The indexer of whichever instance is free claims queued messages (FOR UPDATE SKIP LOCKED), parses them, and writes
 *   their index rows and deletes their queue rows in one commit (not fsync'd: all of it can be rebuilt from the raw
 *   bytes), all on a thread of its own with its own connection (postgres-indexer-worker.ts), which gets the bytes of
 *   this instance's own messages with their commit; others' it reads back. An instance that dies mid-batch never
 *   commits it: its rows unlock and are claimed again. Each instance wakes its indexer after its own saves and polls
 *   the queue every POLL_MS for the rest (another instance's leftovers).
 * - Every statement that runs per message or per batch is prepared once per connection (named), so PostgreSQL does
 *   not parse and plan it each time.
 * - Every instance announces (onIndexed) every message any instance indexed, in indexed_seq order, once: its own
 *   batches straight after their commit, others' after the NOTIFY their commit sends, read from the database from
 *   the last indexed_seq announced. A listener connection that drops is made again, and the first thing it does is
 *   read whatever was indexed meanwhile (NOTIFY is not replayed).
 * - Retention is global: one instance at a time prunes (an advisory lock; the others skip their turn).
 * - When PostgreSQL goes away, health() says so with the driver's reason; the pool makes new connections on the
 *   next query, the poll notices the database is back, and health() is ok again, without a restart.
 */
import type { Worker } from 'node:worker_threads';
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { PoolClient, PoolConfig, QueryResultRow } from 'pg';
import { timeOrderedId, validId } from '../ids.js';
import { ParseCache } from '../parse-cache.js';
import { ParserThread } from '../parse-thread.js';
import { indexEntry, type ParsedMessage, type SummaryFields } from '../parse.js';
import { parseQuery } from '../query.js';
import { clampLimit, decodeCursor, decodeInboxCursor, encodeCursor, encodeInboxCursor, likePrefix } from '../cursor.js';
import { STORE_CLOSED, StoreClosedError, StoreUnavailableError, StoreWriteError } from '../errors.js';
import { SaveDeadline, pastDeadline } from '../deadline.js';
import { ListenerSet } from '../listeners.js';
import { BEGIN_ASYNC, BEGIN_DURABLE, clientConfig, nextValuesHolding, reasonOf, unavailable } from './connection.js';
import { PgOutbox } from './outbox.js';
import { IndexerThread, type IndexedRow, type OwnBytes, type SummaryRow } from './indexer-thread.js';
import { INDEXED_CHANNEL, LOCK_CLASS, LOCKS, migrate, setUpRowSecurity } from './schema.js';
import { noNul, pgSearchCondition, type PgCondition } from './search.js';
import type {
  AttachmentContent, ConnectionInfo, InboxDeletion, InboxListOptions, SessionListOptions, InboxSummary, IncomingMessage, JsonPage, ListOptions, MessageDetail, MessageStore, MessageSummary, Page,
  PruneResult, SessionDetail, SessionEnd, SessionRecord, SessionSummary, StoreHealth, StoreStats, TranscriptLine,
} from '../types.js';
import type { MessageCount } from '../types.js';
import { sessionFilterSql } from '../session-filter.js';
import type { Workspace, WorkspaceRegistry } from '../workspace.js';
import { NO_SAID, sessionSaid, type SessionSaid } from '../session-said.js';
import { jsonPage } from '../json-page.js';
import { logError, logWarning } from '../../log.js';

export type PostgresStoreOptions = Readonly<{
  databaseUrl: string;
  maxMessages: number;
  /** 0 or absent: unlimited (see StoreOptions). */
  maxMessagesPerInbox?: number;
  maxAgeMs: number;
  storeTimeoutMs: number;
  /** Connections in this instance's pool (the listener and the indexer thread have one more each). Default 6. */
  poolSize?: number;
  /** Tests only: called with each indexer thread started (the first and every restart), so that a test can end one. */
  testing?: Readonly<{ onIndexer?: (thread: Worker) => void }>;
}>;

/**
 * Save transactions in flight at once; each takes every message queued when it starts. A second one starts only once
 * SECOND_WRITER_AT saves are waiting: each commit is a WAL flush, and fewer, larger commits cost PostgreSQL less CPU
 * per message (20 connections × 1 KB: 3 writers made groups of 3.5 messages; one writer makes larger groups).
 */
const WRITERS = 3;
const SECOND_WRITER_AT = 64;
const MAX_SAVE_BATCH = 200;
const MAX_SAVE_BATCH_BYTES = 16 * 1024 * 1024;
/** A message this large or larger is not handed to the indexer thread with its commit: it reads it back. */
const OWN_RAW_MAX_MESSAGE = 16 * 1024 * 1024;
const ANNOUNCE_PAGE = 500;
/** See #fullTextCandidates. */
const FULL_TEXT_CANDIDATES = 100;
/** How often each instance looks at the queue (others' leftovers, the backlog gauge, whether the database is back). */
const POLL_MS = 500;
const PRUNE_BATCH = 1000;
const PRUNE_EVERY_MS = 1000;
const LISTEN_RETRY_MS = [100, 250, 500, 1000, 2000] as const;

type SaveJob = { id: string; message: IncomingMessage; deadline: SaveDeadline; resolve: (id: string) => void; reject: (e: Error) => void; settled: boolean };
type SessionJob = { id: string; session: SessionRecord; resolve: (id: string) => void; reject: (e: Error) => void };
type SessionRow = {
  seq: number; id: string; started_at: number; ended_at: number; end_reason: string; connection: ConnectionInfo;
  message_ids: string[]; truncated: boolean; transcript?: TranscriptLine[]; said: SessionSaid | null;
};

export async function openPostgresStore(options: PostgresStoreOptions): Promise<MessageStore> {
  const config = clientConfig(options.databaseUrl, options.storeTimeoutMs);
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 6, idleTimeoutMillis: 30_000 });
  pool.on('error', () => undefined); // an idle client lost (database restarted): the next query makes a new one
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new StoreUnavailableError(`cannot connect to PostgreSQL: ${reasonOf(e)}`);
  }
  let rls: Awaited<ReturnType<typeof setUpRowSecurity>>;
  try {
    await migrate(client);
    rls = await setUpRowSecurity(client);
    client.release();
  } catch (e) {
    client.release(true);
    await pool.end().catch(() => undefined);
    throw new StoreWriteError(`cannot prepare the PostgreSQL schema: ${reasonOf(e)}`);
  }
  if (rls.role === null) logWarning(`mailwire postgres store: no row-level security for workspaces (the workspace filter stays the one wall): ${rls.reason}`);
  const store = new PostgresStore(pool, config, options, rls.role);
  try {
    await store.start();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

class PostgresStore implements MessageStore {
  readonly kind = 'postgres' as const;
  /** The workspaces table, read each time: another instance may have changed it (callers cache for a moment). */
  readonly #workspaces: WorkspaceRegistry = {
    list: async () => (await this.#query<{ doc: Workspace }>('SELECT doc FROM workspaces ORDER BY name')).rows.map((r) => r.doc),
    put: async (w) => {
      await this.#query('INSERT INTO workspaces (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc', [w.name, JSON.stringify(w)]);
    },
    delete: async (name) => ((await this.#query('DELETE FROM workspaces WHERE name = $1', [name])).rowCount ?? 0) > 0,
  };
  readonly outbox: PgOutbox;
  readonly #pool: pg.Pool;
  readonly #config: PoolConfig;
  readonly #opts: PostgresStoreOptions;
  readonly #stats = { saved: 0, transactions: 0, failed: 0 };
  #recovered: { messages: number; ms: number } = { messages: 0, ms: 0 };

  #saveQueue: SaveJob[] = [];
  #writers = 0;
  /** Set by close() while saves are in flight: called when the last one is answered. */
  #drained: (() => void) | null = null;
  #sessionQueue: SessionJob[] = [];
  #sessionWriter: Promise<void> | null = null;

  /** Claims, parses and indexes on a thread of its own (see postgres-indexer.ts). */
  readonly #indexer: IndexerThread;
  /** Parses for reads, on a thread of its own. */
  readonly #readParser = new ParserThread();
  readonly #parsed = new ParseCache<ParsedMessage | null>({ entries: 16, bytes: 64 * 1024 * 1024 });

  /** The highest indexed_seq announced to onIndexed listeners. */
  #cursor = 0;
  /**
   * The highest indexed_seq of this instance's own index batch being committed: its NOTIFY needs no catch-up (the
   * batch is announced from memory, or read back if anything before it is missing).
   */
  #ownIndexedUpTo = 0;
  #announcing: Promise<void> = Promise.resolve();
  #catchUpQueued = false;
  readonly #listeners = new ListenerSet<MessageSummary>('postgres store');
  #listener: pg.Client | null = null;
  #listenAttempt = 0;
  #listenTimer: NodeJS.Timeout | null = null;

  #down: string | null = null;
  #backlog = { count: 0, lagMs: 0 };
  /** Counts this instance's own changes to the backlog, so that a poll answered after one is not taken. */
  #backlogVersion = 0;
  #pollTimer: NodeJS.Timeout | null = null;
  #polling = false;
  #ageTimer: NodeJS.Timeout | null = null;
  #pruneTimer: NodeJS.Timeout | null = null;
  #lastPrune = 0;

  #closing: Promise<void> | null = null;

  /** The role workspace reads run under (./schema.ts setUpRowSecurity); null: none could be made. */
  readonly #rlsRole: string | null;

  constructor(pool: pg.Pool, config: PoolConfig, options: PostgresStoreOptions, rlsRole: string | null = null) {
    this.#rlsRole = rlsRole;
    this.#pool = pool;
    this.#config = config;
    this.#opts = options;
    this.outbox = new PgOutbox((sql, params) => this.#query(sql, params), (work, durable) => this.#tx(work, durable ? BEGIN_DURABLE : BEGIN_ASYNC));
    this.#indexer = new IndexerThread({ databaseUrl: options.databaseUrl, queryTimeoutMs: options.storeTimeoutMs }, {
      ordering: (upTo) => {
        this.#ownIndexedUpTo = Math.max(this.#ownIndexedUpTo, upTo);
      },
      batch: (rows) => this.#indexed(rows),
      failed: (reason, unavailableNow) => {
        if (unavailableNow) this.#down = `PostgreSQL unavailable: ${reason}`;
        else logError(`mailwire postgres store: indexing failed: ${reason}`);
        // Not committed: its NOTIFY will not come, and one from another instance may have been passed over for it.
        this.#ownIndexedUpTo = this.#cursor;
        this.#queueCatchUp();
      },
    }, options.testing?.onIndexer);
  }

  get recovered(): Readonly<{ messages: number; ms: number }> {
    return this.#recovered;
  }

  /** Listens, then indexes what an earlier run left unindexed, before the store is handed out. */
  async start(): Promise<void> {
    const r = await this.#query<{ n: number }>('SELECT coalesce(max(indexed_seq), 0)::bigint AS n FROM message_index');
    this.#cursor = r.rows[0]?.n ?? 0;
    await this.#listen();
    const t0 = performance.now();
    const n = await this.#indexer.drain();
    this.#recovered = { messages: n, ms: Math.round(performance.now() - t0) };
    this.#pollTimer = setInterval(() => void this.#poll(), POLL_MS);
    this.#pollTimer.unref();
    const { maxAgeMs } = this.#opts;
    if (maxAgeMs > 0) {
      this.#ageTimer = setInterval(() => void this.#pruneNow(false).catch(() => undefined), Math.min(60_000, Math.max(1000, maxAgeMs / 10)));
      this.#ageTimer.unref();
    }
  }

  // ---- errors and health -----------------------------------------------------------------------------------------

  /** Runs a query on any pooled connection; a lost database becomes StoreUnavailableError and marks the store down. */
  async #query<R extends QueryResultRow>(sql: string, params: unknown[] = [], name?: string): Promise<pg.QueryResult<R>> {
    const c = await this.#connect();
    let broken = false;
    // A workspace's read (readAsWorkspace): in a transaction of its own, as the row-security role, its workspace set.
    const scope = rowScope.getStore();
    const scoped = scope !== undefined && scope.live && this.#rlsRole !== null;
    try {
      if (scoped) {
        await c.query(`BEGIN READ ONLY; SET LOCAL ROLE ${this.#rlsRole ?? ''}`);
        await c.query("SELECT set_config('mailwire.workspace', $1, true)", [scope.workspace]);
      }
      const r = await c.query<R>(name === undefined ? { text: sql, values: params } : { name, text: sql, values: params });
      if (scoped) await c.query('COMMIT');
      this.#up();
      return r;
    } catch (e) {
      broken = unavailable(e) || scoped; // a scoped connection that failed mid-transaction is not reused
      throw this.#failure(e);
    } finally {
      c.release(broken);
    }
  }

  /**
   * Runs `read` with its queries under row-level security for `workspace` (the second wall, after the workspace
   * handle's filter). Only for reads: the role may only SELECT. What `read` starts that outlives it runs unscoped.
   */
  async readAsWorkspace<T>(workspace: string, read: () => Promise<T>): Promise<T> {
    const cell = { workspace, live: true };
    try {
      return await rowScope.run(cell, read);
    } finally {
      cell.live = false;
    }
  }

  /** A pooled connection; failing to get one always means the database is unavailable, whatever the error's code. */
  async #connect(): Promise<PoolClient> {
    try {
      const c = await this.#pool.connect();
      // A connection cut while checked out but between queries (the indexer parsing) reports on the client, not on a
      // query: the next query on it fails and says so; the pool handles idle ones.
      if (!c.listeners('error').includes(ignore)) c.on('error', ignore);
      return c;
    } catch (e) {
      throw this.#failure(e, true);
    }
  }

  /** One transaction on one connection; rolled back on any failure. A connection that failed is not reused. */
  async #tx<T>(work: (c: PoolClient) => Promise<T>, begin: typeof BEGIN_DURABLE | typeof BEGIN_ASYNC = BEGIN_DURABLE): Promise<T> {
    const c = await this.#connect();
    let broken = false;
    try {
      await c.query(begin);
      const out = await work(c);
      await c.query('COMMIT');
      this.#up();
      return out;
    } catch (e) {
      broken = unavailable(e);
      if (!broken) await c.query('ROLLBACK').catch(() => { broken = true; });
      throw this.#failure(e);
    } finally {
      c.release(broken);
    }
  }

  #failure(e: unknown, connecting = false): Error {
    if (e instanceof StoreWriteError) return e;
    if (!connecting && !unavailable(e)) return e instanceof Error ? e : new Error(String(e));
    const reason = `PostgreSQL unavailable: ${reasonOf(e)}`;
    this.#down = reason;
    return new StoreUnavailableError(reason);
  }

  #up(): void {
    if (this.#down === null) return;
    this.#down = null;
    // Back: whatever was indexed while we could not read is announced now.
    this.#queueCatchUp();
    this.#wakeIndexer();
  }

  #setBacklog(b: { count: number; lagMs: number }): void {
    this.#backlog = b;
    this.#backlogVersion++;
  }

  health(): StoreHealth {
    const reason = this.#closing ? STORE_CLOSED : this.#down;
    return { ok: reason === null, reason, indexBacklog: this.#backlog.count, indexLagMs: this.#backlog.lagMs };
  }

  stats(): StoreStats {
    return { ...this.#stats };
  }

  /** The queue's length and age (for health), and the indexer woken for rows nobody here queued. */
  async #poll(): Promise<void> {
    if (this.#polling || this.#closing) return;
    this.#polling = true;
    try {
      const version = this.#backlogVersion;
      const r = await this.#query<{ n: number; lag: number }>(
        'SELECT count(*)::int AS n, coalesce(extract(epoch FROM now() - min(queued_at)) * 1000, 0)::float8 AS lag FROM index_queue');
      const row = r.rows[0];
      // A save or an index batch of ours meanwhile makes the count stale: the gauge keeps what they set.
      if (version === this.#backlogVersion) this.#backlog = { count: row?.n ?? 0, lagMs: Math.max(0, Math.round(row?.lag ?? 0)) };
      if (this.#backlog.count > 0) this.#wakeIndexer();
      if (this.#listener === null && this.#listenTimer === null) this.#scheduleListen();
    } catch {
      // #query marked the store down; the next poll tries again.
    } finally {
      this.#polling = false;
    }
  }

  // ---- writes ----------------------------------------------------------------------------------------------------

  save(message: IncomingMessage): Promise<string> {
    if (this.#closing) return Promise.reject(new StoreClosedError());
    return new Promise<string>((resolve, reject) => {
      // A save made without one (straight to the store, not through withDeadline) gets the store's own deadline.
      const deadline = message.deadline ?? new SaveDeadline(Date.now() + this.#opts.storeTimeoutMs);
      const job: SaveJob = { id: timeOrderedId(), message, deadline, settled: false, resolve: () => undefined, reject: () => undefined };
      const settle = (outcome: string | Error): void => {
        if (job.settled) return;
        job.settled = true;
        if (typeof outcome === 'string') resolve(outcome);
        else reject(outcome);
      };
      job.resolve = settle;
      job.reject = settle;
      this.#saveQueue.push(job);
      this.#pumpSaves();
    });
  }

  #pumpSaves(): void {
    while (this.#saveQueue.length > 0 && (this.#writers === 0 || (this.#writers < WRITERS && this.#saveQueue.length >= SECOND_WRITER_AT))) {
      const batch: SaveJob[] = [];
      let bytes = 0;
      while (batch.length < MAX_SAVE_BATCH && this.#saveQueue.length > 0) {
        const next = this.#saveQueue[0];
        if (next === undefined || (batch.length > 0 && bytes + next.message.raw.byteLength > MAX_SAVE_BATCH_BYTES)) break;
        this.#saveQueue.shift();
        if (!next.deadline.take()) {
          // Past its deadline before a transaction took it: the client has its 451, and nothing of it is stored.
          this.#stats.failed++;
          next.reject(new StoreUnavailableError(pastDeadline(this.#opts.storeTimeoutMs)));
          continue;
        }
        batch.push(next);
        bytes += next.message.raw.byteLength;
      }
      if (batch.length === 0) continue;
      this.#writers++;
      void this.#writeSaves(batch).finally(() => {
        this.#writers--;
        this.#pumpSaves();
      });
    }
    if (this.#writers === 0 && this.#saveQueue.length === 0) this.#drained?.();
  }

  async #writeSaves(batch: readonly SaveJob[]): Promise<void> {
    try {
      await this.#insertMessages(batch);
    } catch (e) {
      const error = this.#failure(e);
      if (batch.length > 1 && !(error instanceof StoreUnavailableError)) {
        // One bad message fails its batch: each alone, so only it is refused.
        for (const job of batch) await this.#writeSaves([job]);
        return;
      }
      for (const job of batch) {
        if (!job.settled) this.#stats.failed++;
        job.reject(error instanceof StoreWriteError ? error : new StoreWriteError(`commit failed: ${reasonOf(error)}`));
      }
      return;
    }
    this.#stats.transactions++;
    this.#setBacklog({ ...this.#backlog, count: this.#backlog.count + batch.length });
    for (const job of batch) {
      if (!job.settled) this.#stats.saved++;
      job.resolve(job.id);
    }
    this.#wakeIndexer();
    this.#pruneSoon();
  }

  /** One statement, so one implicit transaction: the messages and their queue rows, committed durably. */
  async #insertMessages(batch: readonly SaveJob[]): Promise<void> {
    const values: string[] = [];
    const params: unknown[] = [];
    for (const { id, message: m } of batch) {
      const at = params.length;
      values.push(`($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6})`);
      const env = m.envelope;
      params.push(id, m.receivedAt.getTime(), m.raw.byteLength, JSON.stringify({ helo: env.helo, from: env.from, to: env.to }),
        JSON.stringify(m.connection), m.raw);
    }
    const r = await this.#query<{ seq: number; id: string }>(
      `WITH m AS (INSERT INTO messages (id, received_at, size, envelope, connection, raw) VALUES ${values.join(', ')} RETURNING seq, id),
       q AS (INSERT INTO index_queue (seq) SELECT seq FROM m) SELECT seq, id FROM m`, params,
      // Prepared once per connection and group size. Unnamed, PostgreSQL parsed and planned it for every group; naming
      // it and the indexer's statements took PostgreSQL from about 145 to about 100 µs of CPU a message (20 × 1 KB).
      `mw_save_${batch.length}`);
    const seqOf = new Map(r.rows.map((row) => [row.id, Number(row.seq)]));
    // The indexer thread gets the bytes it is about to parse: moved when they are the caller's to give and own their
    // memory (the SMTP server's), else copied, since a caller that keeps its buffer may change it later.
    const own: OwnBytes[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const { id, message } of batch) {
      const seq = seqOf.get(id);
      const raw = message.raw;
      if (seq === undefined || raw.byteLength >= OWN_RAW_MAX_MESSAGE) continue;
      const movable = message.transferRaw === true && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer;
      const bytes = movable ? raw : new Uint8Array(raw);
      own.push({ seq, raw: bytes });
      transfer.push(bytes.buffer as ArrayBuffer);
    }
    this.#indexer.own(own, transfer);
  }

  saveSession(session: SessionRecord): Promise<string> {
    if (this.#closing) return Promise.reject(new StoreClosedError());
    return new Promise((resolve, reject) => {
      this.#sessionQueue.push({ id: session.id ?? timeOrderedId(), session, resolve, reject });
      this.#kickSessions();
    });
  }

  #kickSessions(): void {
    if (this.#sessionWriter !== null) return;
    this.#sessionWriter = this.#writeSessions().finally(() => {
      this.#sessionWriter = null;
      if (this.#sessionQueue.length > 0) this.#kickSessions(); // queued after the writer's last look
    });
  }

  /**
   * Sessions are diagnostics, not promises: written in batches, their commits not waited for on disk. Numbered under
   * their own lock (see postgres-schema.ts), so session pages never skip one either.
   */
  async #writeSessions(): Promise<void> {
    for (let i = 0; i < 1_000_000 && this.#sessionQueue.length > 0; i++) {
      const batch = this.#sessionQueue.splice(0, 500);
      try {
        await this.#tx(async (c) => {
          const seqs = await nextValuesHolding(c, LOCKS.sessionOrder, 'session_seq', batch.length);
          await c.query(
            `INSERT INTO sessions (seq, id, started_at, ended_at, end_reason, connection, message_ids, truncated, transcript, said)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::json[], $7::json[], $8::bool[], $9::json[], $10::json[])
             ON CONFLICT (id) DO NOTHING`,
            [seqs, batch.map((j) => noNul(j.id)), batch.map((j) => j.session.startedAt.getTime()), batch.map((j) => j.session.endedAt.getTime()),
              batch.map((j) => j.session.end), batch.map((j) => JSON.stringify(j.session.connection)),
              batch.map((j) => JSON.stringify(j.session.messageIds)), batch.map((j) => j.session.truncated),
              batch.map((j) => JSON.stringify(j.session.transcript)), batch.map((j) => JSON.stringify(sessionSaid(j.session.transcript)))]);
        }, BEGIN_ASYNC);
        for (const j of batch) j.resolve(j.id);
      } catch (e) {
        const error = e instanceof StoreWriteError ? e : new StoreWriteError(reasonOf(e));
        for (const j of batch) j.reject(error);
      }
    }
  }

  async setRead(id: string, read: boolean): Promise<boolean> {
    if (!validId(id)) return false;
    return ((await this.#query('UPDATE messages SET read = $2 WHERE id = $1', [id, read])).rowCount ?? 0) > 0;
  }

  async deleteMessage(id: string): Promise<boolean> {
    if (!validId(id)) return false;
    return ((await this.#query('DELETE FROM messages WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async setReadMatching(query: string, read: boolean): Promise<number> {
    const cond = pgSearchCondition(parseQuery(query));
    const params = [...cond.params];
    const flag = `$${params.push(read)}`;
    const r = await this.#query(
      `UPDATE messages m SET read = ${flag} FROM message_index i WHERE i.seq = m.seq AND m.read <> ${flag} AND ${cond.sql}`, params);
    return r.rowCount ?? 0;
  }

  async deleteMessages(query = ''): Promise<string[]> {
    const q = parseQuery(query);
    // No query: every message, indexed or not. A query can only match indexed ones.
    const r = q.clauses.length === 0
      ? await this.#query<{ id: string; seq: number }>('DELETE FROM messages RETURNING id, seq')
      : await (() => {
        const cond = pgSearchCondition(q);
        return this.#query<{ id: string; seq: number }>(
          `DELETE FROM messages m USING message_index i WHERE i.seq = m.seq AND ${cond.sql} RETURNING m.id, m.seq`, cond.params);
      })();
    return r.rows.sort((a, b) => a.seq - b.seq).map((row) => row.id);
  }

  async deleteInboxMessages(address: string, query = ''): Promise<InboxDeletion> {
    const inbox = address.toLowerCase();
    const cond = pgSearchCondition({ clauses: [{ kind: 'inbox', address: inbox, negate: false }, ...parseQuery(query).clauses] });
    return this.#tx(async (c) => {
      // Locked, so a concurrent delete of the same inbox waits and then finds them gone from it.
      const taken = await c.query<{ seq: string }>(
        `SELECT m.seq FROM messages m JOIN message_index i ON i.seq = m.seq WHERE ${cond.sql} ORDER BY m.seq FOR UPDATE OF m`, cond.params);
      const seqs = taken.rows.map((r) => r.seq);
      if (seqs.length === 0) return { removed: 0, deleted: [] };
      await c.query('INSERT INTO message_inbox_left (seq, address) SELECT unnest($1::bigint[]), $2 ON CONFLICT DO NOTHING', [seqs, noNul(inbox)]);
      const gone = await c.query<{ id: string; seq: string }>(DELETE_IN_NO_INBOX, [seqs]);
      return { removed: seqs.length, deleted: gone.rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map((r) => r.id) };
    });
  }

  // ---- retention -------------------------------------------------------------------------------------------------

  prune(): Promise<PruneResult> {
    return this.#pruneNow(true);
  }

  /** After commits, at most once per PRUNE_EVERY_MS per instance; an instance finding another pruning skips its turn. */
  #pruneSoon(): void {
    if ((this.#opts.maxMessages === 0 && this.#opts.maxAgeMs === 0 && !this.#opts.maxMessagesPerInbox) || this.#pruneTimer !== null || this.#closing) return;
    const wait = Math.max(0, this.#lastPrune + PRUNE_EVERY_MS - Date.now());
    this.#pruneTimer = setTimeout(() => {
      this.#pruneTimer = null;
      void this.#pruneNow(false).catch(() => undefined);
    }, wait);
    this.#pruneTimer.unref();
  }

  /** `wait`: for the prune lock (an explicit prune()); otherwise give up at once if another instance holds it. */
  async #pruneNow(wait: boolean): Promise<PruneResult> {
    this.#lastPrune = Date.now();
    const { maxMessages, maxAgeMs } = this.#opts;
    const perInbox = this.#opts.maxMessagesPerInbox ?? 0;
    const total = { messages: 0, sessions: 0 };
    if (maxMessages === 0 && maxAgeMs === 0 && perInbox === 0) return total;
    // Bounded: each round deletes rows or ends the loop.
    for (let i = 0; i < 100_000; i++) {
      const d = await this.#tx(async (c) => {
        if (wait) await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCKS.prune]);
        else {
          const lock = await c.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS got', [LOCK_CLASS, LOCKS.prune]);
          if (lock.rows[0]?.got !== true) return null;
        }
        let messages = 0;
        let sessions = 0;
        const cutoff = Date.now() - maxAgeMs;
        if (maxMessages > 0) {
          messages += (await c.query('DELETE FROM messages WHERE seq IN (SELECT seq FROM messages ORDER BY seq DESC OFFSET $1 LIMIT $2)', [maxMessages, PRUNE_BATCH])).rowCount ?? 0;
          sessions += (await c.query('DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions ORDER BY seq DESC OFFSET $1 LIMIT $2)', [maxMessages, PRUNE_BATCH])).rowCount ?? 0;
        }
        if (maxAgeMs > 0) {
          messages += (await c.query('DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE received_at < $1 LIMIT $2)', [cutoff, PRUNE_BATCH])).rowCount ?? 0;
          sessions += (await c.query('DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions WHERE started_at < $1 LIMIT $2)', [cutoff, PRUNE_BATCH])).rowCount ?? 0;
        }
        if (perInbox > 0) {
          // Each inbox keeps its newest perInbox searchable messages (listing order); the older ones leave it, and
          // those that no inbox holds any more are deleted.
          const left = await c.query<{ seq: string }>(
            `INSERT INTO message_inbox_left (seq, address) SELECT seq, address FROM (
               SELECT x.seq, x.address, row_number() OVER (PARTITION BY x.address ORDER BY x.indexed_seq DESC) AS n FROM (
                 SELECT DISTINCT m.seq, i.indexed_seq, lower(r) COLLATE "C" AS address
                 FROM messages m JOIN message_index i ON i.seq = m.seq, json_array_elements_text(m.envelope->'to') r) x
               WHERE NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.seq = x.seq AND l.address = x.address)) held
             WHERE n > $1 ON CONFLICT DO NOTHING RETURNING seq`, [perInbox]);
          if (left.rows.length > 0) messages += (await c.query(DELETE_IN_NO_INBOX, [[...new Set(left.rows.map((r) => r.seq))]])).rowCount ?? 0;
        }
        return { messages, sessions };
      });
      if (d === null || d.messages + d.sessions === 0) break;
      total.messages += d.messages;
      total.sessions += d.sessions;
    }
    return total;
  }

  // ---- indexing --------------------------------------------------------------------------------------------------

  #wakeIndexer(): void {
    if (!this.#closing) this.#indexer.wake();
  }

  /** A batch the indexer thread committed (empty: it found nothing to claim). */
  #indexed(rows: IndexedRow[]): void {
    // The gauge between polls: nothing left that this instance could claim means no backlog it can see.
    const count = rows.length === 0 ? 0 : Math.max(0, this.#backlog.count - rows.length);
    this.#setBacklog({ count, lagMs: count === 0 ? 0 : this.#backlog.lagMs }); // no backlog has no lag
    if (rows.length === 0) return;
    if ((this.#opts.maxMessagesPerInbox ?? 0) > 0) this.#pruneSoon(); // an inbox may be over its limit now
    this.#announceLocal(rows);
  }

  // ---- announcing ------------------------------------------------------------------------------------------------

  onIndexed(listener: (message: MessageSummary) => void): () => void {
    return this.#listeners.add(listener);
  }

  #emit(rows: readonly IndexedRow[]): void {
    for (const r of rows) {
      if (r.indexed_seq <= this.#cursor) continue;
      this.#cursor = r.indexed_seq;
      this.#listeners.emit(toSummary(r));
    }
  }

  /** Our own batch, just committed: announced from memory when nothing can be missing before it, else read back. */
  #announceLocal(rows: readonly IndexedRow[]): void {
    this.#announcing = this.#announcing.then(async () => {
      const first = rows[0]?.indexed_seq ?? 0;
      const contiguous = rows.every((r, i) => r.indexed_seq === first + i);
      if (first === this.#cursor + 1 && contiguous) this.#emit(rows);
      else await this.#catchUp();
    }).catch(() => undefined);
  }

  #queueCatchUp(): void {
    if (this.#catchUpQueued) return;
    this.#catchUpQueued = true;
    this.#announcing = this.#announcing.then(() => {
      this.#catchUpQueued = false;
      return this.#catchUp();
    }).catch(() => undefined);
  }

  /** Everything indexed after the cursor, in order. Bounded: each page moves the cursor or ends the loop. */
  async #catchUp(): Promise<void> {
    for (let i = 0; i < 100_000; i++) {
      const r = await this.#query<IndexedRow>(
        `SELECT i.indexed_seq, m.id, m.received_at, m.size, m.read, m.envelope, i.summary
         FROM message_index i JOIN messages m ON m.seq = i.seq WHERE i.indexed_seq > $1 ORDER BY i.indexed_seq LIMIT $2`,
        [this.#cursor, ANNOUNCE_PAGE]);
      this.#emit(r.rows);
      if (r.rows.length < ANNOUNCE_PAGE) return;
    }
  }

  /** The LISTEN connection: made now, and again whenever it drops, catching up first thing each time. */
  async #listen(): Promise<void> {
    const client = new pg.Client(this.#config);
    const lost = (): void => {
      if (this.#listener === client) this.#listener = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (!this.#closing) this.#scheduleListen();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === INDEXED_CHANNEL && Number(n.payload) > Math.max(this.#cursor, this.#ownIndexedUpTo)) this.#queueCatchUp();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${INDEXED_CHANNEL}`);
    } catch (e) {
      client.removeAllListeners('end');
      lost();
      throw this.#failure(e);
    }
    this.#listener = client;
    this.#listenAttempt = 0;
    this.#queueCatchUp();
  }

  #scheduleListen(): void {
    if (this.#listenTimer !== null || this.#closing) return;
    const delay = LISTEN_RETRY_MS[Math.min(this.#listenAttempt++, LISTEN_RETRY_MS.length - 1)] ?? 2000;
    this.#listenTimer = setTimeout(() => {
      this.#listenTimer = null;
      if (this.#listener === null && !this.#closing) void this.#listen().catch(() => undefined);
    }, delay);
    this.#listenTimer.unref();
  }

  // ---- reads -----------------------------------------------------------------------------------------------------

  async listMessages(options: ListOptions = {}): Promise<Page<MessageSummary>> {
    const cond = pgSearchCondition(parseQuery(options.query ?? ''));
    const before = decodeCursor('m', options.cursor);
    const limit = clampLimit(options.limit);
    const params = [...cond.params];
    const candidates = await this.#fullTextCandidates(cond, params);
    const beforeSql = before === null ? '' : ` AND i.indexed_seq < $${params.push(before)}`;
    const r = await this.#query<IndexedRow>(
      `SELECT i.indexed_seq, m.id, m.received_at, m.size, m.read, m.envelope, i.summary
       FROM message_index i JOIN messages m ON m.seq = i.seq
       WHERE ${cond.sql}${candidates}${beforeSql} ORDER BY i.indexed_seq DESC LIMIT $${params.push(limit + 1)}`, params);
    const items = r.rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(toSummary), nextCursor: r.rows.length > limit && last ? encodeCursor('m', last.indexed_seq) : null };
  }

  /**
   * A page in indexed_seq order with a full-text term: PostgreSQL estimates a word it has no statistics for at 0.5 %
   * of the rows and walks the indexed_seq index backwards, testing every row, until the page is full; for a word few
   * messages hold (a test's unique token) that is every row (5 ms at 20,000 messages, 20 ms at 100,000). So
   * the GIN index is asked first for at most FULL_TEXT_CANDIDATES messages holding every required word: when that is
   * all of them, the page is taken among those by key (the SQL returned, its array added to `params`); when there
   * are more, the word is common, the ordered walk finds a page quickly, and the SQL returned is empty.
   */
  async #fullTextCandidates(cond: PgCondition, params: unknown[]): Promise<string> {
    if (cond.fullText === null) return '';
    const r = await this.#query<{ seq: number }>(
      // Not prepared: planned for its own words, a common one (in the statistics) is read by a scan that stops early.
      'SELECT seq FROM message_index WHERE fts @@ $1::tsquery LIMIT $2', [cond.fullText, FULL_TEXT_CANDIDATES + 1]);
    if (r.rows.length > FULL_TEXT_CANDIDATES) return '';
    return ` AND i.seq = ANY($${params.push(r.rows.map((row) => row.seq))}::bigint[])`;
  }

  async listMessagesJson(options: ListOptions = {}): Promise<JsonPage> {
    return jsonPage(await this.listMessages(options));
  }

  async countMessages(query = ''): Promise<MessageCount> {
    const cond = pgSearchCondition(parseQuery(query));
    const params = [...cond.params];
    const candidates = await this.#fullTextCandidates(cond, params);
    const r = await this.#query<{ total: number; unread: number }>(
      `SELECT count(*)::int AS total, (count(*) FILTER (WHERE NOT m.read))::int AS unread
       FROM message_index i JOIN messages m ON m.seq = i.seq WHERE ${cond.sql}${candidates}`, params);
    const row = r.rows[0];
    return { total: row?.total ?? 0, unread: row?.unread ?? 0 };
  }

  async nextMatch(query: string, after: string | null): Promise<{ message: MessageSummary; cursor: string } | null> {
    const cond = pgSearchCondition(parseQuery(query));
    const from = decodeCursor('m', after);
    const params = [...cond.params];
    const candidates = await this.#fullTextCandidates(cond, params);
    const tail = from === null ? 'ORDER BY i.indexed_seq DESC LIMIT 1' : `AND i.indexed_seq > $${params.push(from)} ORDER BY i.indexed_seq ASC LIMIT 1`;
    const r = await this.#query<IndexedRow>(
      `SELECT i.indexed_seq, m.id, m.received_at, m.size, m.read, m.envelope, i.summary
       FROM message_index i JOIN messages m ON m.seq = i.seq WHERE ${cond.sql}${candidates} ${tail}`, params);
    const row = r.rows[0];
    return row ? { message: toSummary(row), cursor: encodeCursor('m', row.indexed_seq) } : null;
  }

  async matchesAfter(query: string, after: string | null, limit: number): Promise<readonly { message: MessageSummary; cursor: string }[]> {
    const cond = pgSearchCondition(parseQuery(query));
    const params = [...cond.params];
    const candidates = await this.#fullTextCandidates(cond, params);
    const from = decodeCursor('m', after) ?? 0;
    const n = Number.isSafeInteger(limit) ? Math.min(10_000, Math.max(1, limit)) : 10_000;
    const r = await this.#query<IndexedRow>(
      `SELECT i.indexed_seq, m.id, m.received_at, m.size, m.read, m.envelope, i.summary
       FROM message_index i JOIN messages m ON m.seq = i.seq WHERE ${cond.sql}${candidates}
       AND i.indexed_seq > $${params.push(from)} ORDER BY i.indexed_seq ASC LIMIT $${params.push(n)}`, params);
    return r.rows.map((row) => ({ message: toSummary(row), cursor: encodeCursor('m', row.indexed_seq) }));
  }

  async getMessage(id: string): Promise<MessageDetail | null> {
    if (!validId(id)) return null;
    const r = await this.#query<SummaryRow & { connection: ConnectionInfo; summary: SummaryFields | null }>(
      `SELECT m.id, m.received_at, m.size, m.read, m.envelope, m.connection, i.summary
       FROM messages m LEFT JOIN message_index i ON i.seq = m.seq WHERE m.id = $1`, [id]);
    const row = r.rows[0];
    if (!row) return null;
    // Readable from its 250: the bytes parsed on read (as SQLite does); the summary too until it is indexed.
    const parsed = await this.#parsed.get(row.id, row.size, async () => {
      const raw = await this.getRaw(row.id);
      return raw === null ? null : this.#readParser.message(raw);
    });
    if (parsed === null) return null;
    return {
      ...toSummary({ ...row, summary: row.summary ?? indexEntry(parsed, row.envelope).summary }), connection: row.connection,
      headers: parsed.headers, text: parsed.text, html: parsed.html, attachments: parsed.attachments, remoteContent: parsed.remoteContent,
    };
  }

  async getRaw(id: string): Promise<Buffer | null> {
    if (!validId(id)) return null;
    return (await this.#query<{ raw: Buffer }>('SELECT raw FROM messages WHERE id = $1', [id])).rows[0]?.raw ?? null;
  }

  async messageWorkspace(id: string): Promise<string | null> {
    if (!validId(id)) return null;
    return (await this.#query<{ workspace: string }>('SELECT workspace FROM messages WHERE id = $1', [id])).rows[0]?.workspace ?? null;
  }

  get workspaces(): WorkspaceRegistry {
    return this.#workspaces;
  }

  async getAttachment(id: string, index: number): Promise<AttachmentContent | null> {
    if (!Number.isSafeInteger(index) || index < 0) return null;
    const raw = await this.getRaw(id);
    return raw === null ? null : this.#readParser.attachment(raw, index);
  }

  async listInboxes(options: InboxListOptions = {}): Promise<Page<InboxSummary>> {
    const after = decodeInboxCursor(options.cursor);
    const limit = clampLimit(options.limit);
    // Searchable messages only (those with their index row), one row per (message, recipient), in code-point order,
    // less the inboxes a message was taken out of.
    const r = await this.#query<{ address: string; total: number; unread: number }>(
      `SELECT address, count(*)::int AS total, sum(unread)::int AS unread FROM (
         SELECT DISTINCT m.seq, lower(r) COLLATE "C" AS address, CASE WHEN m.read THEN 0 ELSE 1 END AS unread
         FROM messages m JOIN message_index i ON i.seq = m.seq, json_array_elements_text(m.envelope->'to') r
         ${options.workspace === undefined ? '' : `WHERE m.workspace = $${after === null ? 3 : 4}`}) x
       WHERE NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.seq = x.seq AND l.address = x.address) AND address LIKE $1 ESCAPE '\\'${after === null ? '' : ' AND address > $3'} GROUP BY address ORDER BY address LIMIT $2`,
      [likePrefix(noNul(options.prefix ?? '')), limit + 1, ...(after === null ? [] : [noNul(after)]),
        ...(options.workspace === undefined ? [] : [noNul(options.workspace)])]);
    const items = r.rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: r.rows.length > limit && last ? encodeInboxCursor(last.address) : null };
  }

  async listSessions(options: SessionListOptions = {}): Promise<Page<SessionSummary>> {
    const before = decodeCursor('s', options.cursor);
    const limit = clampLimit(options.limit);
    const f = sessionFilterSql(options, 'postgres', before === null ? 2 : 3);
    const where = [...(before === null ? [] : ['seq < $2']), ...f.where];
    const r = await this.#query<SessionRow>(
      `SELECT seq, id, started_at, ended_at, end_reason, connection, message_ids, truncated, said FROM sessions
       ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY seq DESC LIMIT $1`, [limit + 1, ...(before === null ? [] : [before]), ...f.params]);
    const items = r.rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(toSession), nextCursor: r.rows.length > limit && last ? encodeCursor('s', last.seq) : null };
  }

  async getSession(id: string): Promise<SessionDetail | null> {
    if (!validId(id)) return null;
    const row = (await this.#query<SessionRow>('SELECT * FROM sessions WHERE id = $1', [id])).rows[0];
    return row ? { ...toSession(row), transcript: row.transcript ?? [] } : null;
  }

  // ---- close -----------------------------------------------------------------------------------------------------

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const t of [this.#pollTimer, this.#ageTimer, this.#pruneTimer, this.#listenTimer]) if (t !== null) clearTimeout(t);
      // Saves already taken were promised an answer: committed, or refused by their deadline.
      if (this.#saveQueue.length > 0 || this.#writers > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
      await this.#sessionWriter;
      await this.#indexer.close();
      await this.#announcing;
      const listener = this.#listener;
      this.#listener = null;
      await listener?.end().catch(() => undefined);
      await this.#pool.end().catch(() => undefined);
      await this.#readParser.close();
    })();
    return this.#closing;
  }
}

const ignore = (): void => undefined;

/** The workspace of the read in progress (readAsWorkspace); `live` turns false when it ends, for what it started. */
const rowScope = new AsyncLocalStorage<{ workspace: string; live: boolean }>();

/** Deletes the messages of $1 (seqs) that no inbox holds any more: every recipient is in message_inbox_left. */
const DELETE_IN_NO_INBOX = `DELETE FROM messages m WHERE m.seq = ANY($1::bigint[]) AND NOT EXISTS (
  SELECT 1 FROM json_array_elements_text(m.envelope->'to') r
  WHERE NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.seq = m.seq AND l.address = lower(r))) RETURNING m.id, m.seq`;

function toSummary(r: SummaryRow): MessageSummary {
  const s = r.summary;
  return {
    id: r.id, receivedAt: new Date(r.received_at).toISOString(), size: r.size, read: r.read,
    from: s.from, to: s.to, cc: s.cc, subject: s.subject, date: s.date, messageId: s.messageId,
    attachmentCount: s.attachmentCount, snippet: s.snippet, indexLimited: s.indexLimited === true, envelope: r.envelope,
  };
}

function toSession(r: SessionRow): SessionSummary {
  return {
    id: r.id, startedAt: new Date(r.started_at).toISOString(), endedAt: new Date(r.ended_at).toISOString(),
    end: r.end_reason as SessionEnd, connection: r.connection, messageIds: r.message_ids, truncated: r.truncated, ...(r.said ?? NO_SAID),
  };
}
