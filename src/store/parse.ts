/**
 * MIME parsing of stored bytes: for reads (headers, bodies, attachments) and for the index, which is built after the
 * 250 from the headers and text parts only (the summary, the lowercased text the search filters read, the full-text
 * columns). A message postal-mime cannot parse is still stored, its summary from its headers alone (headersOnlyParse).
 */
import PostalMime, { type Address, type Attachment, type Email } from 'postal-mime';
import type { Envelope } from '../smtp/core/types.js';
import type { AttachmentContent, AttachmentInfo, Mailbox } from './types.js';
import { hasRemoteContent, htmlToText } from './html.js';

export { htmlToText };

export type ParsedMessage = Readonly<{
  from: Mailbox | null;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  subject: string;
  date: string | null;
  messageId: string | null;
  headers: { name: string; value: string }[];
  text: string;
  html: string;
  attachments: AttachmentInfo[];
  /** Does the HTML load anything from the network (store/html.ts)? Found by parseMessage only (reads); false otherwise. */
  remoteContent: boolean;
  /** Only the headers were parsed (headersOnlyParse): the body was past the index's budget or postal-mime refused it. */
  limited: boolean;
}>;

export const EMPTY_PARSE: ParsedMessage = Object.freeze({
  from: null, to: [], cc: [], bcc: [], subject: '', date: null, messageId: null, headers: [], text: '', html: '', attachments: [],
  remoteContent: false, limited: false,
});

/** What search needs, derived from a parse and the envelope; the same for every backend. */
export type SearchFields = Readonly<{
  fromLc: string;
  toLc: string;
  subjectLc: string;
  hasAttachment: boolean;
  /** Full-text columns. */
  ftsSubject: string;
  ftsAddresses: string;
  ftsBody: string;
}>;

const SNIPPET_CHARS = 200;
/** The full-text index reads at most this much of a body; the raw bytes are kept whole regardless. */
const MAX_INDEXED_BODY = 256 * 1024;

/**
 * A message's whole parse, for reads: one plain text part the short way (plainTextParse), any other by postal-mime;
 * with the HTML's remote content found (so the UI need not look).
 */
export async function parseMessage(raw: Uint8Array): Promise<ParsedMessage> {
  const p = (await plainTextParse(raw)) ?? (await parseWithPostalMime(raw));
  return p.html === '' ? p : { ...p, remoteContent: hasRemoteContent(p.html) };
}

/**
 * postal-mime's parse of the whole message, attachments and all: what plainTextParse is held equal to. A message
 * postal-mime refuses (too deeply nested, too many header bytes) gets its headers' parse (headersOnlyParse).
 */
export async function parseWithPostalMime(raw: Uint8Array): Promise<ParsedMessage> {
  let email: Email;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  } catch {
    return headersOnlyParse(raw);
  }
  return fromEmail(email, email.text ?? '');
}

/** The head of a message headersOnlyParse reads at most: the header fields a listing shows are near its start. */
const HEAD_BYTES = 64 * 1024;
/** The header fields headersOnlyParse keeps, each unfolded and cut to HEADER_VALUE_CHARS. */
const SUMMARY_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'sender', 'reply-to']);
const HEADER_VALUE_CHARS = 4096;

/**
 * What the index keeps of a message whose body it could not read (past its budget, or refused by postal-mime): the
 * summary's header fields (subject, addresses, date, Message-ID) from the first HEAD_BYTES of the header block, no
 * body, no attachments, `limited` set. Bounded: a few KiB reach postal-mime whatever the message holds.
 */
export async function headersOnlyParse(raw: Uint8Array): Promise<ParsedMessage> {
  const head = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, HEAD_BYTES)).toString('latin1');
  const lines: string[] = [];
  let field: string | null = null;
  for (const line of head.split('\n')) { // at most HEAD_BYTES characters in all
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l === '') break; // the end of the header block
    if ((l.startsWith(' ') || l.startsWith('\t')) && field !== null) field += ` ${l.trim()}`;
    else {
      if (field !== null) lines.push(field);
      field = l;
    }
    if (field.length > HEADER_VALUE_CHARS) field = field.slice(0, HEADER_VALUE_CHARS);
  }
  if (field !== null) lines.push(field);
  const kept = lines.filter((l) => SUMMARY_HEADERS.has(l.slice(0, Math.max(0, l.indexOf(':'))).trim().toLowerCase()));
  let email: Email;
  try {
    email = await PostalMime.parse(Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1'));
  } catch {
    return { ...EMPTY_PARSE, limited: true };
  }
  return { ...fromEmail(email, ''), html: '', attachments: [], limited: true };
}

