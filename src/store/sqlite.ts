/**
 * The SQLite store, main-thread side. Writes go to the writer worker (./sqlite-worker.ts): the ops made in one tick
 * travel together in one message, and the worker commits everything that reached it while its previous commit was
 * running in one transaction (group commit), so twenty concurrent senders share an fsync instead of paying twenty.
 * Reads use a read-only connection of their own on this thread: WAL lets it read committed data while the worker
 * writes.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { timeOrderedId } from './ids.js';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ParseCache } from './parse-cache.js';
import { ParserThread } from './parse-thread.js';
import type { ParsedMessage } from './parse.js';
import { parseQuery } from './query.js';
import { searchCondition } from './sqlite-search.js';
import { clampLimit, decodeCursor, encodeCursor } from './cursor.js';
import { StoreWriteError } from './errors.js';
import type { FromWorker, OpResult, ToWorker, WorkerConfig, WriteOp } from './sqlite-protocol.js';
import type {
  AttachmentContent, ConnectionInfo, IncomingMessage, ListOptions, MessageDetail, MessageStore,
  MessageSummary, Page, PruneResult, SessionDetail, SessionEnd, SessionRecord, SessionSummary, StoreHealth, StoreStats, TranscriptLine,
} from './types.js';
import type { Envelope } from '../protocol/types.js';

export const SQLITE_FILE_NAME = 'mailwire.sqlite';
const MAX_ID_LENGTH = 200;
const READ_MMAP_BYTES = 1024 * 1024 * 1024;

export type SqliteStoreOptions = Readonly<{ dataDir: string; maxMessages: number; maxAgeMs: number }>;

type Done = Readonly<{ count: number; ids: string[] }>;
type Pending = { resolve: (r: Done) => void; reject: (e: Error) => void };

export async function openSqliteStore(options: SqliteStoreOptions): Promise<MessageStore> {
  mkdirSync(options.dataDir, { recursive: true });
  const file = join(options.dataDir, SQLITE_FILE_NAME);
  const config: WorkerConfig = { file, maxMessages: options.maxMessages, maxAgeMs: options.maxAgeMs };
  // Resolved next to this file, so it works from dist/src/store/ after tsc.
  const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: config });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error): void => { worker.off('message', onMessage); reject(e); };
    const onMessage = (m: FromWorker): void => {
      worker.off('message', onMessage);
      worker.off('error', fail);
      if (m.type === 'ready') resolve();
      else reject(new StoreWriteError(m.type === 'open-failed' ? `cannot open ${file}: ${m.error}` : `unexpected ${m.type}`));
    };
    worker.on('message', onMessage);
    worker.once('error', fail);
  }).catch(async (e: unknown) => {
    await worker.terminate();
    throw e;
  });
  const read = new Database(file, { readonly: true, fileMustExist: true });
  // The from:/to:/subject: filters scan message rows. Mapped, the scan reads the file's cached pages in place instead
  // of a pread each: to: over 100,000 messages, p99 52 -> 25 ms (npm run bench:store).
  read.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
  return new SqliteStore(worker, read);
}

type SummaryRow = { seq: number; id: string; received_at: number; size: number; read: number; envelope: string; summary: string };
type SessionRow = {
  seq: number; id: string; started_at: number; ended_at: number; end_reason: string; connection: string;
  message_ids: string; truncated: number; transcript?: string;
};

class SqliteStore implements MessageStore {
  readonly kind = 'sqlite' as const;
  readonly #worker: Worker;
  readonly #read: Database.Database;
  /** Sent to the worker, awaiting its commit, by op number. */
  readonly #pending = new Map<number, Pending>();
  /** Made this tick, not yet sent. */
  #outbox: { n: number; op: WriteOp }[] = [];
  #nextOp = 1;
  #nextPrune = 1;
  readonly #prunes = new Map<number, (r: PruneResult) => void>();
  #broken: Error | null = null;
  #closing: Promise<void> | null = null;
  readonly #stats = { saved: 0, transactions: 0, failed: 0 };
  readonly #indexed = new Set<(m: MessageSummary) => void>();
  readonly #statements = new Map<string, Database.Statement>();
  /** Reads parse the stored bytes there, off this (the SMTP) thread. */
  readonly #parser = new ParserThread();
  readonly #parsed = new ParseCache<ParsedMessage | null>({ entries: 16, bytes: 64 * 1024 * 1024 });

  constructor(worker: Worker, read: Database.Database) {
    this.#worker = worker;
    this.#read = read;
    worker.on('message', (m: FromWorker) => this.#onMessage(m));
    worker.on('error', (e) => this.#fail(new StoreWriteError(`store writer crashed: ${e.message}`)));
    worker.on('exit', (code) => this.#fail(new StoreWriteError(`store writer exited (${code})`)));
  }

  // ---- writes ----------------------------------------------------------------------------------------------------

  async save(message: IncomingMessage): Promise<string> {
    const id = timeOrderedId();
    try {
      await this.#write({
        // A copy of its own: a small Buffer is a view into a shared 8 KiB pool, which would otherwise be cloned whole.
        op: 'message', id, receivedAt: message.receivedAt.getTime(), raw: new Uint8Array(message.raw),
        envelope: { helo: message.envelope.helo, from: message.envelope.from, to: [...message.envelope.to] },
        connection: { ...message.connection },
      });
    } catch (e) {
      this.#stats.failed++;
      throw e;
    }
    this.#stats.saved++;
    if (this.#indexed.size > 0) {
      const row = this.#stmt(`SELECT m.seq, m.id, m.received_at, m.size, m.read, m.envelope, m.summary FROM messages m WHERE m.id = ?`)
        .get(id) as SummaryRow | undefined;
      if (row !== undefined) for (const listener of this.#indexed) listener(toSummary(row));
    }
    return id;
  }

  onIndexed(listener: (message: MessageSummary) => void): () => void {
    this.#indexed.add(listener);
    return () => this.#indexed.delete(listener);
  }

  health(): StoreHealth {
    const why = this.#broken?.message ?? null;
    return { ok: why === null, reason: why, indexBacklog: 0, indexLagMs: 0 };
  }

  async saveSession(s: SessionRecord): Promise<string> {
    const id = s.id ?? timeOrderedId();
    await this.#write({
      op: 'session', id, startedAt: s.startedAt.getTime(), endedAt: s.endedAt.getTime(), end: s.end,
      connection: { ...s.connection }, messageIds: [...s.messageIds], transcript: s.transcript.map((l) => ({ ...l })),
      truncated: s.truncated,
    });
    return id;
  }

  async setRead(id: string, read: boolean): Promise<boolean> {
    if (!validId(id)) return false;
    return (await this.#write({ op: 'set-read', id, read })).count > 0;
  }

  async deleteMessage(id: string): Promise<boolean> {
    if (!validId(id)) return false;
    return (await this.#write({ op: 'delete', id })).count > 0;
  }

  async deleteMessages(query = ''): Promise<string[]> {
    return (await this.#write({ op: 'delete-query', query: parseQuery(query) })).ids;
  }

  prune(): Promise<PruneResult> {
    if (this.#broken) return Promise.reject(this.#broken);
    const request = this.#nextPrune++;
    return new Promise((resolve) => {
      this.#prunes.set(request, resolve);
      this.#post({ type: 'prune', request });
    });
  }

  stats(): StoreStats {
    return { ...this.#stats };
  }

  #write(op: WriteOp): Promise<Done> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#closing) return Promise.reject(new StoreWriteError('store is closing'));
    return new Promise<Done>((resolve, reject) => {
      const n = this.#nextOp++;
      this.#pending.set(n, { resolve, reject });
      if (this.#outbox.length === 0) queueMicrotask(() => this.#flush());
      this.#outbox.push({ n, op });
    });
  }

  /** One postMessage for all the ops of this tick. */
  #flush(): void {
    const ops = this.#outbox;
    this.#outbox = [];
    if (ops.length > 0 && !this.#broken) this.#post({ type: 'ops', ops });
  }

  #post(m: ToWorker): void {
    this.#worker.postMessage(m);
  }

  #onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'done': {
        const error = m.committed ? null : new StoreWriteError(`commit failed: ${m.error}`);
        if (m.committed) this.#stats.transactions++;
        m.ns.forEach((n, i) => {
          const p = this.#pending.get(n);
          this.#pending.delete(n);
          if (p === undefined) return;
          if (error !== null) p.reject(error);
          else settle(p, m.committed ? m.results[i] : undefined);
        });
        return;
      }
      case 'pruned': {
        const resolve = this.#prunes.get(m.request);
        this.#prunes.delete(m.request);
        resolve?.({ messages: m.messages, sessions: m.sessions });
        return;
      }
      case 'ready':
      case 'open-failed':
      case 'closed':
        return;
    }
  }

  #fail(error: Error): void {
    if (this.#broken) return;
    this.#broken = error;
    this.#outbox = [];
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    for (const resolve of this.#prunes.values()) resolve({ messages: 0, sessions: 0 });
    this.#prunes.clear();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#flush();
      // Readers first: the last connection to close checkpoints the WAL and removes it, and only the writer can.
      this.#read.close();
      await this.#parser.close();
      if (!this.#broken) {
        // The worker commits what it was sent before it closes, and answers for it: those writes were promised.
        const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
        this.#post({ type: 'close' });
        await exited;
      }
    })();
    return this.#closing;
  }

  // ---- reads -----------------------------------------------------------------------------------------------------

  #stmt(sql: string): Database.Statement {
    let s = this.#statements.get(sql);
    if (s === undefined) {
      if (this.#statements.size > 500) this.#statements.clear();
      s = this.#read.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  async listMessages(options: ListOptions = {}): Promise<Page<MessageSummary>> {
    const cond = searchCondition(parseQuery(options.query ?? ''));
    const before = decodeCursor('m', options.cursor);
    const limit = clampLimit(options.limit);
    const rows = this.#stmt(
      `SELECT m.seq, m.id, m.received_at, m.size, m.read, m.envelope, m.summary FROM messages m
       WHERE ${cond.sql}${before === null ? '' : ' AND m.seq < ?'} ORDER BY m.seq DESC LIMIT ?`,
    ).all(...cond.params, ...(before === null ? [] : [before]), limit + 1) as SummaryRow[];
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(toSummary), nextCursor: rows.length > limit && last ? encodeCursor('m', last.seq) : null };
  }

  async nextMatch(query: string, after: string | null): Promise<{ message: MessageSummary; cursor: string } | null> {
    const cond = searchCondition(parseQuery(query));
    const from = decodeCursor('m', after);
    const row = this.#stmt(
      `SELECT m.seq, m.id, m.received_at, m.size, m.read, m.envelope, m.summary FROM messages m WHERE ${cond.sql}` +
        (from === null ? ' ORDER BY m.seq DESC LIMIT 1' : ' AND m.seq > ? ORDER BY m.seq ASC LIMIT 1'),
    ).get(...cond.params, ...(from === null ? [] : [from])) as SummaryRow | undefined;
    return row ? { message: toSummary(row), cursor: encodeCursor('m', row.seq) } : null;
  }

  async getMessage(id: string): Promise<MessageDetail | null> {
    if (!validId(id)) return null;
    const row = this.#stmt(
      'SELECT m.seq, m.id, m.received_at, m.size, m.read, m.envelope, m.summary, m.connection FROM messages m WHERE m.id = ?',
    ).get(id) as (SummaryRow & { connection: string }) | undefined;
    if (!row) return null;
    // Only the raw bytes are stored (see sqlite-schema.ts, v3): parsed on the parser thread, or found parsed here.
    const parsed = await this.#parsed.get(row.id, row.size, async () => {
      const raw = this.#rawOf(row.id);
      return raw === undefined ? null : this.#parser.message(raw); // undefined: deleted since the row was read
    });
    if (parsed === null) return null;
    return {
      ...toSummary(row), connection: JSON.parse(row.connection) as ConnectionInfo,
      headers: parsed.headers, text: parsed.text, html: parsed.html, attachments: parsed.attachments, // read-only types: shared
    };
  }

  async getRaw(id: string): Promise<Buffer | null> {
    if (!validId(id)) return null;
    return this.#rawOf(id) ?? null;
  }

  async getAttachment(id: string, index: number): Promise<AttachmentContent | null> {
    if (!validId(id) || !Number.isSafeInteger(index) || index < 0) return null;
    const raw = this.#rawOf(id);
    return raw === undefined ? null : this.#parser.attachment(raw, index);
  }

  #rawOf(id: string): Buffer | undefined {
    const raw = this.#stmt('SELECT r.raw FROM messages m JOIN message_raw r ON r.seq = m.seq WHERE m.id = ?').pluck().get(id);
    return Buffer.isBuffer(raw) ? raw : undefined;
  }

  async listSessions(options: Omit<ListOptions, 'query'> = {}): Promise<Page<SessionSummary>> {
    const before = decodeCursor('s', options.cursor);
    const limit = clampLimit(options.limit);
    const rows = this.#stmt(
      `SELECT seq, id, started_at, ended_at, end_reason, connection, message_ids, truncated FROM sessions
       ${before === null ? '' : 'WHERE seq < ?'} ORDER BY seq DESC LIMIT ?`,
    ).all(...(before === null ? [] : [before]), limit + 1) as SessionRow[];
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(toSession), nextCursor: rows.length > limit && last ? encodeCursor('s', last.seq) : null };
  }

  async getSession(id: string): Promise<SessionDetail | null> {
    if (!validId(id)) return null;
    const row = this.#stmt('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    if (!row) return null;
    return { ...toSession(row), transcript: JSON.parse(row.transcript ?? '[]') as TranscriptLine[] };
  }
}

