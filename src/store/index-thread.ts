/**
 * The index's parse of each message, on a thread of its own and within a CPU-time budget (issue 25): whatever a
 * message holds, indexing it costs the thread that asks a message post and a reply, never the parse itself, and past
 * its budget the parse is given up and the message is indexed from its headers alone (headersOnlyParse, the summary's
 * `indexLimited`). The SQLite writer, the PostgreSQL indexer and the memory store (from the SMTP thread) all index
 * through one of these.
 *
 * Small messages that are one plain text part are parsed where they are asked for, without the round trip: a few KiB
 * of headers and a body decoded in one call (plainTextParse), bounded by SMALL_INLINE_BYTES.
 *
 * The budget is CPU time of the parsing thread, read from /proc/self/task/<tid>/stat on Linux (10 ms ticks; the
 * thread tells its id when it starts). Where that cannot be read, elapsed time stands in for it, at WALL_FACTOR times
 * the budget, since a busy machine stretches a parse's elapsed time. The parses are answered in order; while one is
 * running, a timer checks it every CHECK_MS; one over its budget has its thread terminated, the message gets its
 * headers' parse, and the messages queued behind it go to a new thread.
 */
import { logWarning } from '../log.js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Envelope } from '../smtp/core/types.js';
import { headersOnlyParse, indexEntry, plainTextParse, type IndexEntry } from './parse.js';

/** The default CPU-time budget of one message's index parse. */
export const DEFAULT_INDEX_BUDGET_MS = 200;
/** Messages up to this size that are one plain text part are parsed inline (see plainTextParse). */
const SMALL_INLINE_BYTES = 4096;
const CHECK_MS = 20;
/** Without a CPU clock for the thread, a parse may take this many times its budget in elapsed time. */
const WALL_FACTOR = 5;

export type IndexRequest = Readonly<{ n: number; raw: Uint8Array; envelope: Envelope }>;
export type IndexReply =
  | Readonly<{ type: 'thread'; tid: number | null }>
  | Readonly<{ type: 'entry'; n: number; entry: IndexEntry }>
  | Readonly<{ type: 'failed'; n: number; error: string }>;

type Pending = { n: number; raw: Uint8Array; envelope: Envelope; resolve: (e: IndexEntry) => void; reject: (e: Error) => void };

/** The parsing thread's CPU time in ms (user + system), or null when it cannot be read. */
function threadCpuMs(tid: number): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : null; // USER_HZ is 100 on every Linux Node runs on
  } catch {
    return null;
  }
}

export type IndexThreadStats = { limited: number; restarts: number };

export class IndexThread {
  readonly #budgetMs: number;
  #worker: Worker | null = null;
  #tid: number | null = null;
  /** Posted to the current thread, answered in this order. */
  #inFlight: Pending[] = [];
  /** When the head of #inFlight started: thread CPU (ms) and elapsed time. */
  #headCpu: number | null = null;
  #headAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #next = 1;
  #closed = false;
  readonly stats: IndexThreadStats = { limited: 0, restarts: 0 };

  constructor(budgetMs: number = DEFAULT_INDEX_BUDGET_MS) {
    this.#budgetMs = budgetMs;
  }

  /** The message's index entry; from its headers alone past the budget. Rejects only once closed. */
  async entry(raw: Uint8Array, envelope: Envelope): Promise<IndexEntry> {
    if (raw.byteLength <= SMALL_INLINE_BYTES) {
      const plain = await plainTextParse(raw);
      if (plain !== null) return indexEntry(plain, envelope);
    }
    if (this.#closed) throw new Error('index thread is closed');
    return new Promise<IndexEntry>((resolve, reject) => {
      const p: Pending = { n: this.#next++, raw, envelope, resolve, reject };
      if (this.#inFlight.length === 0) this.#startHead();
      this.#inFlight.push(p);
      this.#post(p);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    for (const p of this.#inFlight) p.reject(new Error('index thread closed'));
    this.#inFlight = [];
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }

  #post(p: Pending): void {
    const w = this.#thread();
    w.ref();
    // A compact copy, moved: the caller keeps its bytes, and a view into a larger buffer would clone all of it.
    const raw = new Uint8Array(p.raw); // a copy (Buffer's slice would be a view)
    w.postMessage({ n: p.n, raw, envelope: p.envelope } satisfies IndexRequest, [raw.buffer]);
  }

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const w = new Worker(new URL('./index-worker.js', import.meta.url));
    this.#tid = null;
    w.on('message', (r: IndexReply) => {
      if (w !== this.#worker) return;
      if (r.type === 'thread') {
        this.#tid = r.tid;
        if (this.#inFlight.length > 0 && this.#headCpu === null && r.tid !== null) this.#headCpu = threadCpuMs(r.tid);
        return;
      }
      const head = this.#inFlight[0];
      if (head === undefined || head.n !== r.n) return; // answered already (given up on)
      this.#inFlight.shift();
      if (r.type === 'entry') head.resolve(r.entry);
      else void this.#limited(head); // the parse threw: the headers are still worth indexing
      if (this.#inFlight.length === 0) {
        this.#stopTimer();
        w.unref();
      } else this.#startHead();
    });
    const lost = (why: string): void => {
      if (this.#worker !== w) return;
      this.#worker = null;
      // Its messages go to a new thread; the one it was on is indexed from its headers (it may be what killed it).
      const [head, ...rest] = this.#inFlight;
      this.#inFlight = [];
      this.#stopTimer();
      if (head !== undefined) {
        logWarning(`mailwire index thread ${why}; message indexed from its headers`);
        void this.#limited(head);
      }
      for (const p of rest) {
        if (this.#inFlight.length === 0) this.#startHead();
        this.#inFlight.push(p);
        this.#post(p);
      }
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited (${code})`));
    this.#worker = w;
    return w;
  }

  #startHead(): void {
    this.#headAt = performance.now();
    this.#headCpu = this.#tid === null ? null : threadCpuMs(this.#tid);
    this.#timer ??= setInterval(() => this.#check(), CHECK_MS);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Gives up the parse at the head when it has had its budget. */
  #check(): void {
    const head = this.#inFlight[0];
    const w = this.#worker;
    if (head === undefined || w === null) return;
    const cpu = this.#tid === null ? null : threadCpuMs(this.#tid);
    const over = cpu !== null && this.#headCpu !== null
      ? cpu - this.#headCpu > this.#budgetMs
      : performance.now() - this.#headAt > this.#budgetMs * WALL_FACTOR;
    if (!over) return;
    this.stats.restarts++;
    const rest = this.#inFlight.slice(1);
    this.#inFlight = [];
    this.#worker = null;
    this.#stopTimer();
    void w.terminate();
    void this.#limited(head);
    for (const p of rest) {
      if (this.#inFlight.length === 0) this.#startHead();
      this.#inFlight.push(p);
      this.#post(p);
    }
  }

  async #limited(p: Pending): Promise<void> {
    this.stats.limited++;
    p.resolve(indexEntry(await headersOnlyParse(p.raw), p.envelope));
  }
}