function fromEmail(email: Email, text: string): ParsedMessage {
  return {
    from: email.from ? (flatten([email.from])[0] ?? null) : null,
    to: flatten(email.to),
    cc: flatten(email.cc),
    bcc: flatten(email.bcc),
    subject: email.subject ?? '',
    date: isoDate(email.date),
    messageId: email.messageId ?? null,
    headers: email.headers.map((h) => ({ name: h.originalKey || h.key, value: h.value })),
    text,
    html: email.html ?? '',
    attachments: email.attachments.map(describe),
    remoteContent: false,
    limited: false,
  };
}

function describe(a: Attachment, index: number): AttachmentInfo {
  return {
    index,
    filename: a.filename ?? '',
    contentType: a.mimeType || 'application/octet-stream',
    size: byteLength(a.content),
    contentId: a.contentId ?? null,
    disposition: a.disposition === 'inline' ? 'inline' : a.disposition === 'attachment' ? 'attachment' : null,
  };
}

/** The n-th attachment's description and decoded bytes, from one parse of the raw bytes (stores keep no parts). */
export async function readAttachment(raw: Uint8Array, index: number): Promise<AttachmentContent | null> {
  let email: Email;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  } catch {
    return null;
  }
  const a = email.attachments[index];
  if (a === undefined) return null;
  const c = a.content;
  const content = typeof c === 'string' ? Buffer.from(c, a.encoding === 'base64' ? 'base64' : 'utf8')
    : c instanceof ArrayBuffer ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  return { info: describe(a, index), content };
}

/** What a listing shows of a message beyond its row's own columns: the same for every backend. */
export type SummaryFields = Readonly<{
  from: Mailbox | null; to: readonly Mailbox[]; cc: readonly Mailbox[]; subject: string; date: string | null;
  messageId: string | null; attachmentCount: number; snippet: string;
  /** Indexed from its headers alone (see headersOnlyParse): its body is not searchable. Absent in older rows: false. */
  indexLimited: boolean;
}>;

/** A message's entry in the index: its summary and its search fields, the body turned into text once for both. */
export type IndexEntry = Readonly<{ summary: SummaryFields; search: SearchFields }>;

export function indexEntry(p: ParsedMessage, env: Envelope): IndexEntry {
  const body = bodyText(p);
  return {
    summary: {
      from: p.from, to: p.to, cc: p.cc, subject: p.subject, date: p.date, messageId: p.messageId,
      attachmentCount: p.attachments.length, snippet: collapseWhitespace(body, SNIPPET_CHARS), indexLimited: p.limited,
    },
    search: searchFields(p, env, body),
  };
}

/**
 * The parse the index needs: headers and text parts, the attachments counted but their bodies never decoded. A message
 * that is one plain text part (see plainTextParse) is parsed without its body going through postal-mime.
 */
export async function parseForIndex(raw: Uint8Array): Promise<ParsedMessage> {
  const plain = await plainTextParse(raw);
  if (plain !== null) return plain;
  const parts = { count: 0 };
  const lighter = withoutAttachmentBodies(raw, parts);
  return parts.count > MAX_INDEXED_PARTS ? headersOnlyParse(raw) : parseWithPostalMime(lighter);
}

/**
 * A message of more MIME parts than this is indexed from its headers alone: postal-mime takes some 150 µs a part
 * whatever its size (20,000 parts of 50 bytes: 3 s), far past the index's budget for one message (issue 25).
 */
export const MAX_INDEXED_PARTS = 1000;

/**
 * The parse of a message that is a single text/plain part, utf-8 or us-ascii, 7bit, 8bit or binary (what most test
 * mail and every load generator sends), equal to postal-mime's; null for any other message. postal-mime reads a body
 * line by line and joins the lines again (1.2 ms of the writer's time for a 100 KB body, 0.3 ms this way; 48–68
 * against 32–42 µs at 1 KB). Here postal-mime parses the header block alone, and the body is decoded in one call, its
 * line ends made what postal-mime makes of them: each line (up to a LF) without its trailing CRs, then a LF. The
 * headers postal-mime read decide, taken as it takes them (the first of each): a Content-Type of exactly text/plain
 * with at most a charset, no Content-Disposition. test/store/parse.test.ts holds it equal to parseWithPostalMime.
 */
