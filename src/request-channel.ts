/**
 * One typed request/answer channel for every hop between threads and processes (the SQLite writer and reader, the
 * MIME parser thread, a cluster worker's saves and fault questions to its primary): calls are numbered, answered by
 * number, each kind of request has its answer type (a `kind → answer` map, as ./store/sqlite/protocol.ts's ReadAnswers), a call may carry a deadline, and when the
 * other end dies only the calls it had fail. The far side answers with serveCalls(), the near side asks with call().
 *
 * On the wire, both ways, plain structured-clone data tagged with the channel's name, so that several channels and
 * other traffic can share one port (a cluster worker's IPC):
 *   near → far  { channel, calls: [{ n, request }] }         (one message for all the calls of a tick when `batch`)
 *   far → near  { channel, answers: [{ n, ok, value } | { n, ok: false, error, code? }] }
 * Anything else that arrives is handed to `onOther` (a writer's 'ready', its 'indexed' news).
 */
import type { TransferListItem, Worker } from 'node:worker_threads';

/** What a channel talks through: a worker thread, a process's IPC, or a test's fake. */
export interface Endpoint {
  post(message: unknown, transfer?: readonly TransferListItem[]): void;
  /** `onLost` is called once, when the other end is gone for good (exit, error, disconnect). */
  listen(onMessage: (m: unknown) => void, onLost: (why: string) => void): void;
  /** Keeps the process alive while calls are in flight (a thread's ref), and lets it go when none are. */
  ref?(): void;
  unref?(): void;
}

/** Requests are discriminated by `kind`; Answers maps each kind to what its call resolves with. */
export type Request = Readonly<{ kind: string }>;
export type AnswerMap<Req extends Request> = { [K in Req['kind']]: unknown };

export type CallMessage<Req> = Readonly<{ channel: string; calls: readonly Readonly<{ n: number; request: Req }>[] }>;
export type Answer = Readonly<{ n: number; ok: true; value: unknown }> | Readonly<{ n: number; ok: false; error: string; code?: string }>;
export type AnswerMessage = Readonly<{ channel: string; answers: readonly Answer[] }>;

/** Why a call failed, with the far side's code when it gave one ('full', 'expired' …) or 'lost' / 'deadline' / 'closed'. */
export class ChannelError extends Error {
  override name = 'ChannelError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A call's deadline: at `at` (ms since the epoch) the call fails with code 'deadline', unless `cut` (asked then)
 * says the far side has already taken it on, in which case its answer is awaited however late.
 */
export type CallDeadline = Readonly<{ at: number; cut?: () => boolean }>;

export type CallOptions = Readonly<{ transfer?: readonly TransferListItem[]; deadline?: CallDeadline }>;

export type ChannelOptions = Readonly<{
  /** Tags the messages, and names the far side in errors ("store reader thread exited (1)"). */
  channel: string;
  /** What the far side is called in errors; default the channel's tag. */
  name?: string;
  /** Opens an endpoint on the first call and after one is lost; without it the owner attach()es endpoints. */
  open?: () => Endpoint;
  /** Calls made in one tick go in one message (their transfer lists joined). */
  batch?: boolean;
  /** Calls wait until ready() is called for each endpoint attached (a writer that answers 'ready' once open). */
  waitForReady?: boolean;
  /** ref() the endpoint while calls are in flight, unref() it when none are. */
  refWhileBusy?: boolean;
  /** A deadline for every call that names none: this many ms from the call. */
  deadlineMs?: number;
  /** Everything that arrives that is not this channel's answer. */
  onOther?: (m: unknown) => void;
  /** The error a failed answer becomes (default: a ChannelError with the far side's text and code). */
  failure?: (error: string, code: string | undefined) => Error;
}>;

type Waiting = {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  deadline: CallDeadline | null;
  /** When the call was made (Date.now()), for the deadline's error. */
  since: number;
  /** Posted to the current endpoint (its loss fails the call) rather than waiting to be. */
  posted: boolean;
};

type Outgoing = { n: number; request: Request; transfer: readonly TransferListItem[] };

const isAnswerMessage = (m: unknown, channel: string): m is AnswerMessage =>
  typeof m === 'object' && m !== null && (m as { channel?: unknown }).channel === channel && Array.isArray((m as { answers?: unknown }).answers);

export class RequestChannel<Req extends Request, Answers extends AnswerMap<Req>> {
  readonly #opts: ChannelOptions;
  readonly #name: string;
  #endpoint: Endpoint | null = null;
  #ready = false;
  readonly #waiting = new Map<number, Waiting>();
  #outbox: Outgoing[] = [];
  #flushQueued = false;
  #next = 1;
  #closed: string | null = null;
  /** One timer for the nearest deadline. */
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;

