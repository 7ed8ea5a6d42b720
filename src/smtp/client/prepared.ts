/**
 * A message encoded once for the wire and sent many times (the load generator's lean path). send() does this work
 * for every message it is given as bytes or text; a PreparedMessage carries the results, so a caller that sends the
 * same message N times pays for the line-end normalization, the 8-bit scan and the dot-stuffing once, not N times.
 */
import { messageFacts, type MessageFacts } from '../core/client-session.js';
import { encodeDataSection, toCrlf } from '../core/dot-stuffing.js';

export class PreparedMessage {
  /** The message with CRLF line ends (RFC 5321 §2.3.8): what SIZE= counts and what BDAT sends. */
  readonly raw: Buffer;
  /** The DATA section: dot-stuffed and ended by "." (RFC 5321 §4.5.2). */
  readonly dataSection: Buffer;
  readonly facts: MessageFacts;

  private constructor(raw: Buffer) {
    this.raw = raw;
    this.dataSection = Buffer.from(encodeDataSection(raw.toString('latin1')), 'latin1');
    this.facts = messageFacts(raw);
  }

  /** Bytes are sent as they are (latin1 keeps every octet); text is encoded as UTF-8. Line ends become CRLF. */
  static from(raw: Buffer | string): PreparedMessage {
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    return new PreparedMessage(Buffer.from(toCrlf(bytes.toString('latin1')), 'latin1'));
  }
}