export async function plainTextParse(raw: Uint8Array): Promise<ParsedMessage | null> {
  const bodyStart = bodyStartOf(raw);
  if (bodyStart === null) return null;
  if (SURELY_NOT_PLAIN.test(Buffer.from(raw.buffer, raw.byteOffset, bodyStart).toString('latin1'))) return null;
  let email: Email;
  try {
    email = await PostalMime.parse(raw.subarray(0, bodyStart));
  } catch {
    return null;
  }
  const first = (name: string): string | undefined => email.headers.find((h) => h.key === name)?.value;
  if (first('content-disposition') !== undefined) return null;
  const encoding = first('content-transfer-encoding');
  if (encoding !== undefined && !/^(?:7bit|8bit|binary)$/i.test(encoding)) return null;
  const type = first('content-type');
  const charset = type === undefined ? '' : PLAIN_TYPE.exec(type)?.[2]?.toLowerCase();
  if (charset === undefined) return null;
  const decoder = charset === 'us-ascii' ? US_ASCII : UTF8; // postal-mime's labels: no charset reads as utf-8
  const body = raw.subarray(bodyStart);
  const decoded = decoder.decode(body);
  let text = decoded.replace(CRLF, '\n'); // the usual case, at half the cost of the exact rule below
  if (text.includes('\r')) text = decoded.replace(TRAILING_CRS, '');
  if (body.byteLength > 0 && body[body.byteLength - 1] !== 0x0a) text += '\n'; // the last line had no LF
  return fromEmail(email, text);
}

/**
 * A header line that rules the path out before postal-mime reads the headers (a multipart message would pay for that
 * parse twice): a Content-Type other than text/plain, any Content-Disposition, another transfer encoding. Only a
 * quick look: what passes is still decided on postal-mime's headers.
 */
const SURELY_NOT_PLAIN = /^(?:content-type:(?![ \t]*text\/plain)|content-disposition:|content-transfer-encoding:(?![ \t]*(?:7bit|8bit|binary)[ \t]*\r?$))/im;
const PLAIN_TYPE = /^text\/plain(?:\s*;\s*charset\s*=\s*("?)(utf-8|us-ascii)\1)?$/i;
const CRLF = /\r\n/g;
const TRAILING_CRS = /\r+(?=\n|$)/g;
const UTF8 = new TextDecoder('utf8');
const US_ASCII = new TextDecoder('us-ascii');

/** Where postal-mime starts a message's body: after the first line (up to a LF) that holds nothing but CRs. */
function bodyStartOf(raw: Uint8Array): number | null {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let start = 0; start < bytes.byteLength;) {
    const lf = bytes.indexOf(0x0a, start);
    if (lf === -1) return null;
    let at = start;
    while (at < lf && bytes[at] === 0x0d) at++;
    if (at === lf) return lf + 1;
    start = lf + 1;
  }
  return null;
}

/** The text body, or the HTML body as text when there is no text part (the only place HTML becomes text). */
const bodyText = (p: ParsedMessage): string => (p.text !== '' ? p.text : htmlToText(p.html.slice(0, 4 * MAX_INDEXED_BODY)));

export function searchFields(p: ParsedMessage, env: Envelope, body: string = bodyText(p)): SearchFields {
  const people = (list: readonly Mailbox[]): string => list.map((m) => `${m.name} ${m.address}`).join('\n');
  const fromText = `${p.from ? people([p.from]) : ''}\n${env.from}`;
  const toText = `${people(p.to)}\n${people(p.cc)}\n${people(p.bcc)}\n${env.to.join('\n')}`;
  return {
    fromLc: fromText.toLowerCase(),
    toLc: toText.toLowerCase(),
    subjectLc: p.subject.toLowerCase(),
    hasAttachment: p.attachments.length > 0,
    ftsSubject: p.subject,
    ftsAddresses: `${fromText}\n${toText}`,
    ftsBody: body.slice(0, MAX_INDEXED_BODY),
  };
}

export function snippetOf(p: ParsedMessage): string {
  return collapseWhitespace(bodyText(p), SNIPPET_CHARS);
}

/**
 * `raw` with the bodies of its non-text leaf parts left out (everything else byte for byte): postal-mime still sees
 * every part, so it counts and names the attachments exactly as a full parse does, but has nothing to decode. A
 * base64 attachment is most of a large message's bytes and most of its parse. Malformed structure is left as it is.
 */
export function withoutAttachmentBodies(raw: Uint8Array, parts: { count: number } = { count: 0 }): Uint8Array {
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const cut: [number, number][] = [];
  blankLeaves(text, 0, text.length, cut, 0, parts);
  if (cut.length === 0) return raw;
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const [from, to] of cut) {
    pieces.push(raw.subarray(at, from));
    at = to;
  }
  pieces.push(raw.subarray(at));
  return Buffer.concat(pieces);
}

