/**
 * The PostgreSQL store's indexer runs on a thread of its own, with its own connection (postgres-indexer-worker.ts):
 * it claims queued messages, parses them and writes their index rows there, so that none of that work (the claim's
 * rows, MIME parsing, the tsvector and summary literals, the statement's arrays) holds up the event loop that serves
 * SMTP. At 20 connections × 1 KB that work was about half of the SMTP thread's CPU with the PostgreSQL store, and each
 * batch stalled every session for as long as it took to build.
 *
 * This module is the SMTP thread's side: it starts the thread (again, after it died), hands it the bytes of the
 * messages this instance committed (so that they need not be read back), wakes it, and passes on what it reports:
 * the indexed_seq range a batch is about to commit, each committed batch, each failure.
 */
import { Worker } from 'node:worker_threads';
import { assertNever } from '../../assert-never.js';
import type { Envelope } from '../../smtp/core/types.js';
import { StoreUnavailableError } from '../errors.js';
import type { SummaryFields } from '../parse.js';
import { logWarning } from '../../log.js';

/** A message as lists show it: what the claim reads, plus the summary the indexer made. */
export type SummaryRow = { id: string; received_at: number; size: number; read: boolean; envelope: Envelope; summary: SummaryFields };
export type IndexedRow = SummaryRow & { indexed_seq: number };

export type IndexerConfig = Readonly<{ databaseUrl: string; queryTimeoutMs: number }>;

/** A committed message's raw bytes, by its seq. */
export type OwnBytes = Readonly<{ seq: number; raw: Uint8Array }>;

export type IndexerRequest =
  | Readonly<{ type: 'own'; items: readonly OwnBytes[] }>
  | Readonly<{ type: 'wake' }>
  /** Index until nothing is left (at start: what an earlier run left unindexed), then answer 'drained'. */
  | Readonly<{ type: 'drain' }>
  | Readonly<{ type: 'close' }>;

export type IndexerEvent =
  /** A batch holds indexed_seq values up to `upTo` and is about to commit (its NOTIFY may come before 'batch'). */
  | Readonly<{ type: 'ordering'; upTo: number }>
  /** A batch committed: its rows as JSON (IndexedRow[]), in indexed_seq order; count 0: nothing was left to claim. */
  | Readonly<{ type: 'batch'; rows: string; count: number }>
  /** A batch did not commit; `unavailable`: the database could not be reached. */
  | Readonly<{ type: 'failed'; reason: string; unavailable: boolean }>
  | Readonly<{ type: 'drained'; messages: number; error: Readonly<{ reason: string; unavailable: boolean }> | null }>
  | Readonly<{ type: 'closed' }>;

export type IndexerHandlers = Readonly<{
  ordering: (upTo: number) => void;
  /** Empty: the batch found nothing to claim. */
  batch: (rows: IndexedRow[]) => void;
  failed: (reason: string, unavailable: boolean) => void;
}>;

/** How long close() waits for the batch in flight. */
const CLOSE_WAIT_MS = 10_000;

type Drain = { resolve: (messages: number) => void; reject: (e: Error) => void };

export class IndexerThread {
  readonly #config: IndexerConfig;
  readonly #on: IndexerHandlers;
  #worker: Worker | null = null;
  readonly #drains: Drain[] = [];
  #closed: (() => void) | null = null;
  #closing = false;
  readonly #onThread: ((thread: Worker) => void) | undefined;

  /** `onThread` (tests): called with each thread started, the first and every restart. */
  constructor(config: IndexerConfig, handlers: IndexerHandlers, onThread?: (thread: Worker) => void) {
    this.#config = config;
    this.#on = handlers;
    this.#onThread = onThread;
  }

  /** Hands over the bytes of messages just committed; the ArrayBuffers in `transfer` move to the thread. */
  own(items: readonly OwnBytes[], transfer: readonly ArrayBuffer[]): void {
    if (items.length === 0 || this.#closing) return;
    this.#thread().postMessage({ type: 'own', items } satisfies IndexerRequest, [...transfer]);
  }

  wake(): void {
    if (this.#closing) return;
    this.#thread().postMessage({ type: 'wake' } satisfies IndexerRequest);
  }

  /** Indexes everything queued; resolves with how many messages that was. */
  drain(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#drains.push({ resolve, reject });
      this.#thread().postMessage({ type: 'drain' } satisfies IndexerRequest);
    });
  }

  /**
   * Lets the batch in flight finish, then ends the thread and its connection; past CLOSE_WAIT_MS the thread is ended
   * as it is (a batch it did not commit is claimed again by the next indexer).
   */
  async close(): Promise<void> {
    this.#closing = true;
    const w = this.#worker;
    if (w === null) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#closed = resolve;
      w.once('exit', () => resolve());
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
      w.postMessage({ type: 'close' } satisfies IndexerRequest);
    });
    clearTimeout(timer);
    this.#worker = null;
    await w.terminate();
  }

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const w = new Worker(new URL('./indexer-worker.js', import.meta.url), { workerData: this.#config });
    w.unref(); // the store's own connections keep the process alive while it is open
    w.on('message', (m: IndexerEvent) => this.#event(m));
    const lost = (why: string): void => {
      if (this.#worker !== w) return;
      this.#worker = null;
      if (this.#closing) return;
      logWarning(`mailwire postgres store: indexer thread ${why}; it is started again when there is work`);
      for (const d of this.#drains.splice(0)) d.reject(new Error(`indexer thread ${why}`));
      this.#on.failed(`indexer thread ${why}`, false);
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited (${code})`));
    this.#worker = w;
    this.#onThread?.(w);
    return w;
  }

  #event(m: IndexerEvent): void {
    switch (m.type) {
      case 'ordering':
        this.#on.ordering(m.upTo);
        return;
      case 'batch':
        this.#on.batch(m.count === 0 ? [] : JSON.parse(m.rows) as IndexedRow[]);
        return;
      case 'failed':
        this.#on.failed(m.reason, m.unavailable);
        return;
      case 'drained': {
        const d = this.#drains.shift();
        if (m.error === null) d?.resolve(m.messages);
        else d?.reject(m.error.unavailable ? new StoreUnavailableError(`PostgreSQL unavailable: ${m.error.reason}`) : new Error(m.error.reason));
        return;
      }
      case 'closed':
        this.#closed?.();
        return;
      default:
        assertNever(m);
    }
  }
}
