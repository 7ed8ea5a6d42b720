/** Sends messages to our simplified server over a real socket, with the client library's simplified mode. */
import { SmtpClient, SmtpReplyError } from '../../src/smtp/client/index.js';

export type Outgoing = Readonly<{ from: string; to: string; raw: Buffer }>;

/** Sends each message in turn on one connection; resolves with the final reply code of each (250 when stored). */
export async function sendSimplified(port: number, messages: readonly Outgoing[]): Promise<number[]> {
  const client = await SmtpClient.open({ host: '127.0.0.1', port, mode: 'simplified', timeoutMs: 10_000 });
  const codes: number[] = [];
  try {
    for (const m of messages) {
      try {
        codes.push((await client.send({ from: m.from, to: [m.to], raw: m.raw })).reply.code);
      } catch (e) {
        if (!(e instanceof SmtpReplyError)) throw e;
        codes.push(e.reply.code);
      }
    }
    await client.quit();
  } finally {
    client.destroy();
  }
  return codes;
}
