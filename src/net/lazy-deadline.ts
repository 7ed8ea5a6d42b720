/**
 * A deadline that is pushed back far more often than it is reached (a session's idle timeout: every input moves it;
 * the DATA deadline: every message sets it). Moving it costs a field write; one timer runs, and when it fires before
 * the deadline (which moved meanwhile) it is set again for what is left. Node's own socket timeout instead re-inserts
 * its timer into the timer list on every read and every write.
 */
import { systemClock, type Clock } from './clock.js';

export class LazyDeadline {
  /** When the deadline is reached (performance.now() ms); Infinity: none. */
  #at = Infinity;
  /** Cancels the running timer, if any. */
  #cancel: (() => void) | undefined;
  /** When the running timer fires (clock ms, approximately). */
  #firesAt = Infinity;
  readonly #onReached: () => void;
  readonly #keepsAlive: boolean;
  readonly #clock: Clock;

  /** `keepsAlive: false`: the timer alone does not keep the process running (as Node's socket timeouts). */
  constructor(onReached: () => void, keepsAlive: boolean, clock: Clock = systemClock) {
    this.#onReached = onReached;
    this.#keepsAlive = keepsAlive;
    this.#clock = clock;
  }

  /** The deadline is `ms` after `now` (a clock.now() the caller already has). */
  set(now: number, ms: number): void {
    this.#at = now + ms;
    if (this.#at < this.#firesAt) this.#arm(ms); // earlier than the timer that runs (or none runs): set it for this
  }

  /** No deadline until the next set(); the timer that runs, if any, finds nothing to do. */
  clear(): void {
    this.#at = Infinity;
  }

  /** Stops the timer for good (the session is over). */
  dispose(): void {
    this.#at = Infinity;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#firesAt = Infinity;
  }

  #arm(ms: number): void {
    this.#cancel?.();
    this.#firesAt = this.#clock.now() + ms;
    this.#cancel = this.#clock.setTimer(() => {
      this.#cancel = undefined;
      this.#firesAt = Infinity;
      if (this.#at === Infinity) return;
      const left = this.#at - this.#clock.now();
      if (left > 0) this.#arm(left);
      else {
        this.#at = Infinity;
        this.#onReached();
      }
    }, ms, this.#keepsAlive);
  }
}
