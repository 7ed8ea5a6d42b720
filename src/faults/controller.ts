/**
 * The fault document in force, for one server (or, with --workers, for the whole cluster: it lives in the primary).
 * It holds the engine, reads the clock for it, and swaps documents whole: a document that does not check is refused
 * and the one in force stays, so nothing is ever half-applied.
 */
import { performance } from 'node:perf_hooks';
import { parseFaultDocument, type DialectName, type ParseResult } from './document.js';
import { FaultEngine, NO_FAULT, type FaultEvent, type FaultVerdict } from './engine.js';

/** What a server shell asks, per event. `active` is false when no document is loaded: then nothing is asked at all. */
export type FaultPolicy = Readonly<{
  active(): boolean;
  decide(event: FaultEvent): FaultVerdict | Promise<FaultVerdict>;
}>;

/** The document as GET shows it: each rule as given, with its counters. */
export type FaultView = Readonly<{
  seed: number;
  rules: readonly Readonly<Record<string, unknown> & { matched: number; fired: number }>[];
}>;

export type FaultControllerOptions = Readonly<{
  dialect: DialectName;
  /** Called once per fault injected, with the rule's number (from 1); metrics count these. */
  onFired?: (rule: number) => void;
  /** Milliseconds; default performance.now() (monotonic, so a clock step never opens or closes a window). */
  now?: () => number;
}>;

export class FaultController implements FaultPolicy {
  readonly dialect: DialectName;
  #engine: FaultEngine | null = null;
  readonly #onFired: ((rule: number) => void) | undefined;
  readonly #now: () => number;
  readonly #listeners = new Set<(active: boolean) => void>();

  constructor(options: FaultControllerOptions) {
    this.dialect = options.dialect;
    this.#onFired = options.onFired;
    this.#now = options.now ?? (() => performance.now());
  }

  active(): boolean {
    return this.#engine !== null;
  }

  /** Checks `input` and, when it is good, puts it in force with fresh counters. A document without rules clears. */
  load(input: unknown): ParseResult {
    const parsed = parseFaultDocument(input, this.dialect);
    if (parsed.ok) this.#set(parsed.document.rules.length === 0 ? null : new FaultEngine(parsed.document));
    return parsed;
  }

  clear(): void {
    this.#set(null);
  }

  view(): FaultView {
    const engine = this.#engine;
    if (engine === null) return { seed: 0, rules: [] };
    const counts = engine.counts();
    return {
      seed: engine.document.seed,
      rules: engine.document.rules.map((r, i) => ({ ...r.source, matched: counts[i]?.matched ?? 0, fired: counts[i]?.fired ?? 0 })),
    };
  }

  decide(event: FaultEvent): FaultVerdict {
    const engine = this.#engine;
    if (engine === null) return NO_FAULT;
    const verdict = engine.decide(event, this.#now());
    if (this.#onFired) for (const n of verdict.fired) this.#onFired(n);
    return verdict;
  }

  /** Told whenever a document is put in force or cleared (the cluster tells its workers whether to ask). */
  onChange(listener: (active: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #set(engine: FaultEngine | null): void {
    this.#engine = engine;
    for (const l of this.#listeners) l(engine !== null);
  }
}
