import type { Line, LineEnding } from './line-splitter.js';
import type { Reply } from './reply.js';

/** What one mail transaction carries: the names the client gave, before any message byte. */
export type Envelope = Readonly<{ helo: string; from: string; to: readonly string[] }>;

/**
 * Theory of operation: a session is always in exactly one Phase, and each carries only what is known by then, so an
 * illegal state (a RCPT without a sender, a message without a recipient) cannot be written down.
 *  await-helo → await-mail → await-rcpt → await-data → in-data → storing → (dialect decides: await-helo / await-mail)
 * QUIT, EOF and timeouts lead to closed from anywhere.
 */
export type Phase =
  | Readonly<{ kind: 'await-helo' }>
  | Readonly<{ kind: 'await-mail'; helo: string }>
  | Readonly<{ kind: 'await-rcpt'; helo: string; from: string }>
  | Readonly<{ kind: 'await-data'; env: Envelope }>
  // prevEnding: how the previous message line ended ('none': mid-line), for dot-unstuffing and the end-of-data rule
  | Readonly<{ kind: 'in-data'; env: Envelope; bytes: number; overflow: boolean; prevEnding: LineEnding }>
  | Readonly<{ kind: 'storing'; env: Envelope }>
  | Readonly<{ kind: 'closed' }>;

export type CommandPhase = Extract<Phase, { kind: `await-${string}` }>;

/** Everything from outside is an input, the clock included: the core has no timers of its own. */
export type Input =
  | Readonly<{ type: 'line'; line: Line }>
  | Readonly<{ type: 'stored'; id: string }>
  | Readonly<{ type: 'store-failed'; reason: string }>
  | Readonly<{ type: 'timeout' }>
  | Readonly<{ type: 'shutdown' }>
  | Readonly<{ type: 'eof' }>;

/** What the shell must do, in order: a reply followed by a close is one list. */
export type Action =
  | Readonly<{ type: 'reply'; reply: Reply }>
  /** Message bytes (latin1, one char per byte): an unstuffed line with the ending it arrived with. */
  | Readonly<{ type: 'data'; bytes: string }>
  /** The message is complete: commit what was streamed, then feed 'stored' or 'store-failed'. */
  | Readonly<{ type: 'deliver'; env: Envelope }>
  /** The message in progress is abandoned (client gone, too big, timed out): drop what was streamed. */
  | Readonly<{ type: 'discard' }>
  | Readonly<{ type: 'close' }>;

export type Step = Readonly<{ phase: Phase; actions: Action[] }>;

/** Per connection, set by the shell: who we are and who is talking. */
export type SessionConfig = Readonly<{
  dialect: Dialect;
  /** The server's name in replies: its IP address for this connection, or the --hostname given. */
  serverName: string;
  clientAddress: string;
  limits: import('./limits.js').Limits;
}>;

/** A dialect is the table of what commands mean; the session core around it handles data, storing and closing. */
export interface Dialect {
  readonly name: 'simplified' | 'smtp';
  greeting(cfg: SessionConfig): Reply;
  /** A complete command line in a command phase. */
  command(phase: CommandPhase, line: Line, cfg: SessionConfig): Step;
  /** Where a session goes once a message is stored (or failed to be). */
  afterMessage(env: Envelope): CommandPhase;
  readonly replies: Readonly<{
    stored: Reply;
    storeFailed: Reply;
    tooBig: Reply;
    timeout: (cfg: SessionConfig) => Reply;
    shutdown: (cfg: SessionConfig) => Reply;
  }>;
}
