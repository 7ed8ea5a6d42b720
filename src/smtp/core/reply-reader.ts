/**
 * Client side, pure: bytes in arbitrary TCP chunks → whole (multi-line) replies. A LineSplitter and a ReplyParser
 * together, so the client shell only moves bytes; the tests feed it the same bytes split at every offset.
 */
import { LineSplitter } from './line-splitter.js';
import { ReplyParser } from './reply-parser.js';
import type { Reply } from './reply.js';

/** A reply line longer than this is not SMTP (RFC 5321 §4.5.3.1.5 says 512); bounded so a rogue peer can't fill memory. */
export const MAX_REPLY_LINE = 64 * 1024;

export type ReadResult = { ok: true; replies: Reply[] } | { ok: false; replies: Reply[]; why: string };

export class ReplyReader {
  readonly #splitter = new LineSplitter();
  readonly #parser = new ReplyParser();
  #midReply = false;

  /** Feeds a chunk; returns every reply it completes, or why the bytes are not SMTP replies. */
  push(chunk: Buffer): ReadResult {
    this.#splitter.push(chunk);
    const replies: Reply[] = [];
    for (let line = this.#splitter.next(MAX_REPLY_LINE, 'truncate'); line; line = this.#splitter.next(MAX_REPLY_LINE, 'truncate')) {
      // Reply text is UTF-8 where it is not ASCII (RFC 6531 §3.7.4); the splitter hands out latin1.
      const parsed = this.#parser.push(Buffer.from(line.text, 'latin1').toString('utf8'));
      if (!parsed.ok) return { ok: false, replies, why: parsed.why };
      this.#midReply = parsed.reply === null;
      if (parsed.reply !== null) replies.push(parsed.reply);
    }
    return { ok: true, replies };
  }

  /** Octets received after the last complete line: must be zero when TLS starts (RFC 3207 §4.2, no plaintext injection). */
  get pendingBytes(): number {
    return this.#splitter.pendingBytes + (this.#midReply ? 1 : 0);
  }
}
