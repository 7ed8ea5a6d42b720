/**
 * The server's display of what crosses the wire. The simplified dialect shows every command and message line (the
 * text asks for it); the smtp dialect shows one summary line per session unless --verbose. One writer, one format,
 * every line tagged with the client's address and port so that interleaved clients can be told apart.
 */
import { decodeUtf8Line } from '../core/utf8.js';

export type MessageSummary = Readonly<{ from: string; to: readonly string[]; size: number; result: string }>;

/** One finished session, for the one-line-per-session display and for structured logs. */
export type SessionSummary = Readonly<{
  tag: string;
  client: string;
  helo: string | null;
  tls: boolean;
  authUser: string | null;
  messages: readonly MessageSummary[];
  end: string;
  durationMs: number;
}>;

export type Display = Readonly<{
  connected(tag: string): void;
  disconnected(tag: string, why: string): void;
  command(tag: string, text: string): void;
  /** Message text as it came over the wire (latin1: one char a byte): one line, or a run of lines joined by their line ends. */
  messageText(tag: string, latin1: string): void;
  reply(tag: string, text: string): void;
  info(text: string): void;
  /** An internal error that closed a connection (with its stack); absent: written to stderr. */
  error?(tag: string, text: string): void;
  /** Once per session, when it ends (displays that show every line leave this out). */
  session?(summary: SessionSummary): void;
  /** false: command and reply lines are not shown, so the server need not format them for display. */
  showsLines?: boolean;
}>;

/**
 * Control characters a terminal acts on: C0 but TAB (folded headers use it), DEL, and C1 (0x9b is CSI, as ESC [);
 * and Unicode's bidi controls (ALM, LRM, RLM, LRE…RLO, LRI…PDI), with which a line reads backwards from where a
 * U+202E stands ("gnp.exe" shown as "exe.png").
 */
const TERMINAL_CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const TERMINAL_CONTROL_TEST = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const escaped = (c: string): string => {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * Client text made safe to print: an ESC sequence or a bare CR in a command or message line would otherwise move the
 * cursor, repaint or hide the `[ip:port]` lines of other clients. Shown as `\x1b` (a bidi control as `\u202e`), so the
 * operator still sees it.
 */
export const terminalSafe = (text: string): string => (TERMINAL_CONTROL_TEST.test(text) ? text.replace(TERMINAL_CONTROL, escaped) : text);

export function createConsoleDisplay(write: (line: string) => void): Display {
  return {
    connected: (tag) => write(`[${tag}] connected`),
    disconnected: (tag, why) => write(`[${tag}] disconnected (${why})`),
    command: (tag, text) => write(`[${tag}] C: ${terminalSafe(text)}`),
    messageText: (tag, latin1) => {
      for (const line of latin1.split(/\r?\n/)) write(`[${tag}] M: ${terminalSafe(decodeUtf8Line(line) ?? line)}`);
    },
    reply: (tag, text) => write(`[${tag}] S: ${terminalSafe(text)}`),
    info: (text) => write(text),
  };
}

const nothing = (): void => {};
export const quietDisplay: Display = {
  connected: nothing, disconnected: nothing, command: nothing, messageText: nothing, reply: nothing, info: nothing,
  showsLines: false,
};

/** "[127.0.0.1:5301] helo=x.test tls auth=alice <a@x.test> → <b@y.test>,<c@y.test> 1234 B: 250 2.0.0 OK … | quit 12 ms" */
export function formatSessionSummary(s: SessionSummary): string {
  const who = [s.helo === null ? 'no hello' : `helo=${s.helo}`, ...(s.tls ? ['tls'] : []), ...(s.authUser === null ? [] : [`auth=${s.authUser}`])];
  const mails = s.messages.map((m) => `<${m.from}> → ${m.to.map((t) => `<${t}>`).join(',')} ${m.size} B: ${m.result}`);
  return terminalSafe(`[${s.tag}] ${who.join(' ')}${mails.length === 0 ? ' no mail' : ` ${mails.join('; ')}`} | ${s.end} ${Math.round(s.durationMs)} ms`);
}

/** The smtp dialect's default: one line per session, nothing else. */
export function createSummaryDisplay(write: (line: string) => void): Display {
  return { ...quietDisplay, info: (text) => write(text), session: (s) => write(formatSessionSummary(s)) };
}

/** --verbose for the smtp dialect: every line, and the summary at the end. */
export function createVerboseDisplay(write: (line: string) => void): Display {
  return { ...createConsoleDisplay(write), session: (s) => write(formatSessionSummary(s)) };
}
