/**
 * Sequence sets (RFC 3501 §9 `sequence-set`, RFC 9051 §9): `1`, `2:4`, `7:*`, `*`, comma-separated. Numbers are
 * nz-number, 1 to 4294967295; `0`, `1:*:*`, `4294967296` and empty members are refused with the reason.
 */
export const MAX_NUMBER = 4_294_967_295;

/** One range; `null` stands for `*` (the largest number in use), resolved by the caller. */
export type Range = Readonly<{ from: number | null; to: number | null }>;

export type SequenceSet = readonly Range[];

/** The most ranges one set may list (a bound on the work of matching it). */
const MAX_RANGES = 10_000;

export function parseSequenceSet(text: string): { ok: true; set: SequenceSet } | { ok: false; reason: string } {
  const parts = text.split(',');
  if (parts.length > MAX_RANGES) return { ok: false, reason: `sequence set with more than ${MAX_RANGES} members` };
  const out: Range[] = [];
  const number = (s: string): number | null | string => {
    if (s === '*') return null;
    if (!/^[1-9][0-9]{0,9}$/.test(s)) return s === '0' || /^0+$/.test(s) ? 'sequence numbers start at 1, not 0' : `${JSON.stringify(s.slice(0, 20))} is not a number`;
    const n = Number(s);
    return n > MAX_NUMBER ? `${s} is larger than 4294967295` : n;
  };
  for (const part of parts) {
    const bounds = part.split(':');
    if (bounds.length > 2) return { ok: false, reason: `${JSON.stringify(part.slice(0, 30))}: a range has one colon (a:b)` };
    const [a = '', b] = bounds;
    const from = number(a);
    if (typeof from === 'string') return { ok: false, reason: `bad sequence set: ${from}` };
    const to = b === undefined ? from : number(b);
    if (typeof to === 'string') return { ok: false, reason: `bad sequence set: ${to}` };
    out.push({ from, to });
  }
  return { ok: true, set: out };
}

/** Does `n` belong to `set`, with `*` standing for `max` (RFC 3501: a:b is the same as b:a)? */
export function inSet(set: SequenceSet, n: number, max: number): boolean {
  for (const r of set) {
    const a = r.from ?? max;
    const b = r.to ?? max;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}
