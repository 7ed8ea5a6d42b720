/**
 * Failed logins counted per client address, across connections and protocols (SMTP AUTH and HTTP Basic today; IMAP
 * and POP3 are to use the same one), so that guessing costs the guesser, not everyone.
 *
 * Theory of operation: each address has a count of failures. The first `freeFailures` cost nothing; from then on each
 * failure closes the address for a growing time (`firstDelayMs`, doubled at each further failure, at most
 * `maxDelayMs`). An attempt while closed is refused at once, without checking the password (so a refusal tells
 * nothing about it, and costs no bcrypt): SMTP answers 421 and closes, HTTP 429, both saying when to come back. A
 * count is forgotten `forgetAfterMs` after its last failure; a success does not reset it (else one known login would
 * let its holder go on guessing others). At most `maxInFlight` checks from one address run at once; more is a burst,
 * refused the same way. IPv6 clients are counted by /64, the block one subscriber usually holds.
 *
 * Loopback addresses are counted like any other: each of 127.0.0.0/8 is its own client, so guessers on 127.0.0.67
 * never slow an honest 127.0.0.1. The state is bounded: `maxClients` addresses, the least recently failed forgotten
 * first.
 */
import { isIpv4, parseIpv6, plainAddress } from './ip-address.js';
import { MailwireError } from '../errors.js';

export type LoginLimits = Readonly<{
  /** Failures from one address before any wait. */
  freeFailures: number;
  /** The wait after the first failure past the free ones; each further failure doubles it. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** A count is forgotten this long after the address's last failure. */
  forgetAfterMs: number;
  /** Checks from one address at once. */
  maxInFlight: number;
  /** Addresses remembered. */
  maxClients: number;
}>;

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  freeFailures: 5,
  firstDelayMs: 1_000,
  maxDelayMs: 60_000,
  forgetAfterMs: 15 * 60_000,
  maxInFlight: 2,
  maxClients: 10_000,
};

/** The outcome of one login attempt. `throttled`: refused unchecked (this address failed too often, or bursts); `busy`: no room to check. */
export type LoginVerdict =
  | Readonly<{ kind: 'ok' }>
  | Readonly<{ kind: 'wrong' }>
  | Readonly<{ kind: 'throttled'; retryAfterSeconds: number }>
  | Readonly<{ kind: 'busy'; retryAfterSeconds: number }>;

/** A check that could not run now (the password checking queue is full); not a failure of the client's. */
export class LoginBusyError extends MailwireError {
  override name = 'LoginBusyError' as const;
  constructor(message: string) {
    super('ERR_LOGIN_BUSY', message);
  }
}

type Entry = { failures: number; lastFailureAt: number; closedUntil: number; inFlight: number };

/** The key an address is counted under: IPv4 as is, IPv6 by its /64. */
export function clientKey(address: string): string {
  const plain = plainAddress(address);
  if (isIpv4(plain)) return plain;
  const v6 = parseIpv6(plain);
  if (v6 === null) return plain;
  return `${Buffer.from(v6.subarray(0, 8)).toString('hex')}::/64`;
}

export class LoginLimiter {
  readonly limits: LoginLimits;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(limits: Partial<LoginLimits> = {}, now: () => number = Date.now) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
    this.#now = now;
  }

  /**
   * Runs `check` for a login from `client`, unless that address must wait. A check that throws LoginBusyError is
   * `busy` (not counted); any other throw passes through (not counted either: a broken verifier is not a guess).
   */
  async attempt(client: string, check: () => boolean | Promise<boolean>): Promise<LoginVerdict> {
    const key = clientKey(client);
    const refusal = this.#refusal(key);
    if (refusal !== null) return refusal;
    const entry = this.#entry(key);
    entry.inFlight++;
    try {
      if (await check()) return { kind: 'ok' };
      this.#failed(key, entry);
      return { kind: 'wrong' };
    } catch (e) {
      if (e instanceof LoginBusyError) return { kind: 'busy', retryAfterSeconds: 1 };
      throw e;
    } finally {
      entry.inFlight--;
      if (entry.failures === 0 && entry.inFlight === 0) this.#entries.delete(key);
    }
  }

  /** Seconds until `client` may try again; 0 when it may now. */
  retryAfterSeconds(client: string): number {
    const r = this.#refusal(clientKey(client));
    return r === null ? 0 : r.retryAfterSeconds;
  }

  /** Addresses with a count (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #refusal(key: string): Extract<LoginVerdict, { kind: 'throttled' }> | null {
    const e = this.#entries.get(key);
    if (e === undefined) return null;
    const now = this.#now();
    if (e.failures > 0 && now - e.lastFailureAt >= this.limits.forgetAfterMs) {
      e.failures = 0;
      e.closedUntil = 0;
    }
    if (now < e.closedUntil) return { kind: 'throttled', retryAfterSeconds: Math.max(1, Math.ceil((e.closedUntil - now) / 1000)) };
    if (e.inFlight >= this.limits.maxInFlight) return { kind: 'throttled', retryAfterSeconds: 1 };
    return null;
  }

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { failures: 0, lastFailureAt: 0, closedUntil: 0, inFlight: 0 };
      this.#entries.set(key, e);
      if (this.#entries.size > this.limits.maxClients) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined && oldest !== key) this.#entries.delete(oldest);
      }
    }
    return e;
  }

  #failed(key: string, e: Entry): void {
    const now = this.#now();
    e.failures++;
    e.lastFailureAt = now;
    const past = e.failures - this.limits.freeFailures;
    if (past >= 0) e.closedUntil = now + Math.min(this.limits.maxDelayMs, this.limits.firstDelayMs * 2 ** Math.min(past, 30));
    // Most recently failed last: the oldest failure is the first forgotten when the map is full.
    this.#entries.delete(key);
    this.#entries.set(key, e);
  }
}
