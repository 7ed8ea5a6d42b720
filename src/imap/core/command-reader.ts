/**
 * Reading IMAP commands off the wire (RFC 3501 §2.2, §4; LITERAL+ / LITERAL- of RFC 7888), pure: bytes in, whole
 * commands (or refusals) out, whatever the TCP chunking.
 *
 * Theory of operation. A command is one or more lines: a line that ends with a literal marker `{n}` (synchronising:
 * the server must first say "+ …"), `{n+}` (non-synchronising, LITERAL+) is followed by exactly n octets of literal
 * data and then the rest of the command, which may again end with a marker. The reader keeps the lines' text and the
 * literals apart and hands the whole command to the tokenizer (./tokens.ts) once its last line has arrived.
 *
 * Limits are checked before anything is buffered: a literal larger than `maxLiteralBytes` is refused when its marker
 * is read (a synchronising one is never asked for; the octets of a non-synchronising one are counted and dropped, not
 * kept); a line longer than `maxLineBytes` is dropped up to its end. Either way the command gets a tagged BAD with the
 * reason and the reader goes on with the next command.
 */
const LF = 0x0a;
const CR = 0x0d;

export type ReaderLimits = Readonly<{ maxLineBytes: number; maxLiteralBytes: number; maxCommandBytes: number }>;

/** A whole command: its lines' text (latin1, without CRLF and without their literal markers) and its literals. */
export type RawCommand = Readonly<{ lines: readonly string[]; literals: readonly Buffer[] }>;

export type ReaderEvent =
  | Readonly<{ type: 'command'; command: RawCommand }>
  /** A synchronising literal may be sent: answer "+ …". */
  | Readonly<{ type: 'continue' }>
  /** The command was refused before it was whole; `tag` is its first word ('*' when there was none). */
  | Readonly<{ type: 'refused'; tag: string; reason: string }>;

type State =
  | { kind: 'line' }
  | { kind: 'literal'; remaining: number; parts: Buffer[] }
  /** Dropping: `octets` more bytes of a refused literal, then the rest of its line. */
  | { kind: 'drop-literal'; octets: number; tag: string; reason: string }
  | { kind: 'drop-line'; tag: string; reason: string };

/** `{123}`, `{123+}`, `~{123}` (RFC 3516 literal8) at the end of a line. */
const MARKER = /~?\{(\d{1,10})(\+?)\}$/;

export class CommandReader {
  #buf: Buffer = Buffer.alloc(0);
  #state: State = { kind: 'line' };
  #lines: string[] = [];
  #literals: Buffer[] = [];
  #size = 0;
  readonly #limits: ReaderLimits;

  constructor(limits: ReaderLimits) {
    this.#limits = limits;
  }

  /** Is a command partly read (lines or a literal waiting for the rest)? */
  get midCommand(): boolean {
    return this.#lines.length > 0 || this.#state.kind !== 'line';
  }

  push(chunk: Buffer): ReaderEvent[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: ReaderEvent[] = [];
    for (let guard = 0; guard < 1_000_000; guard++) {
      const e = this.#next();
      if (e === null) break;
      if (e !== 'progress') out.push(e);
    }
    return out;
  }

  #next(): ReaderEvent | 'progress' | null {
    const s = this.#state;
    const buf = this.#buf;
    if (buf.length === 0) return null;
    switch (s.kind) {
      case 'literal': {
        const n = Math.min(s.remaining, buf.length);
        s.parts.push(buf.subarray(0, n));
        this.#buf = buf.subarray(n);
        s.remaining -= n;
        if (s.remaining > 0) return null;
        this.#literals.push(Buffer.concat(s.parts));
        this.#state = { kind: 'line' };
        return 'progress';
      }
      case 'drop-literal': {
        const n = Math.min(s.octets, buf.length);
        this.#buf = buf.subarray(n);
        s.octets -= n;
        if (s.octets > 0) return null;
        this.#state = { kind: 'drop-line', tag: s.tag, reason: s.reason };
        return 'progress';
      }
      case 'drop-line': {
        const lf = buf.indexOf(LF);
        if (lf === -1) {
          this.#buf = Buffer.alloc(0);
          return null;
        }
        const text = buf.toString('latin1', 0, lf);
        this.#buf = buf.subarray(lf + 1);
        // The dropped line may itself announce another literal of the refused command: drop that too.
        const m = MARKER.exec(text.endsWith('\r') ? text.slice(0, -1) : text);
        if (m !== null && m[2] === '+') {
          this.#state = { kind: 'drop-literal', octets: Number(m[1]), tag: s.tag, reason: s.reason };
          return 'progress';
        }
        this.#state = { kind: 'line' };
        return this.#refuse(s.tag, s.reason);
      }
      case 'line':
        return this.#line();
      default:
        return null;
    }
  }

  #refuse(tag: string, reason: string): ReaderEvent {
    this.#lines = [];
    this.#literals = [];
    this.#size = 0;
    return { type: 'refused', tag, reason };
  }

  #tag(firstLine: string): string {
    const first = (this.#lines[0] ?? firstLine).split(' ', 1)[0] ?? '';
    return /^[\x21-\x7e]{1,64}$/.test(first) && !/[(){%*"\\+]/.test(first) ? first : '*';
  }

  #line(): ReaderEvent | 'progress' | null {
    const buf = this.#buf;
    const lf = buf.indexOf(LF);
    const max = this.#limits.maxLineBytes;
    if (lf === -1 ? buf.length > max : lf > max + 1) {
      const head = buf.toString('latin1', 0, Math.min(buf.length, 80));
      this.#state = { kind: 'drop-line', tag: this.#tag(head), reason: `line longer than ${max} octets; send long values as literals` };
      return 'progress';
    }
    if (lf === -1) return null;
    const end = lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf;
    let text = buf.toString('latin1', 0, end);
    this.#buf = buf.subarray(lf + 1);
    const m = MARKER.exec(text);
    if (m === null) {
      this.#lines.push(text);
      const command = { lines: this.#lines, literals: this.#literals };
      this.#lines = [];
      this.#literals = [];
      this.#size = 0;
      return { type: 'command', command };
    }
    const octets = Number(m[1]);
    const sync = m[2] !== '+';
    text = text.slice(0, m.index);
    this.#size += text.length + octets;
    const tag = this.#tag(text);
    const tooBig = octets > this.#limits.maxLiteralBytes ? `literal of ${octets} octets is larger than the limit of ${this.#limits.maxLiteralBytes}`
      : this.#size > this.#limits.maxCommandBytes ? `command larger than ${this.#limits.maxCommandBytes} octets` : null;
    if (tooBig !== null) {
      if (sync) return this.#refuse(tag, tooBig); // never asked for: the client sends none of it
      this.#lines.push(text);
      this.#state = { kind: 'drop-literal', octets, tag, reason: tooBig };
      return 'progress';
    }
    this.#lines.push(text);
    this.#state = { kind: 'literal', remaining: octets, parts: [] };
    return sync ? { type: 'continue' } : 'progress';
  }
}
