/**
 * The header check: what a receiving server or a reader would trip over, found without the network. Pure and linear:
 * one pass over the header block, one over the body for the DKIM body hash.
 */
import { createHash } from 'node:crypto';

export type Severity = 'error' | 'warning';
export type HeaderFinding = Readonly<{
  /** A stable name for the rule (`date-missing`, `dkim-body-hash` …). */
  rule: string;
  severity: Severity;
  /** The header concerned, when there is one. */
  header: string | null;
  message: string;
}>;
export type HeaderReport = Readonly<{ findings: readonly HeaderFinding[]; dkim: readonly DkimBodyHash[] }>;
export type DkimBodyHash = Readonly<{ domain: string; selector: string; algorithm: string; canonicalization: string; ok: boolean; reason: string | null }>;

/** What the check needs besides the raw bytes: the parsed text body (the alternative part's emptiness). */
export type HeaderCheckInput = Readonly<{ raw: Buffer; text: string; html: string }>;

const MAX_LINE = 998;

type Field = Readonly<{ name: string; lower: string; value: string; rawBytes: Buffer }>;

/** The header block's end: the offset of the body (after the empty line), or raw.length when there is none. */
function headerEnd(raw: Buffer): { headerLength: number; bodyStart: number } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { headerLength: crlf + 2, bodyStart: crlf + 4 };
  if (lf !== -1) return { headerLength: lf + 1, bodyStart: lf + 2 };
  return { headerLength: raw.length, bodyStart: raw.length };
}

/** The fields of the header block, unfolded; and the over-long physical lines. One pass. */
function fields(block: Buffer): { fields: Field[]; longLines: number[] } {
  const out: Field[] = [];
  const longLines: number[] = [];
  let start = 0;
  let lineNo = 0;
  let current: { begin: number; end: number } | null = null;
  const flush = (): void => {
    if (current === null) return;
    const bytes = block.subarray(current.begin, current.end);
    const text = bytes.toString('latin1');
    const colon = text.indexOf(':');
    if (colon > 0) {
      const name = text.slice(0, colon).trim();
      out.push({ name, lower: name.toLowerCase(), value: text.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, '').trim(), rawBytes: bytes });
    }
    current = null;
  };
  while (start < block.length) {
    let nl = block.indexOf(0x0a, start);
    if (nl === -1) nl = block.length;
    const end = nl > start && block[nl - 1] === 0x0d ? nl - 1 : nl;
    lineNo++;
    if (end - start > MAX_LINE) longLines.push(lineNo);
    const first = block[start];
    if ((first === 0x20 || first === 0x09) && current !== null) current.end = end;
    else {
      flush();
      current = { begin: start, end };
    }
    start = nl + 1;
  }
  flush();
  return { fields: out, longLines };
}

const hasNonAscii = (b: Buffer): boolean => {
  for (const x of b) if (x > 0x7f) return true;
  return false;
};

/** RFC 5322 §3.3 date-time, loosely (day name optional, seconds optional, a numeric zone or an obsolete name). */
const DATE = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|UT|GMT|[ECMP][SD]T|[A-IK-Za-ik-z])(?:\s*\([^()]{0,200}\))?$/;
const MESSAGE_ID = /^<[^<>@\s]{1,500}@[^<>@\s]{1,500}>$/;
const ADDR_SPEC = /[^\s<>@",;]{1,500}@[^\s<>@",;]{1,500}/;

