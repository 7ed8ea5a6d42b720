/**
 * What a session's client said of its mail, for the session list (issue 32 item 5): the HELO/EHLO name, the first MAIL
 * FROM and the RCPT TO addresses, read from the client lines of its transcript. Every store derives them once, when the
 * session is saved, and keeps them beside it, so a listing reads no transcript. Read as said, accepted or not: a
 * refused recipient is what a user looks for in a failed session.
 */
import type { TranscriptLine } from './types.js';

export type SessionSaid = Readonly<{
  /** The name given in the first HELO, EHLO or LHLO; null when the client gave none. */
  helo: string | null;
  /** The reverse-path of the first MAIL FROM ('' for the null sender <>); null when the client sent none. */
  mailFrom: string | null;
  /** The forward-paths of the RCPT TO commands in the order sent, each once (ASCII case-insensitively), at most MAX_RCPT. */
  rcptTo: readonly string[];
}>;

export const NO_SAID: SessionSaid = { helo: null, mailFrom: null, rcptTo: [] };

/** Enough to show and to find a session by; a session naming more keeps the first ones. */
export const MAX_RCPT = 100;
/** A name or path longer than this is cut: the list shows it, nothing parses it. */
const MAX_FIELD = 320;

const HELLO = /^\s*(?:HELO|EHLO|LHLO)\s+(\S+)/i;
const MAIL = /^\s*MAIL\s+FROM\s*:\s*(.*)$/i;
const RCPT = /^\s*RCPT\s+TO\s*:\s*(.*)$/i;

/** The path at the start of what follows "FROM:" or "TO:": between angle brackets, or the first word without them. */
function pathOf(rest: string): string {
  if (rest.startsWith('<')) {
    const close = rest.indexOf('>');
    return (close === -1 ? rest.slice(1) : rest.slice(1, close)).slice(0, MAX_FIELD);
  }
  const space = rest.search(/\s/);
  return (space === -1 ? rest : rest.slice(0, space)).slice(0, MAX_FIELD);
}

/** One pass over the transcript's client lines; each line is bounded by the server's line limit. */
export function sessionSaid(transcript: readonly TranscriptLine[]): SessionSaid {
  let helo: string | null = null;
  let mailFrom: string | null = null;
  const rcptTo: string[] = [];
  const seen = new Set<string>();
  for (const line of transcript) {
    if (line.dir !== 'client') continue;
    const text = line.text;
    if (helo === null) {
      const m = HELLO.exec(text);
      if (m?.[1] !== undefined) {
        helo = m[1].slice(0, MAX_FIELD);
        continue;
      }
    }
    if (mailFrom === null) {
      const m = MAIL.exec(text);
      if (m?.[1] !== undefined) {
        mailFrom = pathOf(m[1].trim());
        continue;
      }
    }
    if (rcptTo.length < MAX_RCPT) {
      const m = RCPT.exec(text);
      if (m?.[1] !== undefined) {
        const path = pathOf(m[1].trim());
        const key = path.replace(/[A-Z]/g, (c) => c.toLowerCase());
        if (path !== '' && !seen.has(key)) {
          seen.add(key);
          rcptTo.push(path);
        }
      }
    }
  }
  return { helo, mailFrom, rcptTo };
}

/** The stored column's text back to fields; a row from before the column (null) or unreadable gives NO_SAID. */
export function parseSaid(json: string | null | undefined): SessionSaid {
  if (json === null || json === undefined) return NO_SAID;
  try {
    const v = JSON.parse(json) as Partial<SessionSaid>;
    return {
      helo: typeof v.helo === 'string' ? v.helo : null,
      mailFrom: typeof v.mailFrom === 'string' ? v.mailFrom : null,
      rcptTo: Array.isArray(v.rcptTo) ? v.rcptTo.filter((a): a is string => typeof a === 'string') : [],
    };
  } catch {
    return NO_SAID;
  }
}
