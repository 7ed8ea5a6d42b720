/** How `mailwire send` shows a session: the transcript with ->/<- markers and RTTs, the phase timings, the statistics. */
import type { TraceEvent, Timing } from '../smtp/client/client.js';
import type { Summary } from '../smtp/client/stats.js';

const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');

/** One event as display lines: "-> MAIL FROM:<a@x>", "<- 250 2.1.0 ok  (0.42 ms)", "=== connected to …". */
export function formatEvent(e: TraceEvent): string[] {
  switch (e.type) {
    case 'info':
      return [`=== ${e.text}`];
    case 'sent':
      return [`-> ${e.text}`];
    case 'received': {
      const last = e.reply.lines.length - 1;
      return e.reply.lines.map((text, i) => `<- ${e.reply.code}${i === last ? ' ' : '-'}${text}${i === last ? `  (${ms(e.rttMs)} ms)` : ''}`);
    }
    default:
      return e satisfies never;
  }
}

export function formatTimings(timings: readonly Timing[], totalMs: number): string[] {
  const rows: [string, string][] = [...timings.map((t): [string, string] => [t.phase, ms(t.ms)]), ['total', ms(totalMs)]];
  const width = Math.max(5, ...rows.map(([p]) => p.length));
  return ['Timings (ms, monotonic clock):', ...rows.map(([p, v]) => `  ${p.padEnd(width)}  ${v.padStart(9)}`)];
}

export function formatSummary(rows: readonly (Summary & { phase: string })[]): string[] {
  const width = Math.max(5, ...rows.map((r) => r.phase.length));
  const head = `  ${'phase'.padEnd(width)}  ${'n'.padStart(6)}  ${['min', 'median', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('  ')}`;
  const lines = rows.map((r) => `  ${r.phase.padEnd(width)}  ${String(r.count).padStart(6)}  ${[r.min, r.median, r.p90, r.p99, r.max].map((v) => ms(v).padStart(9)).join('  ')}`);
  return ['Per phase over all runs (ms):', head, ...lines];
}
