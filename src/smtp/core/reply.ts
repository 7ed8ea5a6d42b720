/**
 * SMTP replies as values. A reply is a code and one or more text lines; formatReply() is the one place that turns it
 * into wire bytes (RFC 5321 §4.2: "250-first\r\n250 last\r\n" for multi-line replies).
 */
export type Reply = Readonly<{ code: number; lines: readonly [string, ...string[]] }>;

export const reply = (code: number, ...lines: [string, ...string[]]): Reply => ({ code, lines });

/** C0 control bytes and DEL: none may reach the wire inside a reply line (a CR or LF would forge a reply). */
const CONTROL = /[\x00-\x1f\x7f]/g;
const CONTROL_TEST = /[\x00-\x1f\x7f]/;

/** Control bytes written as `\x1f`, so text quoted from a client can neither end a reply line nor drive a terminal. */
export const escapeControls = (text: string): string =>
  CONTROL_TEST.test(text) ? text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : text;

export function formatReply(r: Reply): string {
  const last = r.lines.length - 1;
  let out = '';
  // RFC 5321 §4.2: textstring is printable text; a dialect that quotes client input escapes it itself, this is the
  // backstop so that a future echo cannot slip a control byte (or a forged "250") onto the wire.
  for (let i = 0; i <= last; i++) out += `${r.code}${i === last ? ' ' : '-'}${escapeControls(r.lines[i] ?? '')}\r\n`;
  return out;
}

/** The reply as one display line, for logs: "250 2.1.0 Sender OK" (multi-line replies joined with " / "). */
export const describeReply = (r: Reply): string => `${r.code} ${r.lines.map(escapeControls).join(' / ')}`;
