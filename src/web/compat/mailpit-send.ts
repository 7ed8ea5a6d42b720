/**
 * Mailpit's POST /api/v1/send: a JSON description of a message (From, To, Cc, Bcc, ReplyTo, Subject, Text, HTML,
 * Attachments, Headers, Tags) composed into MIME with nodemailer's composer, for the store to keep as if it had come
 * over SMTP. Mailpit's checks are kept (a valid From and valid addresses, no overwriting the headers it sets, base64
 * attachments); Tags go in an X-Tags header as Mailpit writes them (mailwire has no tags to file them under).
 */
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { checkMailbox } from '../../smtp/core/mailbox-syntax.js';

/** A Mailpit send error: `{ "Error": message }` with this status. */
export class SendError extends Error {
  constructor(readonly status: 400 | 413, message: string) {
    super(message);
  }
}

export type Composed = Readonly<{ from: string; to: string[]; raw: Buffer }>;

type Person = { Email?: unknown; Name?: unknown };
const RESTRICTED = ['To', 'From', 'Cc', 'Bcc', 'Reply-To', 'Date', 'Subject', 'Content-Type', 'Mime-Version'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function composeMailpitSend(text: string, maxMessageBytes: number): Promise<Composed> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new SendError(400, (e as Error).message);
  }
  if (!isObject(body)) throw new SendError(400, 'the body must be a JSON object such as {"From": {"Email": "a@example.test"}, "To": [...], "Subject": "..."}');
  const person = (p: unknown, what: string): { name: string; address: string } => {
    const o = (isObject(p) ? p : {}) as Person;
    const email = typeof o.Email === 'string' ? o.Email : '';
    if (!checkMailbox(email).ok) throw new SendError(400, `invalid ${what} address: ${email}`);
    return { name: typeof o.Name === 'string' ? o.Name : '', address: email };
  };
  const list = (v: unknown, what: string): { name: string; address: string }[] =>
    (Array.isArray(v) ? v : []).map((p) => person(p, what));
  const from = person(body['From'], 'From');
  const to = list(body['To'], 'To');
  const cc = list(body['Cc'], 'Cc');
  const bcc = (Array.isArray(body['Bcc']) ? body['Bcc'] : []).map((e) => person({ Email: e }, 'Bcc'));
  const replyTo = list(body['ReplyTo'], 'Reply-To');
  const headers: Record<string, string> = {};
  const tags = Array.isArray(body['Tags']) ? body['Tags'].filter((t): t is string => typeof t === 'string') : [];
  const restricted = tags.length > 0 ? [...RESTRICTED, 'X-Tags'] : RESTRICTED;
  if (tags.length > 0) headers['X-Tags'] = tags.join(', ');
  if (isObject(body['Headers'])) {
    for (const [k, v] of Object.entries(body['Headers'])) {
      if (restricted.some((r) => r.toLowerCase() === k.toLowerCase())) throw new SendError(400, `cannot overwrite header: "${k}"`);
      if (typeof v !== 'string' || /[\r\n]/.test(v) || !/^[!-9;-~]+$/.test(k)) throw new SendError(400, `invalid header: "${k}"`);
      headers[k] = v;
    }
  }
  const attachments = (Array.isArray(body['Attachments']) ? body['Attachments'] : []).map((a: unknown) => {
    const o = isObject(a) ? a : {};
    const filename = typeof o['Filename'] === 'string' ? o['Filename'] : '';
    const content = (typeof o['Content'] === 'string' ? o['Content'] : '').split(',').pop() ?? '';
    if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(content)) throw new SendError(400, `error decoding base64 attachment "${filename}": illegal base64 data`);
    const type = typeof o['ContentType'] === 'string' && o['ContentType'] !== '' ? o['ContentType'] : undefined;
    const cid = typeof o['ContentID'] === 'string' && o['ContentID'] !== '' ? o['ContentID'] : undefined;
    return {
      filename, content: Buffer.from(content, 'base64'),
      ...(type === undefined ? {} : { contentType: type }), ...(cid === undefined ? {} : { cid, contentDisposition: 'inline' as const }),
    };
  });
  const str = (k: string): string => (typeof body[k] === 'string' ? (body[k] as string) : '');
  const composer = new MailComposer({
    from, to, cc, bcc, replyTo, subject: str('Subject'), text: str('Text'),
    ...(str('HTML') === '' ? {} : { html: str('HTML') }), headers, attachments,
  });
  const node = composer.compile();
  node.keepBcc = false;
  const raw = await node.build();
  if (raw.byteLength > maxMessageBytes) throw new SendError(413, `the message is ${raw.byteLength} bytes, over this server's limit of ${maxMessageBytes}`);
  return { from: from.address, to: [...to, ...cc, ...bcc].map((p) => p.address), raw };
}
