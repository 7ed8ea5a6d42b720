/**
 * FETCH (RFC 3501 §6.4.5, §7.4.2), pure: the attributes asked for, parsed from tokens, and the untagged FETCH response
 * built from a message's facts and, when a section is asked for, its stored bytes. Sections are byte ranges of the
 * raw message (header = up to and including the blank line), so BODY[] is the stored bytes exactly.
 */
import type { Token } from './tokens.js';

export type MessageFacts = Readonly<{ seq: number; uid: number; size: number; flags: readonly string[]; internalDate: Date }>;

export type Section =
  | Readonly<{ kind: 'all' }>
  | Readonly<{ kind: 'header' }>
  | Readonly<{ kind: 'text' }>
  | Readonly<{ kind: 'header-fields'; names: readonly string[]; not: boolean }>;

export type FetchItem =
  | Readonly<{ kind: 'FLAGS' | 'UID' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' }>
  | Readonly<{ kind: 'body'; section: Section; peek: boolean; partial: Readonly<{ start: number; length: number }> | null; label: string }>;

const MACROS: Record<string, readonly string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
};

const BODY = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK)\[([^\]]*)\](?:<(\d{1,10})\.(\d{1,10})>)?$/i;

export function parseFetchItems(arg: Token | undefined): { ok: true; items: FetchItem[] } | { ok: false; reason: string } {
  if (arg === undefined) return { ok: false, reason: 'FETCH needs a sequence set and the attributes, e.g. FETCH 1:* (FLAGS UID)' };
  const words: string[] = [];
  if (arg.kind === 'list') {
    for (const t of arg.items) {
      if (t.kind !== 'atom') return { ok: false, reason: 'fetch attributes are atoms such as FLAGS or BODY.PEEK[]' };
      words.push(t.value);
    }
  } else if (arg.kind === 'atom') {
    const macro = MACROS[arg.value.toUpperCase()];
    words.push(...(macro ?? [arg.value]));
  } else return { ok: false, reason: 'fetch attributes are atoms such as FLAGS or BODY.PEEK[]' };
  const items: FetchItem[] = [];
  for (const w of words) {
    const up = w.toUpperCase();
    if (up === 'FLAGS' || up === 'UID' || up === 'INTERNALDATE' || up === 'RFC822.SIZE' || up === 'ENVELOPE') {
      items.push({ kind: up });
      continue;
    }
    if (up === 'RFC822' || up === 'RFC822.PEEK' || up === 'RFC822.HEADER' || up === 'RFC822.TEXT') {
      const section: Section = up === 'RFC822.HEADER' ? { kind: 'header' } : up === 'RFC822.TEXT' ? { kind: 'text' } : { kind: 'all' };
      items.push({ kind: 'body', section, peek: up !== 'RFC822' && up !== 'RFC822.TEXT', partial: null, label: up === 'RFC822.PEEK' ? 'RFC822' : up });
      continue;
    }
    const m = BODY.exec(w);
    if (m === null) return { ok: false, reason: `unknown fetch attribute ${JSON.stringify(w.slice(0, 40))} (BODYSTRUCTURE and part numbers are not served yet)` };
    const section = parseSection(m[2] ?? '');
    if (typeof section === 'string') return { ok: false, reason: section };
    const peek = (m[1] ?? '').toUpperCase().endsWith('.PEEK');
    const partial = m[3] === undefined ? null : { start: Number(m[3]), length: Number(m[4]) };
    const name = (m[1] ?? '').toUpperCase().startsWith('BINARY') ? 'BINARY' : 'BODY';
    items.push({ kind: 'body', section, peek, partial, label: `${name}[${(m[2] ?? '').toUpperCase()}]${partial ? `<${partial.start}>` : ''}` });
  }
  if (items.length === 0) return { ok: false, reason: 'FETCH needs at least one attribute' };
  return { ok: true, items };
}

function parseSection(text: string): Section | string {
  const up = text.toUpperCase();
  if (up === '') return { kind: 'all' };
  if (up === 'HEADER') return { kind: 'header' };
  if (up === 'TEXT') return { kind: 'text' };
  const m = /^HEADER\.FIELDS(\.NOT)? \(([^()]*)\)$/i.exec(text);
  if (m !== null) {
    const names = (m[2] ?? '').split(' ').filter((n) => n !== '').map((n) => n.replace(/^"|"$/g, '').toLowerCase());
    if (names.length === 0) return 'HEADER.FIELDS needs at least one field name';
    return { kind: 'header-fields', names, not: m[1] !== undefined };
  }
  return `section [${text.slice(0, 40)}] is not served (HEADER, TEXT, HEADER.FIELDS (…) and [] are; part numbers are not yet)`;
}

/** Where the header ends: just after the first empty line (CRLF CRLF or LF LF), or the whole message. */
export function headerEnd(raw: Buffer): number {
  if (raw[0] === 0x0a) return 1;
  if (raw[0] === 0x0d && raw[1] === 0x0a) return 2;
  for (let lf = raw.indexOf(0x0a); lf !== -1; lf = raw.indexOf(0x0a, lf + 1)) {
    if (raw[lf + 1] === 0x0a) return lf + 2;
    if (raw[lf + 1] === 0x0d && raw[lf + 2] === 0x0a) return lf + 3;
  }
  return raw.length;
}