function settle(p: Pending, r: OpResult | undefined): void {
  if (r === undefined) p.reject(new StoreWriteError('writer sent no result'));
  else if (r.ok) p.resolve({ count: r.count, ids: r.ids });
  else p.reject(new StoreWriteError(r.error));
}

const validId = (id: unknown): id is string => typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH;


type StoredSummary = Omit<MessageSummary, 'id' | 'receivedAt' | 'size' | 'read' | 'envelope'>;

function toSummary(r: SummaryRow): MessageSummary {
  const s = JSON.parse(r.summary) as StoredSummary;
  return {
    id: r.id, receivedAt: new Date(r.received_at).toISOString(), size: r.size, read: r.read === 1,
    from: s.from, to: s.to, cc: s.cc, subject: s.subject, date: s.date, messageId: s.messageId,
    attachmentCount: s.attachmentCount, snippet: s.snippet, envelope: JSON.parse(r.envelope) as Envelope,
  };
}

function toSession(r: SessionRow): SessionSummary {
  return {
    id: r.id, startedAt: new Date(r.started_at).toISOString(), endedAt: new Date(r.ended_at).toISOString(),
    end: r.end_reason as SessionEnd, connection: JSON.parse(r.connection) as ConnectionInfo,
    messageIds: JSON.parse(r.message_ids) as string[], truncated: r.truncated === 1,
  };
}
