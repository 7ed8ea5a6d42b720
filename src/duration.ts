/** Durations as people write them, shared by the CLI's flags and the fault rules: "30" (seconds), "500ms", "5m", "2h", "7d". */
const TIME_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, '': 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or null when the text is not a duration. */
export function parseDurationText(value: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)$/i.exec(value.trim());
  const unit = m ? TIME_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : null;
}
