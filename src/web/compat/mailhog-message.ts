/**
 * A stored message in the shape MailHog's server returns it (github.com/mailhog/data, Message): what the `mailhog`
 * npm package and MailHog's own UI read. Its quirks are kept on purpose, since clients were written against them:
 * headers split on the first CRLFCRLF, each header an array holding its last occurrence only, folded lines joined
 * without their CRLF; a multipart body split on "--boundary" into parts (the closing "--" is a part too), inner
 * multiparts split again; `Raw.Data` the message without its final CRLF. Pure: no I/O.
 *
 * Cost: each nesting level scans its part once, and nesting is cut at MAX_MIME_DEPTH, so a message costs at most that
 * many passes over its bytes.
 */
import type { Envelope } from '../../smtp/core/types.js';

export type MailhogPath = Readonly<{ Relays: readonly string[] | null; Mailbox: string; Domain: string; Params: string }>;
export type MailhogContent = {
  Headers: Record<string, string[]>;
  Body: string;
  Size: number;
  MIME: MailhogMime | null;
};
export type MailhogMime = { Parts: MailhogContent[] };
export type MailhogMessage = Readonly<{
  ID: string;
  From: MailhogPath;
  To: readonly MailhogPath[];
  Content: MailhogContent;
  /** RFC 3339 with nanoseconds, as Go's time.Time marshals. */
  Created: string;
  MIME: MailhogMime | null;
  Raw: Readonly<{ From: string; To: readonly string[]; Data: string; Helo: string }>;
}>;

/** Deeper multiparts are left unsplit (MIME null): a hostile message cannot make the split cost more passes. */
export const MAX_MIME_DEPTH = 16;

export function pathFromString(path: string): MailhogPath {
  let relays: string[] | null = null;
  let email = path;
  const colon = path.indexOf(':');
  if (colon !== -1) {
    relays = path.slice(0, colon).split(',');
    email = path.slice(colon + 1);
  }
  const at = email.indexOf('@');
  return at === -1
    ? { Relays: relays, Mailbox: email, Domain: '', Params: '' }
    : { Relays: relays, Mailbox: email.slice(0, at), Domain: email.slice(at + 1), Params: '' };
}

export function contentFromString(data: string, depth = 0): MailhogContent {
  const split = data.indexOf('\r\n\r\n');
  if (split === -1) return { Headers: {}, Body: data, Size: Buffer.byteLength(data), MIME: null };
  const headers: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  let last = '';
  for (const line of data.slice(0, split).split('\r\n')) {
    const folded = last !== '' && (line.startsWith(' ') || line.startsWith('\t'));
    const colon = line.indexOf(': ');
    if (folded) {
      const values = headers[last] as string[];
      values[values.length - 1] += line;
    } else if (colon !== -1) {
      last = line.slice(0, colon);
      headers[last] = [line.slice(colon + 2)];
    }
  }
  const content: MailhogContent = { Headers: { ...headers }, Body: data.slice(split + 4), Size: Buffer.byteLength(data), MIME: null };
  if (isMultipart(content) && depth < MAX_MIME_DEPTH) content.MIME = parseMimeBody(content, depth + 1);
  return content;
}

function isMultipart(c: MailhogContent): boolean {
  return (c.Headers['Content-Type']?.[0] ?? '').startsWith('multipart/');
}

function parseMimeBody(content: MailhogContent, depth: number): MailhogMime {
  const boundary = boundaryOf(content.Headers['Content-Type']?.[0] ?? '');
  if (boundary === '') return { Parts: [] };
  const parts: MailhogContent[] = [];
  for (const s of content.Body.split(`--${boundary}`)) {
    if (s.length > 0) parts.push(contentFromString(trimCrLf(s), depth));
  }
  return { Parts: parts };
}

/** Go's strings.Trim(s, "\r\n"): every leading and trailing CR and LF. */
function trimCrLf(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s[a] === '\r' || s[a] === '\n')) a++;
  while (b > a && (s[b - 1] === '\r' || s[b - 1] === '\n')) b--;
  return s.slice(a, b);
}

/** The boundary parameter of a Content-Type value, quoted or not; '' when there is none. */
export function boundaryOf(contentType: string): string {
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(contentType);
  return m === null ? '' : (m[1] ?? m[2] ?? '');
}

/** Go's time.Time JSON: RFC 3339 with the fraction's trailing zeros dropped ("…T10:00:00.12Z", "…T10:00:00Z"). */
export function goTime(iso: string): string {
  return iso.replace(/\.(\d*?)0*Z$/, (_m, f: string) => (f === '' ? 'Z' : `.${f}Z`));
}

export function mailhogMessage(id: string, receivedAt: string, envelope: Envelope, raw: Buffer): MailhogMessage {
  let data = raw.toString('utf8');
  if (data.endsWith('\r\n')) data = data.slice(0, -2);
  const content = contentFromString(data);
  // MailHog adds what its SMTP side knows: the Return-Path (appended where one exists) and a Message-ID when absent.
  const returnPath = Object.keys(content.Headers).find((k) => k.toLowerCase() === 'return-path');
  if (returnPath === undefined) content.Headers['Return-Path'] = [`<${envelope.from}>`];
  else content.Headers[returnPath]?.push(`<${envelope.from}>`);
  if (!Object.keys(content.Headers).some((k) => k.toLowerCase() === 'message-id')) content.Headers['Message-ID'] = [`${id}@mailwire`];
  const mime = content.MIME;
  content.MIME = null; // MailHog keeps the top level's parts on the message, not on its Content
  return {
    ID: id,
    From: pathFromString(envelope.from),
    To: envelope.to.map(pathFromString),
    Content: content,
    Created: goTime(receivedAt),
    MIME: mime,
    Raw: { From: envelope.from, To: [...envelope.to], Data: data, Helo: envelope.helo },
  };
}
