/**
 * The store deadline (--store-timeout), in one place. Whatever sink a connection gets is wrapped in withDeadline: each
 * save carries a SaveDeadline, and the store takes the save (take()) just before the commit that would hold it. At
 * the deadline the wrapper cuts it (cut()) unless the store took it first: a cut save is answered 451 and the store
 * leaves it out of its commit, so nothing is stored; a save the store took is answered by its commit, 250 however late.
 * The claim is one compare-and-swap on a SharedArrayBuffer, so a writer on another thread takes a save the same way.
 * The same wrapper measures how long saves wait: /healthz says `degraded`, with the reason, while one waits too long.
 */
import { StoreUnavailableError } from './errors.js';
import type { IncomingMessage, MessageSink, StoreHealth } from './types.js';

const OPEN = 0;
const TAKEN = 1;
const CUT = 2;

/** The one wording of a save refused at its deadline (the client gets 451 4.3.0, and nothing was stored). */
export const pastDeadline = (timeoutMs: number): string => `not stored: the store did not commit the message within ${timeoutMs} ms`;

/**
 * Takes the save whose claim is `cell` for a commit: true if it is the store's to commit (it then must answer for it),
 * false if its deadline cut it (or has passed: then it is cut here). For a writer on another thread: the cell crosses
 * by postMessage and stays shared.
 */
export function takeSave(cell: Int32Array, at: number, now = Date.now()): boolean {
  Atomics.compareExchange(cell, 0, OPEN, now >= at ? CUT : TAKEN);
  return Atomics.load(cell, 0) === TAKEN;
}

/**
 * Claims are cut from shared slabs of CELLS_PER_SLAB, never reused: a SharedArrayBuffer each cost about 1-5 µs a save,
 * a view on a slab a tenth of that. A slab is freed once no claim on it is referenced any more.
 */
const CELLS_PER_SLAB = 1024;
let slab = new SharedArrayBuffer(4 * CELLS_PER_SLAB);
let nextInSlab = 0;
function nextCell(): Int32Array {
  if (nextInSlab === CELLS_PER_SLAB) {
    slab = new SharedArrayBuffer(4 * CELLS_PER_SLAB);
    nextInSlab = 0;
  }
  return new Int32Array(slab, 4 * nextInSlab++, 1);
}

/** A save's deadline and its claim, shared between the wrapper, the store and the store's threads. */
export class SaveDeadline {
  /** Milliseconds since the epoch. */
  readonly at: number;
  #cell: Int32Array | null = null;

  constructor(at: number) {
    this.at = at;
  }

  /**
   * OPEN, TAKEN (the store is committing it) or CUT (refused at its deadline). Made on first use, on the thread that
   * made the deadline (before it crosses to a writer): a store that answers at once never needs one.
   */
  get cell(): Int32Array {
    return (this.#cell ??= nextCell());
  }

  /** The store, just before the commit that holds this save: false means leave it out (it has been answered 451). */
  take(now = Date.now()): boolean {
    return takeSave(this.cell, this.at, now);
  }

  /** Whether the deadline has cut the save (it is, or is being, answered 451). */
  get isCut(): boolean {
    return Atomics.load(this.cell, 0) === CUT;
  }

  /** The wrapper, at the deadline: true if the save is refused now, false if the store took it first. */
  cut(): boolean {
    Atomics.compareExchange(this.cell, 0, OPEN, CUT);
    return Atomics.load(this.cell, 0) === CUT;
  }
}

/** How long saves wait, for /healthz: the oldest waiting now, and the last one cut. */
export class SaveWatch {
  readonly #waiting = new Map<number, number>();
  #next = 0;
  #lastCutAt = -Infinity;
  readonly #thresholdMs: number;
  readonly #timeoutMs: number;

  /** `thresholdMs`: a save waiting longer than this makes the server degraded (default: 5 s, at most half the timeout). */
  constructor(timeoutMs: number, thresholdMs = Math.min(5000, timeoutMs / 2)) {
    this.#timeoutMs = timeoutMs;
    this.#thresholdMs = thresholdMs;
  }