/** The parameters of a Content-Type read for its boundary (a bound on the pattern's work, far above real mail). */
const MAX_TYPE_PARAMETERS = 4096;
/** Multipart nesting followed this deep (postal-mime's own limit is far above what real mail uses). */
const MAX_MIME_DEPTH = 32;

/** Collects into `cut`, in order, the body ranges of the non-text leaves of the part text[start, end). */
function blankLeaves(text: string, start: number, end: number, cut: [number, number][], depth: number, parts: { count: number }): void {
  parts.count++;
  const blank = headerEndOf(text, start, end);
  if (blank === null) return;
  const headers = text.slice(start, blank.headersEnd).replace(/\r?\n[ \t]+/g, ' ');
  const type = /^content-type:[ \t]*([^;\r\n]*)(.*)$/im.exec(headers);
  const mime = (type?.[1] ?? 'text/plain').trim().toLowerCase();
  if (mime.startsWith('multipart/')) {
    const b = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec((type?.[2] ?? '').slice(0, MAX_TYPE_PARAMETERS));
    const boundary = b?.[1] ?? b?.[2];
    if (boundary === undefined || depth >= MAX_MIME_DEPTH) return;
    const delimiter = `--${boundary}`;
    let partStart = -1;
    for (let at = indexWithin(text, delimiter, blank.bodyStart, end); at !== -1; at = indexWithin(text, delimiter, at + delimiter.length, end)) {
      if (at !== blank.bodyStart && text.charCodeAt(at - 1) !== 0x0a) continue; // not at the start of a line
      if (partStart !== -1) blankLeaves(text, partStart, at - (text.charCodeAt(at - 2) === 0x0d ? 2 : 1), cut, depth + 1, parts);
      if (text.startsWith('--', at + delimiter.length)) return; // the close delimiter
      const eol = indexWithin(text, '\n', at, end);
      if (eol === -1) return;
      partStart = eol + 1;
    }
    return;
  }
  if (mime.startsWith('text/') || mime.startsWith('message/') || blank.bodyStart >= end) return;
  cut.push([blank.bodyStart, end]);
}

/**
 * Where a part's header block ends (its blank line) and its body starts; null if it has none before `end`. Reads the
 * part's own lines only: a search of the whole message for each of 10,000 parts took 21 s (issue 25).
 */
function headerEndOf(text: string, start: number, end: number): { headersEnd: number; bodyStart: number } | null {
  for (let line = start; line < end;) {
    const cr = text.charCodeAt(line) === 0x0d ? 1 : 0;
    if (line + cr < end && text.charCodeAt(line + cr) === 0x0a) return { headersEnd: line, bodyStart: line + cr + 1 };
    const lf = indexWithin(text, '\n', line, end);
    if (lf === -1) return null;
    line = lf + 1;
  }
  return null;
}

/**
 * Where `needle` first occurs wholly inside text[from, end), or -1; the search reads nothing past `end` (a slice is a
 * view in V8, not a copy).
 */
function indexWithin(text: string, needle: string, from: number, end: number): number {
  if (from >= end) return -1;
  const at = text.slice(from, end).indexOf(needle);
  return at === -1 ? -1 : from + at;
}

/**
 * The first `max` characters of `s` with every run of whitespace (as /\s/ defines it) made one space and none at the
 * ends. A scan that stops once it has enough: a regular expression over the body's start cost ~20 µs per message
 * at ingest, a tenth of the writer's budget.
 */
export function collapseWhitespace(s: string, max: number): string {
  let out = '';
  for (let i = 0; i < s.length && out.length < max;) {
    while (i < s.length && isWhitespace(s.charCodeAt(i))) i++;
    let j = i;
    while (j < s.length && !isWhitespace(s.charCodeAt(j))) j++;
    if (j === i) break;
    out += (out === '' ? '' : ' ') + s.slice(i, j);
    i = j;
  }
  return out.length > max ? out.slice(0, max).trimEnd() : out;
}

function isWhitespace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function flatten(list: readonly Address[] | undefined): Mailbox[] {
  const out: Mailbox[] = [];
  for (const a of list ?? []) {
    if (a.group !== undefined) for (const m of a.group) out.push({ name: m.name, address: m.address });
    else out.push({ name: a.name, address: a.address });
  }
  return out;
}

function isoDate(d: string | undefined): string | null {
  if (d === undefined) return null;
  const ms = Date.parse(d);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function byteLength(c: ArrayBuffer | Uint8Array | string): number {
  return typeof c === 'string' ? Buffer.byteLength(c) : c.byteLength;
}
