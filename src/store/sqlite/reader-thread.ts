/**
 * The main thread's handle on the reader thread (./sqlite-reader.ts). Started on first use, it keeps the process alive
 * only while a read is in flight, and is started again if it dies, failing only the reads it had.
 */
import { Worker } from 'node:worker_threads';
import { StoreClosedError } from '../errors.js';
import type { ReadAnswers, ReadRequest, ReaderMessage, ReaderReply } from './protocol.js';

type Waiting = { resolve: (v: ReadAnswers[keyof ReadAnswers]) => void; reject: (e: Error) => void };

/** How long close() waits for the thread to close its connection before it is ended. */
const CLOSE_WAIT_MS = 5000;

export class ReaderThread {
  readonly #file: string;
  #worker: Worker | null = null;
  readonly #waiting = new Map<number, Waiting>();
  #next = 1;
  #closed = false;

  constructor(file: string) {
    this.#file = file;
  }

  ask<R extends ReadRequest>(request: R): Promise<ReadAnswers[R['kind']]> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    const n = this.#next++;
    return new Promise<ReadAnswers[R['kind']]>((resolve, reject) => {
      // The reply to a `kind` is that kind's answer (sqlite-reader.ts answers each request with its own).
      this.#waiting.set(n, { resolve: resolve as (v: ReadAnswers[keyof ReadAnswers]) => void, reject });
      const w = this.#thread();
      w.ref(); // a read in flight keeps the process alive, as any I/O would
      w.postMessage({ n, request } satisfies ReaderMessage);
    });
  }

  /** Lets the thread close its connection (so the writer is the last one and can remove the WAL), then ends it. */
  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = null;
    if (w === null) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ n: 0, request: 'close' } satisfies ReaderMessage);
    const late = setTimeout(() => void w.terminate(), CLOSE_WAIT_MS);
    await exited;
    clearTimeout(late);
  }

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const w = new Worker(new URL('./reader-worker.js', import.meta.url), { workerData: { file: this.#file } });
    w.on('message', (r: ReaderReply) => {
      const waiting = this.#waiting.get(r.n);
      this.#waiting.delete(r.n);
      if (this.#waiting.size === 0) w.unref();
      if (r.ok) waiting?.resolve(r.value);
      else waiting?.reject(new Error(r.error));
    });
    const lost = (why: string): void => {
      if (this.#worker === w) this.#worker = null;
      for (const waiting of this.#waiting.values()) waiting.reject(new Error(`store reader thread ${why}`));
      this.#waiting.clear();
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited (${code})`));
    this.#worker = w;
    return w;
  }
}
