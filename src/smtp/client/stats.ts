/** Per-phase statistics over many sessions (pure): nearest-rank percentiles, as load tools report them. */
import type { Timing } from './client.js';

export type Summary = Readonly<{ count: number; min: number; median: number; p90: number; p99: number; max: number }>;

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    median: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** One summary per phase, phases in the order they first appear, then 'total' from `totals`. */
export function summarizePhases(runs: readonly (readonly Timing[])[], totals: readonly number[]): (Summary & { phase: string })[] {
  const byPhase = new Map<string, number[]>();
  for (const run of runs) {
    for (const t of run) {
      const values = byPhase.get(t.phase);
      if (values) values.push(t.ms);
      else byPhase.set(t.phase, [t.ms]);
    }
  }
  const out = [...byPhase].map(([phase, values]) => ({ phase, ...summarize(values) }));
  return [...out, { phase: 'total', ...summarize(totals) }];
}