  constructor(opts: ChannelOptions) {
    this.#opts = opts;
    this.#name = opts.name ?? opts.channel;
  }

  /** Calls made and not yet answered (or failed). */
  get inFlight(): number {
    return this.#waiting.size;
  }

  call<R extends Req>(request: R, options: CallOptions = {}): Promise<Answers[R['kind']]> {
    if (this.#closed !== null) return Promise.reject(this.#fail(this.#closed, 'closed'));
    const n = this.#next++;
    const deadline = options.deadline ?? (this.#opts.deadlineMs === undefined ? null : { at: Date.now() + this.#opts.deadlineMs });
    return new Promise<Answers[R['kind']]>((resolve, reject) => {
      this.#waiting.set(n, { resolve: resolve as (v: unknown) => void, reject, deadline, since: Date.now(), posted: false });
      this.#outbox.push({ n, request, transfer: options.transfer ?? [] });
      if (deadline !== null) this.#arm(deadline.at);
      if (this.#opts.batch !== true) this.#flush();
      else if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => {
          this.#flushQueued = false;
          this.#flush();
        });
      }
    });
  }

  /** Hands the channel an endpoint (the owner's way to start, or restart, the far side). */
  attach(endpoint: Endpoint): void {
    this.#endpoint = endpoint;
    this.#ready = this.#opts.waitForReady !== true;
    endpoint.listen((m) => this.#onMessage(endpoint, m), (why) => this.#lost(endpoint, why));
    if (this.#waiting.size === 0 && this.#opts.refWhileBusy === true) endpoint.unref?.();
    this.#flush();
  }

  /** The far side said it is ready (waitForReady): what waited is sent. */
  ready(): void {
    this.#ready = true;
    this.#flush();
  }

  /** Fails every call, sent or not; the endpoint stays (closing it is the owner's). */
  failAll(why: string, code = 'closed'): void {
    this.#outbox = [];
    for (const [n, w] of this.#waiting) {
      this.#waiting.delete(n);
      w.reject(this.#fail(why, code));
    }
    this.#clearTimer();
  }

  /** No more calls: those not yet answered fail with `why`. */
  close(why = `${this.#name} is closed`): void {
    this.#closed = why;
    this.failAll(why);
  }

  /** Sends what waits: one message per call, or one for all of them (batch). */
  #flush(): void {
    if (this.#outbox.length === 0) return;
    if (this.#endpoint === null) {
      if (this.#opts.open !== undefined) this.attach(this.#opts.open()); // which sends what waits
      return; // else the owner attaches one
    }
    const endpoint = this.#endpoint;
    if (endpoint === null || !this.#ready) return;
    const out = this.#outbox;
    this.#outbox = [];
    for (const o of out) {
      const w = this.#waiting.get(o.n);
      if (w !== undefined) w.posted = true;
    }
    if (this.#waiting.size > 0 && this.#opts.refWhileBusy === true) endpoint.ref?.();
    if (this.#opts.batch === true) {
      const calls = out.map((o) => ({ n: o.n, request: o.request }));
      endpoint.post({ channel: this.#opts.channel, calls } satisfies CallMessage<Request>, [...new Set(out.flatMap((o) => o.transfer))]);
    } else {
      for (const o of out) endpoint.post({ channel: this.#opts.channel, calls: [{ n: o.n, request: o.request }] } satisfies CallMessage<Request>, o.transfer);
    }
  }

  #onMessage(endpoint: Endpoint, m: unknown): void {
    if (!isAnswerMessage(m, this.#opts.channel)) {
      this.#opts.onOther?.(m);
      return;
    }
    for (const a of m.answers) {
      const w = this.#waiting.get(a.n);
      if (w === undefined) continue; // failed at its deadline already
      this.#waiting.delete(a.n);
      if (a.ok) w.resolve(a.value);
      else w.reject(this.#fail(a.error, a.code));
    }
    if (this.#waiting.size === 0) {
      if (this.#opts.refWhileBusy === true && endpoint === this.#endpoint) endpoint.unref?.();
      this.#clearTimer();
    }
  }

  /** The far side is gone: what it had fails; what it never got waits for the next one (opened at once if `open`). */
  #lost(endpoint: Endpoint, why: string): void {
    if (endpoint !== this.#endpoint) return;
    this.#endpoint = null;
    this.#ready = false;
    for (const [n, w] of this.#waiting) {
      if (!w.posted) continue;
      this.#waiting.delete(n);
      w.reject(this.#fail(`${this.#name} ${why}`, 'lost'));
    }
    if (this.#outbox.length > 0 && this.#opts.open !== undefined && this.#closed === null) this.#flush();
  }

  #fail(error: string, code: string | undefined): Error {
    return this.#opts.failure?.(error, code) ?? new ChannelError(error, code);
  }

  // ---- deadlines: one timer, set for the nearest ---------------------------------------------------------------

  #arm(at: number): void {
    if (this.#timer !== null && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - Date.now()));
    this.#timer.unref(); // a deadline alone does not keep the process alive: the call's own I/O does
  }

  #clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #expire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = Date.now();
    let nearest = Infinity;
    let dropped = false;
    for (const [n, w] of this.#waiting) {
      const d = w.deadline;
      if (d === null) continue;
      if (d.at > now) {
        nearest = Math.min(nearest, d.at);
        continue;
      }
      if (d.cut !== undefined && !d.cut()) {
        w.deadline = null; // taken on by the far side: its answer decides, however late
        continue;
      }
      this.#waiting.delete(n);
      dropped ||= !w.posted;
      w.reject(this.#fail(`${this.#name} did not answer within ${d.at - w.since} ms`, 'deadline'));
    }
    // Not sent yet: never sent, so nothing refused is done later.
    if (dropped) this.#outbox = this.#outbox.filter((o) => this.#waiting.has(o.n));
    if (nearest !== Infinity) this.#arm(nearest);
  }
}

/** Reply with a code the near side can act on (a full disk, a deadline passed). */
export class CodedError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

export type ServeOptions<Req extends Request> = Readonly<{
  /** One call at a time, in order of arrival (a thread with one connection); default: all at once. */
  inOrder?: boolean;
  /** What to transfer rather than copy with an answer. */
  transfer?: (request: Req, value: unknown) => readonly TransferListItem[];
}>;

/**
 * Returns the function to call with each message that arrives on the far side: it answers this channel's calls
 * through `post`, and returns false for messages that are not its own (so the caller can look at them).
 */
export function serveCalls<Req extends Request>(
  channel: string,
  /** The answer to one call: of the type its kind's entry in the channel's answer map says (a throw answers ok: false). */
  handle: (request: Req) => unknown,
  post: (m: AnswerMessage, transfer: readonly TransferListItem[]) => void,
  options: ServeOptions<Req> = {},
): (m: unknown) => boolean {
  let chain: Promise<void> = Promise.resolve();
  const answer = async (n: number, request: Req): Promise<void> => {
    try {
      const value = await handle(request);
      post({ channel, answers: [{ n, ok: true, value }] }, options.transfer?.(request, value) ?? []);
    } catch (e) {
      const code = e instanceof CodedError ? e.code : undefined;
      post({ channel, answers: [{ n, ok: false, error: e instanceof Error ? e.message : String(e), ...(code === undefined ? {} : { code }) }] }, []);
    }
  };
  return (m: unknown): boolean => {
    if (typeof m !== 'object' || m === null || (m as { channel?: unknown }).channel !== channel) return false;
    const calls = (m as CallMessage<Req>).calls;
    if (!Array.isArray(calls)) return false;
    for (const { n, request } of calls) {
      if (options.inOrder === true) chain = chain.then(() => answer(n, request));
      else void answer(n, request);
    }
    return true;
  };
}

// ---- endpoints -----------------------------------------------------------------------------------------------------

/** A worker thread: lost on 'error' or 'exit'. */
export function threadEndpoint(worker: Worker): Endpoint {
  return {
    post: (m, transfer) => worker.postMessage(m, transfer === undefined ? undefined : [...transfer]),
    listen(onMessage, onLost) {
      let gone = false;
      const lost = (why: string): void => {
        if (gone) return;
        gone = true;
        onLost(why);
      };
      worker.on('message', onMessage);
      worker.on('error', (e) => lost(`failed: ${e.message}`));
      worker.on('exit', (code) => lost(`exited (${code})`));
    },
    ref: () => worker.ref(),
    unref: () => worker.unref(),
  };
}

/**
 * This process's IPC to its parent (a cluster worker's to its primary): lost when the parent disconnects. Several
 * channels may share it; each ignores the others' messages.
 */
export function parentProcessEndpoint(): Endpoint {
  return {
    post: (m) => {
      if (process.connected) process.send?.(m);
    },
    listen(onMessage, onLost) {
      if (process.send === undefined || !process.connected) {
        queueMicrotask(() => onLost('is not connected'));
        return;
      }
      process.on('message', onMessage);
      process.once('disconnect', () => onLost('disconnected'));
    },
  };
}
