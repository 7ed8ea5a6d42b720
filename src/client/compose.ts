/** Builds the RFC 5322 message the interactive client sends, with nodemailer's composer (headers, encoded words). */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { toCrlf } from '../protocol/message.js';

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
