/**
 * bcrypt off the event loop: a small pool of worker threads (bcryptjs is pure JS, so no native build) that run at
 * most `threads` computations at once, and a bounded queue in front of them. A job that finds the queue full is
 * refused at once with LoginBusyError (the caller answers "try again later": SMTP 454, HTTP 503) rather than queued
 * without end: a flood of logins costs its senders a refusal, not everyone a growing wait.
 *
 * Threads start on first use and are unref'd while idle, so an idle pool keeps no process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LoginBusyError } from './net/login-limiter.js';

export type BcryptJob =
  | Readonly<{ id: number; kind: 'compare'; password: string; hash: string }>
  | Readonly<{ id: number; kind: 'hash'; password: string; cost: number }>;
export type BcryptResult =
  | Readonly<{ id: number; kind: 'compared'; ok: boolean }>
  | Readonly<{ id: number; kind: 'hashed'; hash: string }>
  | Readonly<{ id: number; kind: 'failed'; message: string }>;

export type BcryptPoolOptions = Readonly<{
  /** bcrypt computations at once (default: 2, and one core always left to the event loop: 1 on a 2-core machine). */
  threads?: number;
  /** Jobs waiting for a thread before new ones are refused (default 32). */
  maxQueued?: number;
}>;

type Pending = Readonly<{ job: BcryptJob; resolve: (r: BcryptResult) => void; reject: (e: Error) => void }>;
type Slot = { worker: Worker; busy: Pending | null };

export const DEFAULT_BCRYPT_THREADS = Math.max(1, Math.min(2, availableParallelism() - 1));
export const DEFAULT_BCRYPT_QUEUE = 32;

export class BcryptPool {
  readonly threads: number;
  readonly maxQueued: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: BcryptPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? DEFAULT_BCRYPT_THREADS);
    this.maxQueued = Math.max(0, options.maxQueued ?? DEFAULT_BCRYPT_QUEUE);
  }

  /** Whether `password` matches the bcrypt `hash`. Rejects with LoginBusyError when the queue is full. */
  async compare(password: string, hash: string): Promise<boolean> {
    const r = await this.#run({ id: this.#nextId++, kind: 'compare', password, hash });
    if (r.kind !== 'compared') throw new Error(r.kind === 'failed' ? `bcrypt: ${r.message}` : 'bcrypt: unexpected answer');
    return r.ok;
  }

  /** A bcrypt hash of `password` at `cost`. */
  async hash(password: string, cost: number): Promise<string> {
    const r = await this.#run({ id: this.#nextId++, kind: 'hash', password, cost });
    if (r.kind !== 'hashed') throw new Error(r.kind === 'failed' ? `bcrypt: ${r.message}` : 'bcrypt: unexpected answer');
    return r.hash;
  }

  /** Jobs running and waiting (for tests and metrics). */
  get load(): Readonly<{ running: number; queued: number }> {
    return { running: this.#slots.filter((s) => s.busy !== null).length, queued: this.#queue.length };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#queue.splice(0)) p.reject(new Error('bcrypt pool closed'));
    await Promise.all(this.#slots.splice(0).map((s) => s.worker.terminate()));
  }

  #run(job: BcryptJob): Promise<BcryptResult> {
    return new Promise<BcryptResult>((resolve, reject) => {
      if (this.#closed) return reject(new Error('bcrypt pool closed'));
      const pending: Pending = { job, resolve, reject };
      const idle = this.#idleSlot();
      if (idle !== null) return this.#start(idle, pending);
      if (this.#queue.length >= this.maxQueued) {
        return reject(new LoginBusyError(`${this.threads + this.#queue.length} password checks already running or waiting`));
      }
      this.#queue.push(pending);
    });
  }

  #idleSlot(): Slot | null {
    const idle = this.#slots.find((s) => s.busy === null);
    if (idle !== undefined) return idle;
    if (this.#closed || this.#slots.length >= this.threads) return null;
    const slot: Slot = { worker: new Worker(new URL('./bcrypt-worker.js', import.meta.url)), busy: null };
    slot.worker.on('message', (r: BcryptResult) => this.#done(slot, (p) => p.resolve(r)));
    // A thread that dies fails its job and leaves the pool; the next job starts a new one.
    const die = (e: Error): void => {
      const i = this.#slots.indexOf(slot);
      if (i !== -1) this.#slots.splice(i, 1);
      slot.busy?.reject(e);
      slot.busy = null;
      this.#next();
    };
    slot.worker.on('error', die);
    slot.worker.on('exit', (code) => die(new Error(`bcrypt thread exited (${code})`)));
    this.#slots.push(slot);
    return slot;
  }

  #start(slot: Slot, p: Pending): void {
    slot.busy = p;
    slot.worker.ref(); // a check in progress keeps the process up until it answers
    slot.worker.postMessage(p.job);
  }

  #done(slot: Slot, settle: (p: Pending) => void): void {
    const p = slot.busy;
    slot.busy = null;
    slot.worker.unref();
    if (p !== null) settle(p);
    this.#next();
  }

  #next(): void {
    while (this.#queue.length > 0) {
      const slot = this.#idleSlot();
      if (slot === null) return;
      const p = this.#queue.shift();
      if (p !== undefined) this.#start(slot, p);
    }
  }
}

let shared: BcryptPool | undefined;
/** The process's pool, made on first use: every login check (SMTP AUTH, HTTP Basic) shares its threads. */
export const sharedBcryptPool = (): BcryptPool => (shared ??= new BcryptPool());
