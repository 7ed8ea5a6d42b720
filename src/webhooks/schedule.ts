/**
 * When a failed delivery is tried again. The Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
 * after the attempt before, each delay stretched by up to 20 % at random (so a receiver back from an outage is not hit
 * by every delivery in the same second); a receiver's Retry-After (seconds or an HTTP date) replaces the delay. A
 * delivery that would be tried more than 24 h after its event is marked failed instead (with the schedule alone: after
 * the 7th attempt, about 17.6 h in). Pure: the time and the random number are parameters.
 */
export const RETRY_DELAYS_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const GIVE_UP_AFTER_MS = 24 * 3_600_000;
export const JITTER = 0.2;

/** What an attempt's outcome means for the delivery. */
export type Verdict = 'delivered' | 'retry' | 'failed';

/** 2xx delivered; 429, 5xx and no answer (network error, timeout) tried again; any other status (4xx, 3xx) failed. */
export function verdictOf(status: number | null): Verdict {
  if (status === null) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status >= 500) return 'retry';
  return 'failed';
}

/** Milliseconds a Retry-After header asks for, or null when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | null {
  if (header === undefined) return null;
  const v = header.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** When to try again after `attemptsMade` failed attempts, or null when the delivery is to be marked failed. */
export function nextAttemptAt(attemptsMade: number, createdAt: number, now: number, retryAfter: number | null, random: number): number | null {
  const base = RETRY_DELAYS_MS[attemptsMade - 1];
  if (base === undefined) return null;
  const delay = retryAfter ?? Math.round(base * (1 + JITTER * random));
  const at = now + delay;
  return at - createdAt > GIVE_UP_AFTER_MS ? null : at;
}
