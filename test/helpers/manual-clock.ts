/**
 * A clock the test moves by hand (src/net/clock.ts): time stands still until advance(), which fires each timer that
 * falls due, in order, with now() at its due time. A deadline is then checked to the millisecond, with no wall time.
 */
import type { Clock } from '../../src/net/clock.js';

export class ManualClock implements Clock {
  #now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fire: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimer(fire: () => void, ms: number): () => void {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fire });
    return () => void this.#timers.delete(id);
  }

  /** Moves time on by `ms`; timers set by the ones that fire fire too, if they fall due within it. */
  advance(ms: number): void {
    const to = this.#now + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      let due: [number, { at: number; fire: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= to && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fire();
    }
    this.#now = to;
  }
}
