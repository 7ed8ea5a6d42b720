/**
 * A session's per-command times as a small waterfall (issue 32 item 9): one row per timed reply, its bar from when the
 * command came (the reply's time minus its response time) to the reply, on the session's own time axis. Drawn as SVG
 * from the transcript alone; nothing is fetched.
 */
import type { JSX } from 'preact';
import type { TranscriptLine } from './api.js';
import { duration } from './format.js';

const ROW = 16;
const LABEL = 175;
const WIDTH = 600;

type Step = { label: string; startMs: number; ms: number; failed: boolean };

/** The timed replies, each with the command it answered (the client line before it). */
export function waterfallSteps(transcript: readonly TranscriptLine[]): Step[] {
  const start = transcript[0]?.at ?? 0;
  const steps: Step[] = [];
  let command = '(greeting)';
  for (const l of transcript) {
    if (l.dir === 'client') command = l.text.length > 24 ? `${l.text.slice(0, 23)}…` : l.text;
    if (l.dir !== 'server' || l.responseMs === undefined) continue;
    const code = Number(/^(\d{3})/.exec(l.text)?.[1] ?? 0);
    steps.push({ label: command, startMs: Math.max(0, l.at - start - l.responseMs), ms: l.responseMs, failed: code >= 400 });
    command = code === 354 ? '(message)' : '(no command)'; // after 354 the next reply answers the message
  }
  return steps;
}

export function Waterfall({ transcript }: { transcript: readonly TranscriptLine[] }): JSX.Element | null {
  const steps = waterfallSteps(transcript);
  if (steps.length === 0) return null;
  const end = Math.max(1, ...steps.map((s) => s.startMs + s.ms));
  const scale = (WIDTH - LABEL - 60) / end;
  const height = steps.length * ROW + 4;
  return (
    <figure class="waterfall" aria-label="Per-command response times">
      <svg width={WIDTH} height={height} viewBox={`0 0 ${WIDTH} ${height}`} role="img">
        {steps.map((s, i) => {
          const x = LABEL + s.startMs * scale;
          const w = Math.max(2, s.ms * scale);
          const y = i * ROW + 2;
          return (
            <g key={i}>
              <text class="wf-label" x={LABEL - 6} y={y + 11} text-anchor="end">{s.label}</text>
              <rect class={`bar${s.failed ? ' failed' : ''}`} x={x} y={y + 2} width={w} height={ROW - 5} rx={2}>
                <title>{`${s.label}: ${duration(s.ms)}, from +${Math.round(s.startMs)} ms`}</title>
              </rect>
              <text class="wf-ms" x={x + w + 4} y={y + 11}>{duration(s.ms)}</text>
            </g>
          );
        })}
      </svg>
      <figcaption class="muted">Each reply's response time, on the session's time line ({duration(end)} in all).</figcaption>
    </figure>
  );
}
