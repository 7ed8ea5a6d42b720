/**
 * The rule engine: given one event (a stage of one SMTP session, with what is known by then) and the time, it says
 * which rules fire and what the server does. Pure and deterministic: time is an argument, randomness comes from the
 * document's seed, and the same events in the same order give the same answers.
 *
 * Theory of operation: rules are tried in document order. A rule whose `on` and match fields hold counts the event
 * as `matched` and advances its own counters; if its `when` holds too it fires (`fired`). A rule that only delays lets
 * the search go on (delays add up); the first rule that replies or disconnects ends it, so later rules do not see
 * that event. Counters are per rule and start when the document is loaded.
 */
import { assertNever } from '../assert-never.js';
import type { Reply } from '../smtp/core/reply.js';
import { GREYLIST_REPLY, type FaultDocument, type FaultMatch, type FaultRule, type FaultStage } from './document.js';

/** One thing that happened in a session, with what is known by then. */
export type FaultEvent = Readonly<{
  on: FaultStage;
  client: string;
  helo?: string;
  from?: string;
  /** The recipient (rcpt) or every recipient of the transaction (data, data-end). */
  to?: readonly string[];
  user?: string;
}>;

export type FaultOutcome =
  | Readonly<{ type: 'pass' }>
  | Readonly<{ type: 'reply'; reply: Reply }>
  | Readonly<{ type: 'disconnect' }>;

/** What the server does with the event: plain data, so that it can cross the cluster's IPC. */
export type FaultVerdict = Readonly<{
  /** Rules that fired, numbered from 1 in document order. */
  fired: readonly number[];
  /** Wait this long before the reply (injected or normal); the server cuts it to the session's idle timeout. */
  delayMs: number;
  outcome: FaultOutcome;
}>;

export const NO_FAULT: FaultVerdict = Object.freeze({ fired: Object.freeze([]), delayMs: 0, outcome: Object.freeze({ type: 'pass' }) });

export type RuleCounts = Readonly<{ matched: number; fired: number }>;

/** Keys a rate or greylist rule remembers at most; past this the stalest are forgotten. */
const MAX_KEYS = 100_000;

type RuleState = {
  matched: number;
  fired: number;
  random: (() => number) | null;
  /** rate: per key, the times of the last max+1 events (oldest first). greylist: per triplet, first try and tries. */
  windows: Map<string, number[]> | null;
  triplets: Map<string, { firstAt: number; tries: number }> | null;
};

export class FaultEngine {
  readonly document: FaultDocument;
  readonly #states: RuleState[];

  constructor(document: FaultDocument) {
    this.document = document;
    this.#states = document.rules.map((rule, i) => ({
      matched: 0,
      fired: 0,
      random: rule.when.kind === 'probability' ? mulberry32(mix(document.seed, i)) : null,
      windows: rule.when.kind === 'rate' ? new Map() : null,
      triplets: rule.when.kind === 'greylist' ? new Map() : null,
    }));
  }

  /** `now` in milliseconds (any monotonic or wall clock; only differences matter). */
  decide(event: FaultEvent, now: number): FaultVerdict {
    const fired: number[] = [];
    let delayMs = 0;
    const rules = this.document.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as FaultRule;
      const state = this.#states[i] as RuleState;
      if (rule.on !== event.on || !matches(rule.match, event)) continue;
      state.matched++;
      if (!fires(rule, state, event, now)) continue;
      state.fired++;
      fired.push(i + 1);
      delayMs += rule.delayMs ?? 0;
      if (rule.disconnect) return { fired, delayMs, outcome: { type: 'disconnect' } };
      const reply = rule.reply ?? (rule.when.kind === 'greylist' ? GREYLIST_REPLY : undefined);
      if (reply !== undefined) return { fired, delayMs, outcome: { type: 'reply', reply } };
    }
    return fired.length === 0 ? NO_FAULT : { fired, delayMs, outcome: { type: 'pass' } };
  }

  /** matched and fired per rule, in document order. */
  counts(): RuleCounts[] {
    return this.#states.map((s) => ({ matched: s.matched, fired: s.fired }));
  }
}

export function matches(m: FaultMatch, e: FaultEvent): boolean {
  if (m.from && (e.from === undefined || !m.from.re.test(e.from))) return false;
  if (m.to && (e.to === undefined || !e.to.some((to) => m.to?.re.test(to) === true))) return false;
  if (m.helo && (e.helo === undefined || !m.helo.re.test(e.helo))) return false;
  if (m.user !== undefined && e.user !== m.user) return false;
  if (m.client && !m.client.includes(e.client)) return false;
  return true;
}

function fires(rule: FaultRule, state: RuleState, e: FaultEvent, now: number): boolean {
  const w = rule.when;
  switch (w.kind) {
    case 'always':
      return true;
    case 'every':
      return state.matched % w.n === 0;
    case 'first':
      return state.matched <= w.n;
    case 'after':
      return state.matched > w.n;
    case 'probability':
      return (state.random as () => number)() < w.p;
    case 'rate': {
      // Sliding window: fire when, counting this event, more than `max` fell within the last `per`. Only the newest
      // max+1 times are needed to know that.
      const windows = state.windows as Map<string, number[]>;
      const key = w.key === 'all' ? '' : w.key === 'client' ? e.client : w.key === 'from' ? (e.from ?? '') : (e.to ?? []).join(',');
      let times = windows.get(key);
      if (times === undefined) {
        if (windows.size >= MAX_KEYS) forget(windows, (t) => (t[t.length - 1] ?? 0) <= now - w.perMs);
        windows.set(key, (times = []));
      }
      while (times.length > 0 && (times[0] as number) <= now - w.perMs) times.shift();
      times.push(now);
      if (times.length > w.max + 1) times.shift();
      return times.length > w.max;
    }
    case 'greylist': {
      // The first `attempts` tries of a triplet within `for` of its first try are refused; then it passes until
      // `for` has gone by, and a try after that starts over.
      const triplets = state.triplets as Map<string, { firstAt: number; tries: number }>;
      const key = JSON.stringify([e.client, (e.from ?? '').toLowerCase(), (e.to ?? []).map((t) => t.toLowerCase())]);
      let t = triplets.get(key);
      if (t === undefined || now - t.firstAt >= w.forMs) {
        if (t === undefined && triplets.size >= MAX_KEYS) forget(triplets, (x) => now - x.firstAt >= w.forMs);
        triplets.delete(key);
        triplets.set(key, (t = { firstAt: now, tries: 0 }));
      }
      t.tries++;
      return t.tries <= w.attempts;
    }
    default:
      return assertNever(w);
  }
}

/** Drops the stale entries, or (all fresh) the oldest-inserted half, so that a map never outgrows MAX_KEYS. */
function forget<V>(map: Map<string, V>, stale: (v: V) => boolean): void {
  for (const [k, v] of map) if (stale(v)) map.delete(k);
  if (map.size < MAX_KEYS) return;
  let n = map.size / 2;
  for (const k of map.keys()) {
    if (n-- <= 0) break;
    map.delete(k);
  }
}

/** One 32-bit seed per rule, from the document's seed and the rule's place, so that rules draw independently. */
function mix(seed: number, index: number): number {
  let h = (Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32) ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32: a small, well-mixed 32-bit generator; uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
