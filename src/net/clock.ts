/**
 * The time a connection's deadlines are measured by: a monotonic clock in milliseconds and a one-shot timer. The
 * system clock is performance.now() and setTimeout; a test passes a clock it advances by hand (test/helpers/manual-clock.ts),
 * so that a 5-minute idle timeout is checked to the millisecond without waiting for it.
 */
import { performance } from 'node:perf_hooks';

export type Clock = Readonly<{
  /** Milliseconds from an arbitrary origin; never goes back. */
  now(): number;
  /** Calls `fire` once, `ms` from now; returns what cancels it. `keepsAlive: false`: it alone keeps no process running. */
  setTimer(fire: () => void, ms: number, keepsAlive: boolean): () => void;
}>;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fire, ms, keepsAlive) {
    const timer = setTimeout(fire, ms);
    if (!keepsAlive) timer.unref();
    return () => clearTimeout(timer);
  },
};