  begin(now = Date.now()): number {
    const token = this.#next++;
    this.#waiting.set(token, now);
    return token;
  }

  end(token: number): void {
    this.#waiting.delete(token);
  }

  cut(now = Date.now()): void {
    this.#lastCutAt = now;
  }

  /** Why the server is degraded, or null: a save waiting past the threshold, or one refused at its deadline lately. */
  degraded(now = Date.now()): string | null {
    const oldest = this.#waiting.values().next();
    if (oldest.done !== true && now - oldest.value > this.#thresholdMs) {
      return `a message has waited ${((now - oldest.value) / 1000).toFixed(1)} s for the store to commit it (threshold ${this.#thresholdMs / 1000} s)`;
    }
    if (now - this.#lastCutAt < RECENT_CUT_MS) {
      return `a message was refused ${((now - this.#lastCutAt) / 1000).toFixed(1)} s ago: ${pastDeadline(this.#timeoutMs)}`;
    }
    return null;
  }
}

/** setTimeout fires at once past this (2^31 - 1 ms): a longer deadline waits this long, then for the store. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** After a save is refused at its deadline, /healthz says degraded this long. */
const RECENT_CUT_MS = 30_000;

export type DeadlineOptions = Readonly<{ storeTimeoutMs: number; watch?: SaveWatch }>;

/** What the queue holds: a deadline, what to do at it, and whether it was settled first. */
type Waiter = { readonly at: number; fire(): void; done: boolean; own: NodeJS.Timeout | null };

/**
 * The deadlines of the saves in flight, under one timer: saves get their deadline as they come (now + the timeout), so
 * they are queued in order and the timer only ever waits for the oldest. A timer per save cost a setTimeout and a
 * clearTimeout each (about 5 µs a message under `npm run bench -- --only ours-none-smtp`). The timer is also kept when
 * the queue empties (unref'd, so that it alone keeps no process alive): a store that answers before the next save
 * comes (the discard sink always does) would otherwise set and clear one per message all the same; when it fires
 * early it finds nothing due and waits for the oldest again. A deadline that comes out of order (a cluster worker's,
 * carried over IPC) gets a timer of its own.
 */
class DeadlineQueue {
  #items: Waiter[] = [];
  #head = 0;
  #live = 0;
  #timer: NodeJS.Timeout | null = null;
  /** When the timer fires (Date.now() ms); Infinity while none is set. */
  #firesAt = Infinity;

