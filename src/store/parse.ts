/**
 * Ingest-time parsing: the raw bytes become the summary, headers, bodies and attachment list once, when stored,
 * plus the lowercased text the search filters and the full-text index read. A message postal-mime cannot parse
 * is still stored, with an empty summary: the raw bytes are what matters.
 */
import PostalMime, { type Address, type Email } from 'postal-mime';
import type { Envelope } from '../protocol/types.js';
import type { AttachmentInfo, Mailbox } from './types.js';

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
}>;

export const EMPTY_PARSE: ParsedMessage = Object.freeze({
  from: null, to: [], cc: [], bcc: [], subject: '', date: null, messageId: null, headers: [], text: '', html: '', attachments: [],
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

export async function parseMessage(raw: Uint8Array): Promise<ParsedMessage> {
  let email: Email;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  } catch {
    return EMPTY_PARSE;
  }
  return {
    from: email.from ? (flatten([email.from])[0] ?? null) : null,
    to: flatten(email.to),
    cc: flatten(email.cc),
    bcc: flatten(email.bcc),
    subject: email.subject ?? '',
    date: isoDate(email.date),
    messageId: email.messageId ?? null,
    headers: email.headers.map((h) => ({ name: h.originalKey || h.key, value: h.value })),
    text: email.text ?? '',
    html: email.html ?? '',
    attachments: email.attachments.map((a, index) => ({
      index,
      filename: a.filename ?? '',
      contentType: a.mimeType || 'application/octet-stream',
      size: byteLength(a.content),
      contentId: a.contentId ?? null,
      disposition: a.disposition === 'inline' ? 'inline' : a.disposition === 'attachment' ? 'attachment' : null,
    })),
  };
}

/** Decoded bytes of the n-th attachment, parsing again (downloads are rare; storing every part twice is not). */
export async function attachmentBytes(raw: Uint8Array, index: number): Promise<Buffer | null> {
  let email: Email;
  try {
    email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' });
  } catch {
    return null;
  }
  const a = email.attachments[index];
  if (a === undefined) return null;
  const c = a.content;
  if (typeof c === 'string') return Buffer.from(c, a.encoding === 'base64' ? 'base64' : 'utf8');
  return c instanceof ArrayBuffer ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

export function searchFields(p: ParsedMessage, env: Envelope): SearchFields {
  const people = (list: readonly Mailbox[]): string => list.map((m) => `${m.name} ${m.address}`).join('\n');
  const fromText = `${p.from ? people([p.from]) : ''}\n${env.from}`;
  const toText = `${people(p.to)}\n${people(p.cc)}\n${people(p.bcc)}\n${env.to.join('\n')}`;
  const body = p.text !== '' ? p.text : htmlToText(p.html);
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
  const body = p.text !== '' ? p.text : htmlToText(p.html);
  // Cut first: the whitespace pass then touches a few hundred characters, not the whole body.
  return body.slice(0, SNIPPET_CHARS * 4).replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS);
}

/** Rough HTML to text for indexing and snippets only (the API serves the HTML itself untouched). */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;/g, "'");
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