/** The header's fields, each with its continuation lines, as raw text (latin1). */
export function headerFields(raw: Buffer): { name: string; text: string }[] {
  const header = raw.toString('latin1', 0, headerEnd(raw));
  const out: { name: string; text: string }[] = [];
  for (const line of header.split(/(?<=\n)/)) {
    if (line === '\r\n' || line === '\n') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      const last = out[out.length - 1];
      if (last) last.text += line;
    } else {
      const colon = line.indexOf(':');
      out.push({ name: colon === -1 ? '' : line.slice(0, colon).trim().toLowerCase(), text: line });
    }
  }
  return out;
}

function sectionBytes(raw: Buffer, s: Section): Buffer {
  switch (s.kind) {
    case 'all': return raw;
    case 'header': return raw.subarray(0, headerEnd(raw));
    case 'text': return raw.subarray(headerEnd(raw));
    case 'header-fields': {
      const want = new Set(s.names);
      const kept = headerFields(raw).filter((f) => f.name !== '' && want.has(f.name) !== s.not).map((f) => f.text).join('');
      return Buffer.from(`${kept}\r\n`, 'latin1');
    }
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
/** RFC 3501 date-time, in UTC: "07-Dec-2026 18:04:51 +0000". */
export const imapDateTime = (d: Date): string =>
  `"${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()] ?? 'Jan'}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000"`;

/** A string for the wire: quoted when it is short plain text, a literal otherwise. */
export function imapString(value: string | null): string {
  if (value === null) return 'NIL';
  if (value.length < 256 && !/[\x00-\x1f\x7f-\xff"\\]/.test(value)) return `"${value}"`;
  return `{${Buffer.byteLength(value, 'latin1')}}\r\n${value}`;
}

/** ENVELOPE (RFC 3501 §7.4.2) from the raw header: fields as they stand (encoded words left for the client). */
function envelope(raw: Buffer): string {
  const fields = headerFields(raw);
  const get = (name: string): string | null => {
    const f = fields.find((x) => x.name === name);
    return f === undefined ? null : f.text.slice(f.text.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' ').trim();
  };
  const addresses = (name: string, fallback?: string): string => {
    const text = get(name) ?? (fallback === undefined ? null : get(fallback));
    if (text === null || text === '') return 'NIL';
    const parts = splitAddresses(text).map((a) => {
      const angle = /^(.*)<([^>]*)>\s*$/.exec(a);
      const display = angle ? (angle[1] ?? '').trim().replace(/^"(.*)"$/, '$1') : '';
      const addr = (angle ? angle[2] ?? '' : a).trim();
      const at = addr.lastIndexOf('@');
      const mailbox = at === -1 ? addr : addr.slice(0, at);
      const host = at === -1 ? null : addr.slice(at + 1);
      return `(${imapString(display === '' ? null : display)} NIL ${imapString(mailbox)} ${imapString(host)})`;
    });
    return parts.length === 0 ? 'NIL' : `(${parts.join('')})`;
  };
  return `(${[imapString(get('date')), imapString(get('subject')), addresses('from'), addresses('sender', 'from'), addresses('reply-to', 'from'),
    addresses('to'), addresses('cc'), addresses('bcc'), imapString(get('in-reply-to')), imapString(get('message-id'))].join(' ')})`;
}

/** Addresses separated by commas outside quotes and angle brackets; groups are flattened. Linear. */
function splitAddresses(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle = true;
    else if (!quoted && c === '>') angle = false;
    if (!quoted && !angle && (c === ',' || c === ';' || c === ':')) {
      if (c === ':') cur = '';
      else if (cur.trim() !== '') out.push(cur.trim());
      if (c !== ':') cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Does any item need the message's bytes? */
export const needsRaw = (items: readonly FetchItem[]): boolean => items.some((i) => i.kind === 'body' || i.kind === 'ENVELOPE');
/** Does the fetch set \Seen (a non-PEEK body section)? */
export const setsSeen = (items: readonly FetchItem[]): boolean => items.some((i) => i.kind === 'body' && !i.peek);

/** `* n FETCH (…)` with its CRLF; literals as bytes. `withUid`: UID FETCH always returns the UID. */
export function renderFetch(m: MessageFacts, raw: Buffer | null, items: readonly FetchItem[], withUid: boolean): Buffer {
  const parts: (string | Buffer)[] = [];
  const all = withUid && !items.some((i) => i.kind === 'UID') ? [{ kind: 'UID' } as const, ...items] : items;
  const fields: (string | Buffer)[][] = [];
  for (const it of all) {
    switch (it.kind) {
      case 'FLAGS': fields.push([`FLAGS (${m.flags.join(' ')})`]); break;
      case 'UID': fields.push([`UID ${m.uid}`]); break;
      case 'INTERNALDATE': fields.push([`INTERNALDATE ${imapDateTime(m.internalDate)}`]); break;
      case 'RFC822.SIZE': fields.push([`RFC822.SIZE ${m.size}`]); break;
      case 'ENVELOPE': fields.push([`ENVELOPE ${raw === null ? 'NIL' : envelope(raw)}`]); break;
      case 'body': {
        let bytes = raw === null ? Buffer.alloc(0) : sectionBytes(raw, it.section);
        if (it.partial !== null) bytes = bytes.subarray(Math.min(it.partial.start, bytes.length), Math.min(it.partial.start + it.partial.length, bytes.length));
        fields.push([`${it.label} {${bytes.length}}\r\n`, bytes]);
        break;
      }
    }
  }
  parts.push(`* ${m.seq} FETCH (`);
  fields.forEach((f, i) => {
    if (i > 0) parts.push(' ');
    parts.push(...f);
  });
  parts.push(')\r\n');
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
}