  /** Queues `w` for its deadline; settle(w) takes it out. */
  add(w: Waiter): void {
    const last = this.#items[this.#items.length - 1];
    if (last !== undefined && w.at < last.at) {
      w.own = setTimeout(() => { if (!w.done) w.fire(); }, Math.min(MAX_TIMER_MS, Math.max(0, w.at - Date.now())));
      return;
    }
    this.#items.push(w);
    if (this.#live++ === 0) this.#timer?.ref(); // something waits again: the timer keeps the process alive
    if (w.at < this.#firesAt) this.#arm(); // else the timer fires first, and sets itself again for what is left
  }

  /** Takes `w` out: false if it was settled already (its deadline fired, or the store answered). */
  settle(w: Waiter): boolean {
    if (w.done) return false;
    w.done = true;
    if (w.own !== null) clearTimeout(w.own);
    else this.#settled();
    return true;
  }

  #settled(): void {
    if (--this.#live > 0) return;
    this.#timer?.unref(); // nothing waits: the timer stays set, but keeps no process alive
    this.#items = [];
    this.#head = 0;
  }

  #arm(): void {
    while (this.#head < this.#items.length && (this.#items[this.#head] as Waiter).done) this.#head++;
    const first = this.#items[this.#head];
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#firesAt = Infinity;
    if (first === undefined) return;
    this.#firesAt = first.at;
    this.#timer = setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, Math.max(0, first.at - Date.now())));
  }

  #fire(): void {
    this.#timer = null;
    this.#firesAt = Infinity;
    const now = Date.now();
    // Bounded by the queue: each step passes one entry.
    while (this.#head < this.#items.length) {
      const w = this.#items[this.#head] as Waiter;
      if (!w.done && w.at > now) break;
      this.#head++;
      if (!w.done) w.fire();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#live > 0) this.#arm();
  }
}

/**
 * The sink a connection writes to: `sink`, each save bounded by the deadline. A save may come with its deadline already
 * set (a cluster worker's, carried over IPC); else it gets one `storeTimeoutMs` from now. A sink that never take()s a
 * save is cut at the deadline all the same (the wrapper cannot know what it did with it).
 */
export function withDeadline<S extends Omit<MessageSink, 'close'>>(sink: S, options: DeadlineOptions): Omit<MessageSink, 'close'> {
  const { storeTimeoutMs, watch } = options;
  const queue = new DeadlineQueue();
  return {
    save(message: IncomingMessage): Promise<string> {
      const deadline = message.deadline ?? new SaveDeadline(Date.now() + storeTimeoutMs);
      const token = watch?.begin();
      let saving: Promise<string>;
      try {
        saving = sink.save(message.deadline === deadline ? message : { ...message, deadline });
      } catch (e) {
        if (token !== undefined) watch?.end(token);
        throw e; // a sink that throws is a bug: the connection's crash boundary answers it (421), not a 451
      }
      const pending = new PendingSave(deadline, token, queue, watch, storeTimeoutMs);
      queue.add(pending);
      saving.then(
        (id) => pending.answered(id),
        (e: unknown) => pending.failed(e),
      );
      return pending.promise;
    },
    saveSession: (session) => sink.saveSession(session),
  };
}

/** One save in flight: its place in the deadline queue, and the answer the connection waits for (an object, not closures: one per message). */
class PendingSave implements Waiter {
  readonly at: number;
  done = false;
  own: NodeJS.Timeout | null = null;
  readonly promise: Promise<string>;
  #resolve!: (id: string) => void;
  #reject!: (e: Error) => void;
  readonly #deadline: SaveDeadline;
  readonly #token: number | undefined;
  readonly #queue: DeadlineQueue;
  readonly #watch: SaveWatch | undefined;
  readonly #timeoutMs: number;

  constructor(deadline: SaveDeadline, token: number | undefined, queue: DeadlineQueue, watch: SaveWatch | undefined, timeoutMs: number) {
    this.at = deadline.at;
    this.#deadline = deadline;
    this.#token = token;
    this.#queue = queue;
    this.#watch = watch;
    this.#timeoutMs = timeoutMs;
    this.promise = new Promise<string>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** The deadline: refused (451) unless the store took the save first (its commit answers, however late). */
  fire(): void {
    if (!this.#deadline.cut()) return;
    if (this.#finish()) this.#refuse();
  }

  answered(id: string): void {
    if (this.#finish()) this.#resolve(id);
  }

  /** Cut by the deadline (the store may notice first, on its own timer): said one way, counted once. */
  failed(e: unknown): void {
    if (!this.#finish()) return;
    if (this.#deadline.isCut) this.#refuse();
    else this.#reject(e instanceof Error ? e : new Error(String(e)));
  }

  #finish(): boolean {
    if (!this.#queue.settle(this)) return false;
    if (this.#token !== undefined) this.#watch?.end(this.#token);
    return true;
  }

  #refuse(): void {
    this.#watch?.cut();
    this.#reject(new StoreUnavailableError(pastDeadline(this.#timeoutMs)));
  }
}

/** The store's health with the deadline's verdict: degraded (503, with the reason) while saves wait too long. */
export function healthWithSaves(health: StoreHealth, watch: SaveWatch): StoreHealth {
  const degraded = watch.degraded();
  return degraded === null ? health : { ...health, degraded };
}

/** `store` with its health() joined to the deadline's verdict (for /healthz and /metrics); everything else as it is. */
export function withSaveHealth<T extends Readonly<{ health(): StoreHealth }>>(store: T, watch: SaveWatch): T {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'health') return (): StoreHealth => healthWithSaves(target.health(), watch);
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
