/**
 * The parses of the last few messages read, by id. A message view asks for a message's detail and its HTML at once,
 * and each would otherwise parse the same stored bytes again (over a second for a 25 MB message). It holds the
 * promise, so reads at the same time share one parse; it is bounded by entries and by the size of the messages
 * behind them; a failed parse is dropped. The bytes under an id never change, so an entry never goes stale.
 */
export type ParseCacheLimits = Readonly<{ entries: number; bytes: number }>;

type Entry<T> = { value: Promise<T>; bytes: number };

export class ParseCache<T> {
  readonly #limits: ParseCacheLimits;
  /** In use order: the first is the least recently used. */
  readonly #entries = new Map<string, Entry<T>>();
  #bytes = 0;

  constructor(limits: ParseCacheLimits) {
    this.#limits = limits;
  }

  /** `bytes`: the size of the message (what its parse may hold); `parse` runs only when `id` is not here. */
  get(id: string, bytes: number, parse: () => Promise<T>): Promise<T> {
    const hit = this.#entries.get(id);
    if (hit !== undefined) {
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit.value;
    }
    const value = parse();
    if (bytes > this.#limits.bytes) return value;
    const entry: Entry<T> = { value, bytes };
    this.#entries.set(id, entry);
    this.#bytes += bytes;
    value.catch(() => {
      if (this.#entries.get(id) === entry) this.#drop(id, entry);
    });
    for (const [oldest, e] of this.#entries) {
      if (this.#entries.size <= this.#limits.entries && this.#bytes <= this.#limits.bytes) break;
      this.#drop(oldest, e);
    }
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }

  #drop(id: string, entry: Entry<T>): void {
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
  }
}
