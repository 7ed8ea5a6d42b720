/**
 * The interactive client of the user's text (client steps 1–5): ask for the server, connect and show the 220, ask for
 * sender, receiver, subject and contents, run the five exchanges printing each reply and its RTT, ask whether to
 * continue, and QUIT. Input and output are handed in, so a pipe, a terminal and a test all drive the same code.
 */
import { checkMailbox } from '../core/mailbox-syntax.js';
import { simplifiedTransaction } from '../core/client-session.js';
import type { Reply } from '../core/reply.js';
import { SmtpReplyError } from '../../errors.js';
import { Recorder, SmtpClient } from './client.js';
import { composeSimpleMessage, headerInjection } from './compose.js';

export type InteractiveIO = Readonly<{
  /** Next line typed (without its ending), or null at the end of input. */
  readLine(): Promise<string | null>;
  /** Prints a prompt (no newline added). */
  prompt(text: string): void;
  /** Prints a whole line. */
  print(line: string): void;
}>;

export type InteractiveOptions = Readonly<{ host?: string; port: number; timeoutMs?: number }>;

/** Ending of the contents, as the text asks the prompt to say. */
export const END_OF_CONTENTS = '.';

export const formatRtt = (ms: number): string => `RTT = ${ms.toFixed(2)} ms`;

const printReply = (io: InteractiveIO, r: Reply): void => {
  for (const [i, text] of r.lines.entries()) io.print(`${r.code}${i === r.lines.length - 1 ? ' ' : '-'}${text}`);
};

/** Returns the process exit code: 0 after QUIT, 1 when the server cannot be reached or goes away. */
export async function runInteractiveClient(io: InteractiveIO, opts: InteractiveOptions): Promise<number> {
  let host = opts.host;
  while (host === undefined || host === '') {
    io.prompt("Enter the SMTP server's host name or IP address: ");
    const answer = await io.readLine();
    if (answer === null) {
      io.print('Error: no server host name given.');
      return 1;
    }
    host = answer.trim();
  }

  // Every reply is printed as it arrives; the five exchanges of a mail are followed by their RTT.
  const shown = { rtt: false };
  const recorder = new Recorder((e) => {
    if (e.type !== 'received') return;
    printReply(io, e.reply);
    if (shown.rtt) io.print(formatRtt(e.rttMs));
  }, { keep: false });

  let client: SmtpClient;
  try {
    client = await SmtpClient.open({ host, port: opts.port, mode: 'simplified', timeoutMs: opts.timeoutMs ?? 60_000 }, recorder);
  } catch (error) {
    io.print(`Error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  try {
    for (;;) {
      const mail = await askForMail(io);
      if (mail === null) break;
      shown.rtt = true;
      await sendMail(io, client, mail).finally(() => (shown.rtt = false));
      if (!(await askYesNo(io, 'Send another message? (y/n): '))) break;
    }
    await client.quit();
    return 0;
  } catch (error) {
    io.print(`Error: ${error instanceof Error ? error.message : String(error)}`);
    client.destroy();
    return 1;
  }
}

type Mail = { from: string; to: string; subject: string; text: string };

/** Step 3: the four inputs; null when the input ends before they are complete. */
async function askForMail(io: InteractiveIO): Promise<Mail | null> {
  const from = await askAddress(io, "Sender's email address: ");
  if (from === null) return null;
  const to = await askAddress(io, "Receiver's email address: ");
  if (to === null) return null;
  let subject: string | null;
  for (;;) {
    io.prompt('Subject: ');
    subject = await io.readLine();
    if (subject === null) return null;
    if (!headerInjection(subject)) break;
    io.print('A subject cannot hold a line break; please type it again.');
  }
  io.print(`Email contents (end with "${END_OF_CONTENTS}" on a line by itself):`);
  const lines: string[] = [];
  for (;;) {
    const line = await io.readLine();
    if (line === null) return null;
    if (line === END_OF_CONTENTS) break;
    lines.push(line);
  }
  return { from, to, subject, text: lines.map((l) => `${l}\r\n`).join('') };
}

async function askAddress(io: InteractiveIO, prompt: string): Promise<string | null> {
  for (;;) {
    io.prompt(prompt);
    const answer = await io.readLine();
    if (answer === null) return null;
    const address = answer.trim();
    const check = checkMailbox(address);
    if (check.ok) return address;
    io.print(`Not a valid email address: ${check.reason}. Please try again.`);
  }
}

async function askYesNo(io: InteractiveIO, prompt: string): Promise<boolean> {
  for (;;) {
    io.prompt(prompt);
    const answer = await io.readLine();
    if (answer === null) return false; // the end of input counts as no
    const word = answer.trim().toLowerCase();
    if (word === 'y' || word === 'yes') return true;
    if (word === 'n' || word === 'no') return false;
    io.print('Please answer y, yes, n or no.');
  }
}

/** Step 4.a–e: the five exchanges of the library's simplified mode; a refusal ends this message, not the session. */
async function sendMail(io: InteractiveIO, client: SmtpClient, mail: Mail): Promise<void> {
  const message = await composeSimpleMessage(mail);
  try {
    await client.send({ from: mail.from, to: [mail.to], raw: message });
  } catch (error) {
    if (!(error instanceof SmtpReplyError)) throw error;
    const step = simplifiedTransaction(mail.from, mail.to).find((s) => (s.kind === 'command' ? s.line : '(message)') === error.command);
    io.print(`The server refused ${step?.label ?? error.command} (expected ${step?.expect ?? '?'}); this message was not sent.`);
  }
}
