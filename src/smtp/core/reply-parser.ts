/**
 * Client side: lines → replies. RFC 5321 §4.2.1: "ddd-text" continues a reply, "ddd text" (or "ddd") ends it, and
 * every line of one reply carries the same code.
 */
import type { Reply } from './reply.js';

export type ParsedLine = { ok: true; reply: Reply | null } | { ok: false; why: string };

const REPLY_LINE = /^([2-5][0-9][0-9])([ -]|$)(.*)$/s;

export class ReplyParser {
  #code = 0;
  #lines: string[] = [];

  /** Feed one line (without its ending); returns the reply once its last line has arrived. */
  push(line: string): ParsedLine {
    const m = REPLY_LINE.exec(line);
    if (!m) return { ok: false, why: `not an SMTP reply line: ${JSON.stringify(line.slice(0, 80))}` };
    const code = Number(m[1]);
    if (this.#lines.length > 0 && code !== this.#code) {
      return { ok: false, why: `reply code changed from ${this.#code} to ${code} within one reply` };
    }
    this.#code = code;
    this.#lines.push(m[3] ?? '');
    if (m[2] === '-') return { ok: true, reply: null };
    const [first, ...rest] = this.#lines as [string, ...string[]];
    this.#lines = [];
    return { ok: true, reply: { code, lines: [first, ...rest] } };
  }
}
