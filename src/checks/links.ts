/**
 * The link check: every link and image URL of a message, each requested through the outbound guard (HEAD, then GET
 * when the server refuses HEAD), following at most 5 redirects, each hop checked again. Politeness as Mailpit's: at
 * most 2 requests at a time to one host, each at most 10 s, and one a second per host once 100 have gone to it.
 * Results are cached for 60 s per URL, so a check run twice does not hammer a site.
 */
import { performance } from 'node:perf_hooks';
import { guardedFetch, type GuardedResponse } from '../net/guarded-fetch.js';
import type { OutboundGuard } from '../net/outbound-guard.js';

export type LinkKind = 'link' | 'image';
export type LinkResult = Readonly<{
  url: string;
  kind: LinkKind;
  /** The last answer's status; null when there was none (refused, timed out, network error). */
  status: number | null;
  ok: boolean;
  finalUrl: string;
  redirects: number;
  ms: number;
  /** Why it failed (the guard's rule, the network error, the status), or null. */
  error: string | null;
}>;
export type LinkReport = Readonly<{ links: readonly LinkResult[]; errors: number }>;

export type LinkCheckOptions = Readonly<{
  guard: OutboundGuard;
  perHost?: number;
  timeoutMs?: number;
  burst?: number;
  /** Requests a second per host after the burst. */
  ratePerSecond?: number;
  cacheMs?: number;
  /** Injected for tests; performance.now() by default. */
  now?: () => number;
}>;

/** Waits its turn: `limit` at a time; after `burst` starts, one start per 1/rate seconds. */
class HostGate {
  #running = 0;
  #started = 0;
  #nextStart = 0;
  readonly #waiting: Array<() => void> = [];
  constructor(readonly limit: number, readonly burst: number, readonly intervalMs: number, readonly now: () => number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve)); // handed a slot
    else this.#running++;
    this.#started++;
    if (this.#started > this.burst) {
      const at = Math.max(this.now(), this.#nextStart);
      this.#nextStart = at + this.intervalMs;
      const wait = at - this.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#running--;
      else next(); // the slot goes to the next in line, not to whoever calls run() first
    }
  }
}

const HEAD_REFUSED = new Set([400, 403, 405, 501]);

export class LinkChecker {
  readonly #o: Required<Omit<LinkCheckOptions, 'guard'>> & { guard: OutboundGuard };
  readonly #gates = new Map<string, HostGate>();
  readonly #cache = new Map<string, { at: number; result: Promise<LinkResult> }>();

  constructor(options: LinkCheckOptions) {
    this.#o = {
      guard: options.guard, perHost: options.perHost ?? 2, timeoutMs: options.timeoutMs ?? 10_000, burst: options.burst ?? 100,
      ratePerSecond: options.ratePerSecond ?? 1, cacheMs: options.cacheMs ?? 60_000, now: options.now ?? (() => performance.now()),
    };
  }

  async check(urls: ReadonlyArray<Readonly<{ url: string; kind: LinkKind }>>): Promise<LinkReport> {
    const links = await Promise.all(urls.map(({ url, kind }) => this.#one(url).then((r) => ({ ...r, kind }))));
    return { links, errors: links.filter((l) => !l.ok).length };
  }

  #one(url: string): Promise<LinkResult> {
    const now = this.#o.now();
    for (const [key, entry] of this.#cache) { // oldest first: stop at the first still fresh
      if (now - entry.at <= this.#o.cacheMs) break;
      this.#cache.delete(key);
    }
    const hit = this.#cache.get(url);
    if (hit !== undefined) return hit.result;
    const result = this.#fetch(url);
    this.#cache.set(url, { at: now, result });
    return result;
  }

  async #fetch(url: string): Promise<LinkResult> {
    let host: string;
    try {
      host = new URL(url).host.toLowerCase();
    } catch {
      return fail(url, 'not a valid URL', 0);
    }
    let gate = this.#gates.get(host);
    if (gate === undefined) {
      gate = new HostGate(this.#o.perHost, this.#o.burst, 1000 / this.#o.ratePerSecond, this.#o.now);
      this.#gates.set(host, gate);
    }
    const request = (method: 'HEAD' | 'GET'): Promise<GuardedResponse> =>
      (gate as HostGate).run(() => guardedFetch(this.#o.guard, url, { method, timeoutMs: this.#o.timeoutMs, maxBodyBytes: 64 * 1024 }));
    let answer = await request('HEAD');
    if (answer.ok && HEAD_REFUSED.has(answer.status)) answer = await request('GET');
    if (!answer.ok) return fail(url, answer.reason, answer.ms, answer.hops.length - 1, answer.url);
    const ok = answer.status >= 200 && answer.status < 400;
    return {
      url, kind: 'link', status: answer.status, ok, finalUrl: answer.url, redirects: answer.hops.length - 1, ms: Math.round(answer.ms),
      error: ok ? null : `answered ${answer.status}`,
    };
  }
}

function fail(url: string, error: string, ms: number, redirects = 0, finalUrl = url): LinkResult {
  return { url, kind: 'link', status: null, ok: false, finalUrl, redirects: Math.max(0, redirects), ms: Math.round(ms), error };
}
