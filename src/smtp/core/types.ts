import type { Command } from './command.js';
import type { Line, LineEnding } from './line-splitter.js';
import type { Limits } from './limits.js';
import type { Reply } from './reply.js';

/** MAIL FROM parameters that shape the message (smtp dialect only): RFC 6152 BODY=, RFC 6531 SMTPUTF8. */
export type MailParams = Readonly<{ body?: '7BIT' | '8BITMIME'; smtputf8?: true }>;

/** What one mail transaction carries: the names the client gave, before any message byte. */
export type Envelope = Readonly<{ helo: string; from: string; to: readonly string[] }> & MailParams;

/**
 * Theory of operation: a session is always in exactly one Phase, and each carries only what is known by then, so an
 * illegal state (a RCPT without a sender, a message without a recipient) cannot be written down.
 *  await-helo → await-mail → await-rcpt → await-data → in-data → storing → (dialect decides: await-helo / await-mail)
 * The smtp dialect adds BDAT (await-data → in-chunk ⇄ chunking → storing), AUTH exchanges (auth) and STARTTLS
 * (starting-tls → await-helo, RFC 3207 §4.2); an AUTH answer waits in verifying while the shell checks the password. QUIT, EOF and timeouts lead to closed from anywhere.
 * What outlives a transaction (TLS, the authenticated user, the error count) is the SessionContext beside the phase.
 */
export type Phase =
  | Readonly<{ kind: 'await-helo' }>
  | Readonly<{ kind: 'await-mail'; helo: string }>
  | (Readonly<{ kind: 'await-rcpt'; helo: string; from: string }> & MailParams)
  | Readonly<{ kind: 'await-data'; env: Envelope }>
  // prevEnding: how the previous message line ended ('none': mid-line), for dot-unstuffing and the end-of-data rule
  | Readonly<{ kind: 'in-data'; env: Envelope; bytes: number; overflow: boolean; prevEnding: LineEnding }>
  /** Between BDAT chunks (RFC 3030): `bytes` received so far in earlier chunks. */
  | Readonly<{ kind: 'chunking'; env: Envelope; bytes: number; overflow: boolean }>
  /** Reading the octets of one BDAT chunk: `remaining` of `size` still to come. */
  | Readonly<{ kind: 'in-chunk'; env: Envelope; bytes: number; overflow: boolean; size: number; remaining: number; last: boolean }>
  /** Swallowing the octets of a BDAT that was refused (out of sequence): they are never read as commands. */
  | Readonly<{ kind: 'skip-chunk'; remaining: number; refusal: Reply; resume: DialectPhase }>
  /** A SASL exchange (RFC 4954): the next line is a base64 answer, never a command. */
  | Readonly<{ kind: 'auth'; helo: string; mechanism: 'PLAIN' | 'LOGIN'; user: string | null }>
  /** The credentials went out in a 'verify' action; the shell feeds 'verified'. No line is read meanwhile. */
  | Readonly<{ kind: 'verifying'; helo: string; user: string }>
  /** 220 sent after STARTTLS; the shell does the handshake and feeds 'tls-ready'. No line is read meanwhile. */
  | Readonly<{ kind: 'starting-tls' }>
  | Readonly<{ kind: 'storing'; env: Envelope }>
  | Readonly<{ kind: 'closed' }>;

export type CommandPhase = Extract<Phase, { kind: `await-${string}` }>;
/** Phases in which a line is the dialect's to read. */
export type DialectPhase = CommandPhase | Extract<Phase, { kind: 'chunking' | 'auth' }>;

/** What outlives one transaction. Only the smtp dialect changes it. */
export type SessionContext = Readonly<{
  /** The connection is encrypted (STARTTLS done, or implicit TLS). */
  tls: boolean;
  /** The last hello was EHLO (for the Received: header's "with ESMTP"). */
  esmtp: boolean;
  authUser: string | null;
  /** Bad commands so far; the smtp dialect says 421 and closes at limits.maxErrors. */
  errors: number;
  /**
   * Commands that move no mail (NOOP, RSET, VRFY, EXPN, HELP) since the last message stored; the smtp dialect says 421
   * and closes past limits.maxJunkCommands (Postfix's smtpd_junk_command_limit, also reset by a message received).
   */
  junk: number;
}>;

export const INITIAL_CONTEXT: SessionContext = { tls: false, esmtp: false, authUser: null, errors: 0, junk: 0 };

/** Everything from outside is an input, the clock included: the core has no timers of its own. */
export type Input =
  | Readonly<{ type: 'line'; line: Line }>
  /** Raw octets of a BDAT chunk (latin1), at most the phase's `remaining`. */
  | Readonly<{ type: 'octets'; bytes: string }>
  | Readonly<{ type: 'stored'; id: string }>
  /** `full`: refused for want of room (disk full), answered 452 and the session goes on; else 451. */
  | Readonly<{ type: 'store-failed'; reason: string; full?: boolean }>
  /** The TLS handshake after STARTTLS completed. */
  | Readonly<{ type: 'tls-ready' }>
  /** The answer to a 'verify' action. */
  | Readonly<{ type: 'verified'; ok: boolean }>
  /** The other answer to a 'verify' action: the password was not checked (see LoginRefusal). */
  | Readonly<{ type: 'login-refused'; refusal: LoginRefusal }>
  /** A deadline the shell keeps was reached: silence or a message too long ('idle'), or the session's lifetime ('session'). */
  | Readonly<{ type: 'timeout'; limit?: 'idle' | 'session' }>
  | Readonly<{ type: 'shutdown' }>
  | Readonly<{ type: 'eof' }>;

