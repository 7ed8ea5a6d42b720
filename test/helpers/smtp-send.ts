/** Sends mail to our server over real SMTP, the simplified dialect's way (HELO before each message). */
import assert from 'node:assert/strict';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { SmtpConnection } from '../../src/client/connection.js';
import { simplifiedTransaction } from '../../src/protocol/client-session.js';
import { encodeDataSection } from '../../src/protocol/message.js';

/** A real 16×16 PNG (blue), so an <img> of it has a natural size once loaded. */
export const PNG_16 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGNQTX5NEmIY1TCqYfhqAAB2SXMQ7mVTQgAAAABJRU5ErkJggg==', 'base64');

export async function compose(options: Mail.Options): Promise<Buffer> {
  return new MailComposer(options).compile().build();
}

export async function sendRaw(port: number, from: string, to: string, raw: Buffer): Promise<void> {
  const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  try {
    for (const step of simplifiedTransaction(from, to)) {
      const ex = step.kind === 'command'
        ? await connection.command(step.line)
        : await connection.send('message', Buffer.from(encodeDataSection(raw.toString('latin1')), 'latin1'));
      assert.equal(ex.reply.code, step.expect, `${step.label}: ${ex.reply.code} ${ex.reply.lines.join(' ')}`);
    }
    await connection.command('QUIT');
  } finally {
    connection.close();
  }
}
