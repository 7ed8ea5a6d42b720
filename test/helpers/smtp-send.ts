/** Sends mail to our server over real SMTP, the simplified dialect's way (HELO before each message). */
import assert from 'node:assert/strict';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { sendSimplified } from './send.js';

/** A real 16×16 PNG (blue), so an <img> of it has a natural size once loaded. */
export const PNG_16 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGNQTX5NEmIY1TCqYfhqAAB2SXMQ7mVTQgAAAABJRU5ErkJggg==', 'base64');

export async function compose(options: Mail.Options): Promise<Buffer> {
  return new MailComposer(options).compile().build();
}

/** Sends one message the simplified dialect's way and insists on the 250. */
export async function sendRaw(port: number, from: string, to: string, raw: Buffer): Promise<void> {
  assert.deepEqual(await sendSimplified(port, [{ from, to, raw }]), [250]);
}
