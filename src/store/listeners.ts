/**
 * The onIndexed listeners of a store. A listener that throws is reported (logError) and the others still hear the
 * message: a listener's bug never fails a save nor silences the listeners after it.
 */
import { logError } from '../log.js';

export class ListenerSet<T> {
  readonly #listeners = new Set<(value: T) => void>();
  readonly #who: string;

  /** `who` names the store in the report, e.g. 'sqlite store'. */
  constructor(who: string) {
    this.#who = who;
  }

  get size(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; the returned function removes it. */
  add(listener: (value: T) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Calls every listener with `value`, each in its own try/catch. */
  emit(value: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(value);
      } catch (e) {
        logError(`mailwire ${this.#who}: an onIndexed listener threw:`, e);
      }
    }
  }
}
