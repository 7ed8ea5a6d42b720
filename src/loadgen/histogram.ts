/**
 * Latency histogram in bounded memory (pure): whole microseconds, exact below 128 µs, then 128 buckets per power of
 * two (under 0.8 % error), as HdrHistogram does it. A long run at 30,000 messages/s keeps a few kilobytes per phase
 * instead of millions of samples.
 */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128
const MAX_US = 2 ** 31 - 1; // about 36 minutes: longer waits are clamped (client timeouts are far shorter)
const BUCKETS = SUB + (31 - SUB_BITS) * SUB;

function bucketOf(us: number): number {
  if (us < SUB) return us;
  const e = 31 - Math.clz32(us); // SUB_BITS … 30
  return SUB + (e - SUB_BITS) * SUB + ((us >>> (e - SUB_BITS)) - SUB);
}

/** The smallest value (µs) that falls in bucket b. */
function bucketLow(b: number): number {
  if (b < SUB) return b;
  const e = Math.floor((b - SUB) / SUB) + SUB_BITS;
  const sub = ((b - SUB) % SUB) + SUB;
  return sub * 2 ** (e - SUB_BITS);
}

/** One bar of a histogram: values from `fromMs` (inclusive) to `toMs` (exclusive; the last bar includes it). */
export type LatencyBin = Readonly<{ fromMs: number; toMs: number; count: number }>;

export type LatencySummary = Readonly<{ count: number; min: number; mean: number; p50: number; p90: number; p99: number; max: number }>;

export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #sumUs = 0;
  #minUs = Number.POSITIVE_INFINITY;
  #maxUs = 0;

  /** Records one value in milliseconds. */
  record(ms: number): void {
    const us = Math.min(MAX_US, Math.max(0, Math.round(ms * 1000)));
    this.#counts[bucketOf(us)]! += 1;
    this.#count++;
    this.#sumUs += us;
    if (us < this.#minUs) this.#minUs = us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  get count(): number {
    return this.#count;
  }

  /**
   * Nearest-rank percentile in milliseconds (as src/smtp/client/stats.ts percentile()): the lowest value of the bucket
   * that holds the rank (so a value recorded exactly is reported exactly), within the smallest and the largest value
   * recorded; the last rank is the largest. NaN when empty.
   */
  percentile(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.min(this.#count, Math.max(1, Math.ceil((p / 100) * this.#count)));
    if (rank === this.#count) return this.#maxUs / 1000;
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b] ?? 0;
      if (seen >= rank) return Math.min(Math.max(bucketLow(b), this.#minUs), this.#maxUs) / 1000;
    }
    return this.#maxUs / 1000;
  }

  /**
   * The values recorded, in `n` bars of equal width on a log scale from the smallest to the largest value (latencies
   * spread over orders of magnitude; a linear scale puts them all in its first bar). Each bucket counts in the bar that
   * holds its lowest value, clamped to the smallest recorded, so the counts add up to `count`. Empty: no bars; every
   * value the same: one bar.
   */
  bins(n = 12): LatencyBin[] {
    if (this.#count === 0) return [];
    const lo = this.#minUs;
    const hi = this.#maxUs;
    if (hi === lo || n <= 1) return [{ fromMs: lo / 1000, toMs: hi / 1000, count: this.#count }];
    // Log scale over [max(lo, 1 µs), hi]; a zero lands in the first bar.
    const a = Math.log(Math.max(lo, 1));
    const step = (Math.log(hi) - a) / n;
    const edge = (i: number): number => (i === 0 ? lo : i === n ? hi : Math.exp(a + step * i));
    const counts = new Array<number>(n).fill(0);
    for (let b = 0; b < BUCKETS; b++) {
      const c = this.#counts[b] ?? 0;
      if (c === 0) continue;
      const v = Math.max(bucketLow(b), lo, 1);
      const i = Math.min(n - 1, Math.max(0, Math.floor((Math.log(v) - a) / step)));
      counts[i]! += c;
    }
    return counts.map((count, i) => ({ fromMs: edge(i) / 1000, toMs: edge(i + 1) / 1000, count }));
  }

  summary(): LatencySummary {
    const empty = this.#count === 0;
    return {
      count: this.#count,
      min: empty ? Number.NaN : this.#minUs / 1000,
      mean: empty ? Number.NaN : this.#sumUs / this.#count / 1000,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: empty ? Number.NaN : this.#maxUs / 1000,
    };
  }
}
