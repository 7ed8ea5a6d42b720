/**
 * Theory of operation: bytes arrive in arbitrary TCP chunks; SMTP is line based. The splitter reassembles lines and
 * reports how each ended, because the ending matters: only CRLF "." CRLF ends a message (RFC 5321 §4.1.1.4), and a
 * bare-LF "." must stay message text or the server is open to SMTP smuggling.
 *
 * Lines are returned as latin1 strings so that every byte maps to one char and back (bytes are kept 1:1; decoding to
 * UTF-8 is the reader's choice). Memory is bounded by the caller's limit: a longer line is never held whole.
 *  - mode 'truncate' (commands): the excess is dropped up to the line end, and the line is returned once, with
 *    `overflow: true`, so the session answers it once.
 *  - mode 'split' (message text): the line is returned in pieces of at most the limit, each but the last with
 *    ending 'none', so a long line streams through without being refused.
 */
export type LineEnding = 'crlf' | 'lf' | 'none';
export type Line = Readonly<{ text: string; ending: LineEnding; overflow: boolean }>;
export type OverlongMode = 'truncate' | 'split';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.', 'latin1');
const EMPTY = Buffer.alloc(0);
/** The most message text returned in one piece by nextText(). */
export const TEXT_RUN_BYTES = 64 * 1024;

export class LineSplitter {
  #buf: Buffer = EMPTY;
  /** Set while dropping the rest of an over-long command line; holds the prefix to report at its end. */
  #discarding: string | null = null;
  /** Whether the last byte dropped was a CR, so a CRLF split across chunks is still seen as CRLF. */
  #droppedCr = false;

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
  }

  /** Bytes received but not yet returned as lines (a partial line waiting for its end). */
  get pendingBytes(): number {
    return this.#buf.length;
  }

  /**
   * Up to `max` raw bytes (latin1), whatever they are, or null when none are buffered: a BDAT chunk (RFC 3030) is
   * octets, not lines. Called only between lines, never while an over-long line is being dropped.
   */
  take(max: number): string | null {
    const buf = this.#buf;
    if (buf.length === 0 || max <= 0) return null;
    const n = Math.min(max, buf.length);
    const out = buf.toString('latin1', 0, n);
    this.#buf = n === buf.length ? EMPTY : buf.subarray(n);
    return out;
  }

  /**
   * Message text, fast: a run of whole lines in one piece (up to TEXT_RUN_BYTES), its `text` holding the line ends
   * of all but the last line, whose ending is `ending`. The run stops before any line that starts with '.', so such
   * a line (dot-stuffed text, or the end of data) always comes alone, as next(maxLineBytes, 'split') would return it;
   * that is also what is returned when no whole line is waiting. Per line, the session then has nothing to do but
   * count: this is how a 100 KB message costs a few calls instead of 1,300.
   */
  nextText(maxLineBytes: number): Line | null {
    const buf = this.#buf;
    if (buf.length === 0 || buf[0] === DOT || this.#discarding !== null) return this.next(maxLineBytes, 'split');
    const dotLine = buf.indexOf(LF_DOT);
    const limit = Math.min(dotLine === -1 ? buf.length : dotLine + 1, TEXT_RUN_BYTES);
    const lf = limit === 0 ? -1 : buf.lastIndexOf(LF, limit - 1);
    if (lf === -1) return this.next(maxLineBytes, 'split');
    const crlf = lf > 0 && buf[lf - 1] === CR;
    const text = buf.toString('latin1', 0, crlf ? lf - 1 : lf);
    this.#buf = lf + 1 === buf.length ? EMPTY : buf.subarray(lf + 1);
    return { text, ending: crlf ? 'crlf' : 'lf', overflow: false };
  }

  /**
   * The next complete line, or null when more bytes are needed. `maxBytes` counts the line's text without its ending.
   * The limit and mode can change between calls: the caller passes those of the session's current phase.
   */
  next(maxBytes: number, mode: OverlongMode): Line | null {
    const buf = this.#buf;
    if (buf.length === 0) return null;
    const lf = buf.indexOf(LF);

    if (this.#discarding !== null) {
      if (lf === -1) {
        this.#droppedCr = buf[buf.length - 1] === CR;
        this.#buf = EMPTY;
        return null;
      }
      const text = this.#discarding;
      const crlf = lf > 0 ? buf[lf - 1] === CR : this.#droppedCr;
      this.#discarding = null;
      this.#buf = buf.subarray(lf + 1);
      return { text, ending: crlf ? 'crlf' : 'lf', overflow: true };
    }

    // A CR LF pair counts as the line's end, not its text, so the limit is checked on the text alone.
    const textEnd = lf === -1 ? buf.length : lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
    if (textEnd > maxBytes || (lf === -1 && buf.length > maxBytes + 1)) {
      if (mode === 'split') {
        // Keep a trailing CR with the next piece, so "...\r" + "\n" is still seen as CRLF.
        const cut = maxBytes > 1 && buf[maxBytes - 1] === CR ? maxBytes - 1 : maxBytes;
        const text = buf.toString('latin1', 0, cut);
        this.#buf = buf.subarray(cut);
        return { text, ending: 'none', overflow: false };
      }
      const prefix = buf.toString('latin1', 0, maxBytes);
      if (lf === -1) {
        this.#discarding = prefix;
        this.#droppedCr = buf[buf.length - 1] === CR;
        this.#buf = EMPTY;
        return null;
      }
      this.#buf = buf.subarray(lf + 1);
      return { text: prefix, ending: textEnd === lf ? 'lf' : 'crlf', overflow: true };
    }
    if (lf === -1) return null;
    const text = buf.toString('latin1', 0, textEnd);
    this.#buf = lf + 1 === buf.length ? EMPTY : buf.subarray(lf + 1);
    return { text, ending: textEnd === lf ? 'lf' : 'crlf', overflow: false };
  }
}
