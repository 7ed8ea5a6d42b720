/**
 * The main thread's handle on the reader thread (./reader-worker.ts). Started on first use, it keeps the process alive
 * only while a read is in flight, and is started again if it dies, failing only the reads it had. Every read has the
 * store's deadline: past it the read fails (the API answers 503) and the thread's late answer is dropped.
 */
import { Worker } from 'node:worker_threads';
import { RequestChannel, threadEndpoint } from '../../request-channel.js';
import { StoreUnavailableError } from '../errors.js';
import { READER_CHANNEL, type ReadAnswers, type ReadRequest, type ReaderClose } from './protocol.js';

/** How long close() waits for the thread to close its connection before it is ended. */
const CLOSE_WAIT_MS = 5000;

export class ReaderThread {
  readonly #file: string;
  readonly #segmentsDir: string;
  #worker: Worker | null = null;
  readonly #channel: RequestChannel<ReadRequest, ReadAnswers>;

  constructor(file: string, segmentsDir: string, deadlineMs: number) {
    this.#file = file;
    this.#segmentsDir = segmentsDir;
    this.#channel = new RequestChannel<ReadRequest, ReadAnswers>({
      channel: READER_CHANNEL, name: 'store reader thread', refWhileBusy: true, deadlineMs,
      open: () => threadEndpoint(this.#thread()),
      failure: (error, code) => (code === 'deadline' || code === 'lost' || code === 'closed' ? new StoreUnavailableError(error) : new Error(error)),
    });
  }

  ask<R extends ReadRequest>(request: R): Promise<ReadAnswers[R['kind']]> {
    return this.#channel.call(request);
  }

  /** Lets the thread close its connection (so the writer is the last one and can remove the WAL), then ends it. */
  async close(): Promise<void> {
    this.#channel.close('store is closed');
    const w = this.#worker;
    this.#worker = null;
    if (w === null) return;
    const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ type: 'close' } satisfies ReaderClose);
    const late = setTimeout(() => void w.terminate(), CLOSE_WAIT_MS);
    await exited;
    clearTimeout(late);
  }

  #thread(): Worker {
    const w = new Worker(new URL('./reader-worker.js', import.meta.url), { workerData: { file: this.#file, segmentsDir: this.#segmentsDir } });
    w.on('exit', () => {
      if (this.#worker === w) this.#worker = null;
    });
    this.#worker = w;
    return w;
  }
}
