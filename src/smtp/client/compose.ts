/** Builds the RFC 5322 message the interactive client sends, with nodemailer's composer (headers, encoded words). */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { toCrlf } from '../core/dot-stuffing.js';

export type SimpleMail = Readonly<{
  from: string;
  to: string;
  subject: string;
  /** The body as typed, lines joined by LF or CRLF. */
  text: string;
  date?: Date;
  messageId?: string;
}>;

/** Refuses what could inject a header (RFC 5322 §2.2: a header field ends at CRLF). */
export function headerInjection(value: string): boolean {
  return /[\r\n]/.test(value);
}

export async function composeSimpleMessage(mail: SimpleMail): Promise<Buffer> {
  for (const [name, value] of [['from', mail.from], ['to', mail.to], ['subject', mail.subject]] as const) {
    if (headerInjection(value)) throw new RangeError(`the ${name} holds a line break, which would inject a header`);
  }
  const composer = new MailComposer({
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: toCrlf(mail.text),
    date: mail.date ?? new Date(),
    ...(mail.messageId === undefined ? {} : { messageId: mail.messageId }),
  });
  return composer.compile().build();
}

/** What `mailwire send` composes: addresses, text and/or HTML, attachments by path, extra header fields. */
export type MailSpec = Readonly<{
  from: string;
  to: readonly string[];
  cc?: readonly string[];
  subject?: string;
  text?: string;
  html?: string;
  /** Files attached by path; nodemailer reads them and names each by its base name. */
  attachments?: readonly string[];
  headers?: readonly Readonly<{ key: string; value: string }>[];
  date?: Date;
  messageId?: string;
}>;

/** RFC 5322 §3.6.8: a field name is printable ASCII except ":" (and no space). */
const FIELD_NAME = /^[!-9;-~]+$/;

/** Why a spec would inject a header or break a field, or null when it is fine. Checked before anything is sent. */
export function specProblem(spec: MailSpec): string | null {
  const values: [string, string][] = [
    ['from', spec.from], ...spec.to.map((v): [string, string] => ['to', v]), ...(spec.cc ?? []).map((v): [string, string] => ['cc', v]),
    ['subject', spec.subject ?? ''], ...(spec.headers ?? []).map((h): [string, string] => [`header ${h.key}`, h.value]),
  ];
  for (const [name, value] of values) if (headerInjection(value)) return `the ${name} holds a line break, which would inject a header`;
  for (const h of spec.headers ?? []) if (!FIELD_NAME.test(h.key)) return `"${h.key}" is not a header field name`;
  return null;
}

/** Builds the message with nodemailer's composer: MIME structure, encoded words, transfer encodings, CRLF. */
export async function composeMessage(spec: MailSpec): Promise<Buffer> {
  const problem = specProblem(spec);
  if (problem !== null) throw new RangeError(problem);
  const composer = new MailComposer({
    from: spec.from,
    to: [...spec.to],
    ...(spec.cc === undefined || spec.cc.length === 0 ? {} : { cc: [...spec.cc] }),
    subject: spec.subject ?? '',
    ...(spec.text === undefined ? {} : { text: toCrlf(spec.text) }),
    ...(spec.html === undefined ? {} : { html: spec.html }),
    ...(spec.attachments === undefined ? {} : { attachments: spec.attachments.map((path) => ({ path })) }),
    ...(spec.headers === undefined ? {} : { headers: spec.headers.map((h) => ({ key: h.key, value: h.value })) }),
    date: spec.date ?? new Date(),
    ...(spec.messageId === undefined ? {} : { messageId: spec.messageId }),
  });
  return composer.compile().build();
}
