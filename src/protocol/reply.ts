/**
 * SMTP replies as values. A reply is a code and one or more text lines; formatReply() is the one place that turns it
 * into wire bytes (RFC 5321 §4.2: "250-first\r\n250 last\r\n" for multi-line replies).
 */
export type Reply = Readonly<{ code: number; lines: readonly [string, ...string[]] }>;

export const reply = (code: number, ...lines: [string, ...string[]]): Reply => ({ code, lines });

export function formatReply(r: Reply): string {
  const last = r.lines.length - 1;
  let out = '';
  for (let i = 0; i <= last; i++) out += `${r.code}${i === last ? ' ' : '-'}${r.lines[i]}\r\n`;
  return out;
}

/** The reply as one display line, for logs: "250 2.1.0 Sender OK" (multi-line replies joined with " / "). */
export const describeReply = (r: Reply): string => `${r.code} ${r.lines.join(' / ')}`;
