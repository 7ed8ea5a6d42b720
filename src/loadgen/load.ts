/**
 * The load generator's engine: C workers, each with its own connection (or a new one per message), sending the same
 * pre-encoded message until the budget is spent, every outcome and round trip counted in a BenchTally.
 *
 * Theory of operation: a Budget hands out tickets, 'warmup' ones first and then 'measure' ones, by count or until a
 * deadline; each message records into the tally of its ticket, so warm-up traffic never reaches the report. The
 * measured wall time runs from the first measure ticket to the last measured message's end. Per message the engine
 * allocates nothing of its own beyond a ticket check: the message bytes are encoded once (PreparedMessage), the
 * Recorder keeps nothing and forwards each round trip straight into the tally's histograms.
 */
import { performance } from 'node:perf_hooks';
import { Recorder, SmtpClient, type ClientOptions, type Timing } from '../smtp/client/client.js';
import type { PreparedMessage } from '../smtp/client/prepared.js';
import { MailwireError, SmtpReplyError } from '../errors.js';
import { BenchTally, type BenchReport } from './tally.js';

export type Amount = Readonly<{ messages: number } | { durationMs: number }>;

export type LoadOptions = Readonly<{
  client: ClientOptions;
  from: string;
  to: readonly string[];
  message: PreparedMessage;
  connections: number;
  amount: Amount;
  warmup?: Amount | null;
  newConnectionPerMessage?: boolean;
  /** Stops handing out tickets (messages in flight finish). */
  signal?: AbortSignal;
}>;

export type LoadResult = Readonly<{ report: BenchReport; warmup: BenchReport | null }>;

type Phase = 'warmup' | 'measure';

/** Hands out one ticket per message: warm-up first, then the measured ones; null when the run is over. */
export class Budget {
  readonly #warmup: Amount | null;
  readonly #measure: Amount;
  readonly #now: () => number;
  #phase: Phase | 'done';
  #issued = 0;
  #deadline = 0;
  measureStartedAt: number | null = null;

  constructor(measure: Amount, warmup: Amount | null, now: () => number) {
    this.#measure = measure;
    this.#warmup = warmup;
    this.#now = now;
    this.#phase = 'warmup';
    this.#enter(warmup === null || isEmpty(warmup) ? 'measure' : 'warmup');
  }

  next(): Phase | null {
    for (;;) {
      if (this.#phase === 'done') return null;
      const amount = this.#phase === 'warmup' ? (this.#warmup as Amount) : this.#measure;
      const more = 'messages' in amount ? this.#issued < amount.messages : this.#now() < this.#deadline;
      if (more) {
        this.#issued++;
        return this.#phase;
      }
      this.#enter(this.#phase === 'warmup' ? 'measure' : 'done');
    }
  }

  stop(): void {
    this.#phase = 'done';
  }

  #enter(phase: Phase | 'done'): void {
    this.#phase = phase;
    this.#issued = 0;
    if (phase === 'done') return;
    const now = this.#now();
    if (phase === 'measure') {
      this.measureStartedAt = now;
      if (isEmpty(this.#measure)) this.#phase = 'done';
    }
    const amount = phase === 'warmup' ? (this.#warmup as Amount) : this.#measure;
    if ('durationMs' in amount) this.#deadline = now + amount.durationMs;
  }
}

const isEmpty = (a: Amount): boolean => ('messages' in a ? a.messages <= 0 : a.durationMs <= 0);

/** A Recorder that keeps nothing and puts every round trip into the current tally. */
class TallyRecorder extends Recorder {
  target: BenchTally;

  constructor(target: BenchTally) {
    super(undefined, { keep: false });
    this.target = target;
  }

  override time(phase: string, ms: number): Timing {
    this.target.command(phase, ms);
    return { phase, ms };
  }
}

/** The reply code of a refusal, else the error's code (ERR_CLOSED, ERR_TIMEOUT, …). */
export function errorKey(e: unknown): string {
  if (e instanceof SmtpReplyError) return String(e.reply.code);
  if (e instanceof MailwireError) return e.code;
  return e instanceof Error ? e.name : 'unknown';
}

export async function runLoad(opts: LoadOptions, measured = new BenchTally()): Promise<LoadResult> {
  const warm = new BenchTally();
  const tallies: Record<Phase, BenchTally> = { warmup: warm, measure: measured };
  const budget = new Budget(opts.amount, opts.warmup ?? null, () => performance.now());
  const onAbort = (): void => budget.stop();
  opts.signal?.addEventListener('abort', onAbort);
  const mail = { from: opts.from, to: opts.to, raw: opts.message };
  const bytes = opts.message.raw.length;
  const simplified = opts.client.mode === 'simplified';
  let lastEnd = 0;

  const worker = async (): Promise<void> => {
    const rec = new TallyRecorder(warm);
    let client: SmtpClient | null = null;
    for (let phase = budget.next(); phase !== null; phase = budget.next()) {
      const tally = tallies[phase];
      rec.target = tally;
      let started = performance.now();
      try {
        if (client === null || !client.usable) {
          client = await SmtpClient.open(opts.client, rec);
          tally.connectionOpened(); // once greeted: a refused connection (ECONNREFUSED, a 421 greeting) opened nothing
          // A kept connection's set-up is not the message's latency (its commands are still timed as connect, EHLO…).
          if (opts.newConnectionPerMessage !== true) started = performance.now();
        }
        await client.send(mail);
        if (opts.newConnectionPerMessage === true) {
          await client.quit();
          client = null;
        }
        tally.accept(performance.now() - started, bytes);
      } catch (e) {
        tally.fail(errorKey(e));
        if (client !== null) {
          // The standard mode resets with RSET and goes on; the simplified dialect has no RSET: start over.
          if (simplified || opts.newConnectionPerMessage === true || !client.usable || !(e instanceof SmtpReplyError)) {
            await client.endAfter(e);
            client = null;
          }
        }
      }
      if (phase === 'measure') lastEnd = performance.now();
    }
    if (client !== null) await client.quit();
  };

  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.connections) }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const start = budget.measureStartedAt ?? lastEnd;
  return {
    report: measured.report(Math.max(0, lastEnd - start)),
    warmup: opts.warmup == null ? null : warm.report(0),
  };
}