export function checkHeaders(input: HeaderCheckInput): HeaderReport {
  const { headerLength, bodyStart } = headerEnd(input.raw);
  const block = input.raw.subarray(0, headerLength);
  const { fields: all, longLines } = fields(block);
  const findings: HeaderFinding[] = [];
  const add = (rule: string, severity: Severity, header: string | null, message: string): void => {
    findings.push({ rule, severity, header, message });
  };
  const byName = new Map<string, Field[]>();
  for (const f of all) byName.set(f.lower, [...(byName.get(f.lower) ?? []), f]);
  const one = (name: string): Field | undefined => byName.get(name)?.[0];

  const date = one('date');
  if (date === undefined) add('date-missing', 'error', 'Date', 'no Date header: RFC 5322 requires one, and some receivers reject or score mail without it');
  else if (date.value.length > 200 || !DATE.test(date.value)) add('date-malformed', 'error', 'Date', `the Date ${JSON.stringify(date.value.slice(0, 80))} is not an RFC 5322 date-time (e.g. "Mon, 7 Dec 2026 18:00:00 +0000")`);

  const messageId = one('message-id');
  if (messageId === undefined) add('message-id-missing', 'warning', 'Message-ID', 'no Message-ID header: receivers may add one or score the mail as suspicious');
  else if (messageId.value.length > 1000 || !MESSAGE_ID.test(messageId.value)) add('message-id-malformed', 'error', 'Message-ID', `the Message-ID ${JSON.stringify(messageId.value.slice(0, 80))} is not of the form <left@right>`);

  const from = one('from');
  if (from === undefined) add('from-missing', 'error', 'From', 'no From header: RFC 5322 requires one');
  else if (!ADDR_SPEC.test(from.value.slice(0, 4000))) add('from-malformed', 'error', 'From', `the From ${JSON.stringify(from.value.slice(0, 80))} holds no address`);
  for (const name of ['date', 'from', 'subject', 'message-id', 'to', 'sender', 'reply-to']) {
    const n = byName.get(name)?.length ?? 0;
    if (n > 1) add('header-repeated', 'error', byName.get(name)?.[0]?.name ?? name, `${n} ${byName.get(name)?.[0]?.name ?? name} headers: RFC 5322 allows at most one`);
  }

  const mime = one('mime-version');
  const contentType = one('content-type');
  if (mime === undefined) {
    if (contentType !== undefined) add('mime-version-missing', 'error', 'MIME-Version', 'a Content-Type without MIME-Version: 1.0: receivers may not read the message as MIME');
  } else if (mime.value.slice(0, 200).replace(/\([^()]*\)/g, '').trim() !== '1.0') add('mime-version-malformed', 'error', 'MIME-Version', `MIME-Version is ${JSON.stringify(mime.value.slice(0, 40))}, not 1.0`);

  if (contentType !== undefined && /^\s*multipart\/alternative\b/i.test(contentType.value) && input.text.trim() === '') {
    add('alternative-empty-text', 'warning', 'Content-Type', 'multipart/alternative with an empty text part: text-only readers and spam filters see nothing');
  }

  const unsubscribe = one('list-unsubscribe');
  const bulk = one('list-id') !== undefined || /^(bulk|list)$/i.test(one('precedence')?.value ?? '');
  if (unsubscribe !== undefined && one('list-unsubscribe-post') === undefined) {
    add('list-unsubscribe-post-missing', 'warning', 'List-Unsubscribe-Post', 'List-Unsubscribe without List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058), which Gmail and Yahoo require of bulk senders');
  } else if (unsubscribe === undefined && bulk) {
    add('list-unsubscribe-missing', 'warning', 'List-Unsubscribe', 'bulk mail (List-Id or Precedence) without List-Unsubscribe');
  }

  for (const line of longLines.slice(0, 20)) add('line-too-long', 'error', null, `header line ${line} is longer than ${MAX_LINE} octets (RFC 5322 §2.1.1)`);
  for (const f of all) {
    if (hasNonAscii(f.rawBytes)) add('non-ascii', 'warning', f.name, `${f.name} holds non-ASCII bytes without RFC 2047 encoding (accepted only over SMTPUTF8)`);
  }

  const body = input.raw.subarray(bodyStart);
  const dkim = (byName.get('dkim-signature') ?? []).slice(0, 10).map((f) => dkimBodyHash(f.value, body));
  for (const d of dkim) {
    if (!d.ok) add('dkim-body-hash', 'error', 'DKIM-Signature', `DKIM signature of ${d.domain || '?'} (s=${d.selector || '?'}): ${d.reason ?? 'body hash does not match'}`);
  }
  return { findings, dkim };
}