/** What the shell needs to write the Received: header (RFC 5321 §4.4); it adds the id and the date. */
export type Trace = Readonly<{ helo: string; clientAddress: string; serverName: string; protocol: string }>;

/** What the shell must do, in order: a reply followed by a close is one list. */
export type Action =
  | Readonly<{ type: 'reply'; reply: Reply }>
  /** Message bytes (latin1, one char per byte): an unstuffed line with the ending it arrived with. */
  | Readonly<{ type: 'data'; bytes: string }>
  /** The message is complete: commit what was streamed (after a Received: header when `trace` is given), then feed 'stored' or 'store-failed'. */
  | Readonly<{ type: 'deliver'; env: Envelope; trace?: Trace }>
  /** The message in progress is abandoned (client gone, too big, timed out, reset): drop what was streamed. */
  | Readonly<{ type: 'discard' }>
  /** Drop every byte read but not yet fed (RFC 3207 §4.2, CVE-2011-0411), do the TLS handshake, then feed 'tls-ready'. */
  | Readonly<{ type: 'starttls' }>
  /** Check these credentials (the shell holds the verifier; it may take its time), then feed 'verified'. */
  | Readonly<{ type: 'verify'; user: string; password: string }>
  | Readonly<{ type: 'close' }>;

export type Step = Readonly<{ phase: Phase; actions: Action[]; ctx?: SessionContext }>;

/** Whether and how AUTH is offered: all the core knows of it (it holds no secrets and checks no password). */
export type AuthOffer = Readonly<{
  /** Offer AUTH without TLS (--auth-insecure). */
  allowInsecure: boolean;
}>;

/**
 * A login the shell did not check: `throttled`, this client failed too often or sends too many at once (the session
 * says 421 and closes); `busy`, no room to check now (454, the session goes on). The shell knows the clock, so it
 * says when to come back.
 */
export type LoginRefusal = Readonly<{ refused: 'throttled' | 'busy'; retryAfterSeconds: number }>;

/**
 * How the shell checks a password on the core's 'verify' action: at once, or asynchronously (bcrypt, a service).
 * `client` is the address the login came from (the one failures are counted by).
 */
export type Authenticator = AuthOffer & Readonly<{
  verify(user: string, password: string, client: string): boolean | LoginRefusal | Promise<boolean | LoginRefusal>;
}>;

/** Per connection, set by the shell: who we are and who is talking. */
export type SessionConfig = Readonly<{
  dialect: Dialect;
  /** The server's name in replies: its IP address for this connection, or the --hostname given. */
  serverName: string;
  clientAddress: string;
  limits: Limits;
  /** The shell can upgrade this connection with STARTTLS. */
  starttls?: boolean;
  auth?: AuthOffer;
}>;

/** A dialect is the table of what commands mean; the session core around it handles data, storing and closing. */
export interface Dialect {
  readonly name: 'simplified' | 'smtp';
  greeting(cfg: SessionConfig): Reply;
  /** A command line (parsed once, by the session core: see commandOf) in a phase where commands are the dialect's to read. */
  command(phase: Exclude<DialectPhase, { kind: 'auth' }>, cmd: Command, cfg: SessionConfig, ctx: SessionContext): Step;
  /** A line answering an AUTH challenge (phase 'auth', which only a dialect that offers AUTH enters): not a command. */
  authAnswer?(phase: Extract<Phase, { kind: 'auth' }>, line: Line, cfg: SessionConfig, ctx: SessionContext): Step;
  /** Where a session goes once a message is stored (or failed to be). */
  afterMessage(env: Envelope): CommandPhase;
  /** The shell's answer to a 'verify' action (only a dialect that emits one needs this). */
  verified?(phase: Extract<Phase, { kind: 'verifying' }>, answer: boolean | LoginRefusal, cfg: SessionConfig, ctx: SessionContext): Step;
  /** What the Received: header says; a dialect without it stores messages as they came. */
  trace?(env: Envelope, cfg: SessionConfig, ctx: SessionContext): Trace;
  readonly replies: Readonly<{
    stored: Reply | ((id: string) => Reply);
    storeFailed: Reply;
    /** The store has no room for the message (RFC 3463 X.3.1, mail system full). */
    storeFull: Reply;
    tooBig: Reply;
    /** A non-LAST BDAT chunk was taken in (RFC 3030 §2). */
    chunk?: (octets: number) => Reply;
    timeout: (cfg: SessionConfig) => Reply;
    /** The session reached limits.maxSessionMs. */
    lifetime: (cfg: SessionConfig) => Reply;
    shutdown: (cfg: SessionConfig) => Reply;
  }>;
}
