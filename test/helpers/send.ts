/** Sends messages to our simplified server over a real socket, the way the interactive client does. */
import { SmtpConnection } from '../../src/client/connection.js';
import { simplifiedTransaction } from '../../src/protocol/client-session.js';
import { encodeDataSection } from '../../src/protocol/message.js';

export type Outgoing = Readonly<{ from: string; to: string; raw: Buffer }>;

/** Sends each message in turn on one connection; resolves with the final reply code of each (250 when stored). */
export async function sendSimplified(port: number, messages: readonly Outgoing[]): Promise<number[]> {
  const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port, timeoutMs: 10_000 });
  const codes: number[] = [];
  try {
    for (const m of messages) {
      for (const step of simplifiedTransaction(m.from, m.to)) {
        const x = step.kind === 'command'
          ? await connection.command(step.line)
          : await connection.send(step.label, Buffer.from(encodeDataSection(m.raw.toString('latin1')), 'latin1'));
        if (x.reply.code !== step.expect || step.kind === 'message') {
          codes.push(x.reply.code);
          break;
        }
      }
    }
    await connection.command('QUIT');
  } finally {
    connection.close();
  }
  return codes;
}