/** The DKIM-Signature's tags (RFC 6376 §3.2): `name=value` separated by `;`, whitespace removed from values. */
function dkimTags(value: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/[ \t\r\n]+/g, ''));
  }
  return tags;
}

/** Checks only the body hash (bh=): needs no DNS. RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed). */
export function dkimBodyHash(value: string, body: Buffer): DkimBodyHash {
  const tags = dkimTags(value);
  const domain = tags.get('d') ?? '';
  const selector = tags.get('s') ?? '';
  const algorithm = (tags.get('a') ?? '').toLowerCase();
  const canon = (tags.get('c') ?? 'simple/simple').toLowerCase();
  const bodyCanon = canon.includes('/') ? canon.split('/')[1] ?? 'simple' : 'simple';
  const base = { domain, selector, algorithm, canonicalization: canon };
  const hashName = algorithm.endsWith('sha256') ? 'sha256' : algorithm.endsWith('sha1') ? 'sha1' : null;
  if (hashName === null) return { ...base, ok: false, reason: `unknown algorithm a=${algorithm || '(none)'}` };
  if (bodyCanon !== 'simple' && bodyCanon !== 'relaxed') return { ...base, ok: false, reason: `unknown body canonicalization ${bodyCanon}` };
  const bh = tags.get('bh');
  if (bh === undefined || bh === '') return { ...base, ok: false, reason: 'no bh= tag' };
  let canonical = bodyCanon === 'simple' ? simpleBody(body) : relaxedBody(body);
  const l = tags.get('l');
  if (l !== undefined) {
    if (!/^\d{1,12}$/.test(l)) return { ...base, ok: false, reason: `l=${l} is not a length` };
    canonical = canonical.subarray(0, Number(l));
  }
  const got = createHash(hashName).update(canonical).digest('base64');
  return got === bh ? { ...base, ok: true, reason: null } : { ...base, ok: false, reason: `body hash does not match (bh=${bh.slice(0, 16)}…, the body hashes to ${got.slice(0, 16)}…): the body changed after signing` };
}

/** The body's lines, each without its line ending (CRLF or a bare LF). */
function lines(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    let nl = body.indexOf(0x0a, start);
    if (nl === -1) nl = body.length;
    out.push(body.subarray(start, nl > start && body[nl - 1] === 0x0d ? nl - 1 : nl));
    start = nl + 1;
  }
  return out;
}

function dropTrailingEmpty(ls: Buffer[]): Buffer[] {
  let n = ls.length;
  while (n > 0 && (ls[n - 1] as Buffer).length === 0) n--;
  return ls.slice(0, n);
}

const CRLF = Buffer.from('\r\n');

function simpleBody(body: Buffer): Buffer {
  const ls = dropTrailingEmpty(lines(body));
  if (ls.length === 0) return CRLF;
  return Buffer.concat(ls.flatMap((x) => [x, CRLF]));
}

function relaxedBody(body: Buffer): Buffer {
  const ls = dropTrailingEmpty(lines(body).map(relaxLine));
  if (ls.length === 0) return Buffer.alloc(0);
  return Buffer.concat(ls.flatMap((x) => [x, CRLF]));
}

/** Runs of space and tab become one space; those at the end of the line go. One pass. */
function relaxLine(line: Buffer): Buffer {
  const out = Buffer.allocUnsafe(line.length);
  let n = 0;
  let inSpace = false;
  for (const b of line) {
    if (b === 0x20 || b === 0x09) inSpace = true;
    else {
      if (inSpace) out[n++] = 0x20;
      inSpace = false;
      out[n++] = b;
    }
  }
  return out.subarray(0, n);
}
