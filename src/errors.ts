/** Errors: replies are values; exceptions mean misuse, an I/O failure, or (client side) a server that said no. */
import type { Reply } from './smtp/core/reply.js';

export class MailwireError extends Error {
  override name = 'MailwireError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Client side: the server answered a command with a reply other than the one expected (go-smtp's SMTPError). */
export class SmtpReplyError extends MailwireError {
  override name = 'SmtpReplyError' as const;
  readonly command: string;
  readonly reply: Reply;
  constructor(command: string, reply: Reply) {
    super('ERR_SMTP_REPLY', `${command} → ${reply.code} ${reply.lines.join(' ')}`);
    this.command = command;
    this.reply = reply;
  }
  get temporary(): boolean {
    return Math.floor(this.reply.code / 100) === 4;
  }
}

/** Client side: the connection could not be made, or ended before the reply. */
export class SmtpConnectionError extends MailwireError {
  override name = 'SmtpConnectionError' as const;
}

/** Client side: the TLS handshake failed (an untrusted certificate included), or STARTTLS was asked for and not offered. */
export class SmtpTlsError extends MailwireError {
  override name = 'SmtpTlsError' as const;
}

/**
 * Client side: the message or the options need what the server does not offer (8BITMIME, SMTPUTF8, CHUNKING, an AUTH
 * mechanism) or the message is over its SIZE. Raised before the command that would have needed it is sent.
 */
export class SmtpCapabilityError extends MailwireError {
  override name = 'SmtpCapabilityError' as const;
}

/** A command line that cannot work as given (flags that exclude each other, a file that cannot be read): exit 2 with the reason. */
export class UsageError extends MailwireError {
  override name = 'UsageError' as const;
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}
