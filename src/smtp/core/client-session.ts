/**
 * Client side, pure: which commands a transaction sends and which reply each expects. The interactive client and
 * the load generator both walk such a plan; the shell does the sending and the timing.
 */
import { domainOf } from './mailbox-syntax.js';
import type { Reply } from './reply.js';

export type PlannedStep = Readonly<
  { label: string; expect: number } & ({ kind: 'command'; line: string } | { kind: 'message' })
>;

/**
 * The simplified dialect's transaction, spec client steps 4.a–4.e: HELO with the sender's domain before every
 * message, one recipient, and the command texts as the spec writes them ("MAIL FROM: <…>", with the space).
 */
export function simplifiedTransaction(from: string, to: string): readonly PlannedStep[] {
  return [
    { label: 'HELO', kind: 'command', line: `HELO ${domainOf(from)}`, expect: 250 },
    { label: 'MAIL FROM', kind: 'command', line: `MAIL FROM: <${from}>`, expect: 250 },
    { label: 'RCPT TO', kind: 'command', line: `RCPT TO: <${to}>`, expect: 250 },
    { label: 'DATA', kind: 'command', line: 'DATA', expect: 354 },
    { label: 'message', kind: 'message', expect: 250 },
  ];
}

/*
 * The standards (RFC 5321) client: what the server offered, and the plan of one mail transaction given that.
 *
 * Theory of operation: the shell says EHLO (or HELO when EHLO is refused), hands the reply to parseEhloReply(), and
 * asks planTransaction() for the transaction. A plan is a list of batches; the shell writes each batch in one write
 * and then reads one reply per step, in order (RFC 2920 §3.1: a pipelining client may send MAIL, RCPT and DATA
 * without waiting, and must then read the replies in sequence). Without PIPELINING each batch holds one step.
 * Everything a plan needs to decide (the message's size, whether it holds 8-bit bytes) is handed in as a value.
 */
export type Capabilities = Readonly<{
  /** False when the server refused EHLO and we said HELO instead: no extension may be used. */
  esmtp: boolean;
  pipelining: boolean;
  chunking: boolean;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  starttls: boolean;
  /** RFC 1870 §4: the largest message the server takes; 0 means "no fixed limit"; null when SIZE is not offered. */
  size: number | null;
  /** AUTH mechanisms offered, upper case (RFC 4954 §3). */
  auth: readonly string[];
  /** The keyword lines as the server sent them (without the first, greeting line). */
  keywords: readonly string[];
}>;

export const HELO_ONLY: Capabilities = Object.freeze({
  esmtp: false, pipelining: false, chunking: false, eightBitMime: false, smtpUtf8: false, starttls: false,
  size: null, auth: [], keywords: [],
});

/** RFC 5321 §4.1.1.1: the first line of a 250 to EHLO is the server's name; each further line is "KEYWORD params". */
export function parseEhloReply(r: Reply): Capabilities {
  const keywords = r.lines.slice(1);
  let caps = { ...HELO_ONLY, esmtp: true, keywords };
  for (const line of keywords) {
    const [keyword = '', ...params] = line.trim().split(/\s+/);
    switch (keyword.toUpperCase()) {
      case 'PIPELINING': caps = { ...caps, pipelining: true }; break;
      case 'CHUNKING': caps = { ...caps, chunking: true }; break;
      case '8BITMIME': caps = { ...caps, eightBitMime: true }; break;
      case 'SMTPUTF8': caps = { ...caps, smtpUtf8: true }; break;
      case 'STARTTLS': caps = { ...caps, starttls: true }; break;
      case 'SIZE': {
        const n = Number(params[0] ?? '0');
        caps = { ...caps, size: Number.isSafeInteger(n) && n >= 0 ? n : 0 };
        break;
      }
      case 'AUTH': caps = { ...caps, auth: [...new Set([...caps.auth, ...params.map((m) => m.toUpperCase())])] }; break;
      default: break; // other extensions are not used by this client
    }
  }
  return caps;
}

/**
 * RFC 5321 §3.2: a server that does not know EHLO answers 500, 502 (or, as our simplified dialect does, 503 "Send
 * hello first"); the client then says HELO. 4xx (421: going away) is not "EHLO unknown" and is an error.
 */
export const ehloRefused = (r: Reply): boolean => r.code >= 500 && r.code < 600;

/** Facts about the message a plan depends on, measured by the shell. */
export type MessageFacts = Readonly<{
  /** Octets of the message as composed (before dot-stuffing): what SIZE= declares (RFC 1870 §3). */
  size: number;
  /** Any octet above 127 anywhere in the message: needs BODY=8BITMIME (RFC 6152). */
  eightBit: boolean;
  /** Any octet above 127 in the header section: needs SMTPUTF8 (RFC 6532). */
  utf8Headers: boolean;
}>;

export function messageFacts(raw: Uint8Array): MessageFacts {
  const headerEnd = indexOfBlankLine(raw);
  let eightBit = false;
  let utf8Headers = false;
  for (let i = 0; i < raw.length; i++) {
    if ((raw[i] ?? 0) > 127) {
      eightBit = true;
      if (i < headerEnd) utf8Headers = true;
      break; // the first 8-bit octet decides both: before the blank line it is in the header
    }
  }
  return { size: raw.length, eightBit, utf8Headers };
}

function indexOfBlankLine(raw: Uint8Array): number {
  for (let i = 0; i + 1 < raw.length; i++) {
    if (raw[i] === 0x0a && (raw[i + 1] === 0x0a || (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a))) return i;
  }
  return raw.length;
}

export type PipeliningPolicy = 'auto' | 'on' | 'off';

/** Where a reply that is not the expected one leaves the transaction: which exit code and which error it maps to. */
export type Stage = 'MAIL' | 'RCPT' | 'DATA' | 'message' | 'BDAT';

/** One command of a plan (or the message text) and the reply codes that let the transaction go on. */
export type WireStep = Readonly<
  | { stage: 'MAIL' | 'RCPT' | 'DATA'; line: string; expect: readonly number[] }
  /** The message text, dot-stuffed and ended by "." (RFC 5321 §4.5.2). */
  | { stage: 'message'; expect: readonly number[] }
  /** RFC 3030 §2: "BDAT size [LAST]" followed at once by exactly `length` octets of the message, unstuffed. */
  | { stage: 'BDAT'; line: string; offset: number; length: number; expect: readonly number[] }
>;

export type TransactionPlan = Readonly<{ batches: readonly (readonly WireStep[])[]; mailParams: readonly string[] }>;

export type PlanErrorCode = 'ERR_NO_RECIPIENT' | 'ERR_BAD_ADDRESS' | 'ERR_NEEDS_8BITMIME' | 'ERR_NEEDS_SMTPUTF8' | 'ERR_TOO_BIG' | 'ERR_NO_CHUNKING';
export type PlanResult = { ok: true; plan: TransactionPlan } | { ok: false; code: PlanErrorCode; message: string };

export type PlanInput = Readonly<{
  caps: Capabilities;
  from: string;
  to: readonly string[];
  message: MessageFacts;
  pipelining: PipeliningPolicy;
  /** Use BDAT (when the server offers CHUNKING) instead of DATA. */
  chunking: boolean;
  /** Largest BDAT chunk; the whole message in one chunk by default. */
  chunkSize?: number;
}>;

const NON_ASCII = /[^\x00-\x7f]/;

export function planTransaction(input: PlanInput): PlanResult {
  const { caps, from, to, message } = input;
  if (to.length === 0) return { ok: false, code: 'ERR_NO_RECIPIENT', message: 'a message needs at least one recipient' };
  for (const address of [from, ...to]) {
    // A line break would end the command early and smuggle a second one; angle brackets would break the path.
    if (/[\r\n<>]/.test(address)) return { ok: false, code: 'ERR_BAD_ADDRESS', message: `the address ${JSON.stringify(address)} holds a line break or an angle bracket` };
  }
  const utf8Envelope = [from, ...to].some((a) => NON_ASCII.test(a));
  const params: string[] = [];
  if (caps.size !== null) {
    if (caps.size > 0 && message.size > caps.size) {
      return { ok: false, code: 'ERR_TOO_BIG', message: `the message is ${message.size} octets and the server takes at most ${caps.size} (SIZE)` };
    }
    params.push(`SIZE=${message.size}`);
  }
  if (message.eightBit) {
    // RFC 6152 §3: 8-bit text needs BODY=8BITMIME; a server offering SMTPUTF8 takes it too (RFC 6531 §3.1).
    if (!caps.eightBitMime) {
      return { ok: false, code: 'ERR_NEEDS_8BITMIME', message: 'the message holds 8-bit octets and the server does not offer 8BITMIME' };
    }
    params.push('BODY=8BITMIME');
  }
  if (utf8Envelope || message.utf8Headers) {
    if (!caps.smtpUtf8) {
      return { ok: false, code: 'ERR_NEEDS_SMTPUTF8', message: 'an address or header holds non-ASCII text and the server does not offer SMTPUTF8' };
    }
    params.push('SMTPUTF8');
  }
  if (input.chunking && !caps.chunking) {
    return { ok: false, code: 'ERR_NO_CHUNKING', message: 'BDAT was asked for and the server does not offer CHUNKING' };
  }

  const mail: WireStep = { stage: 'MAIL', line: [`MAIL FROM:<${from}>`, ...params].join(' '), expect: [250] };
  // RFC 5321 §3.3: 251 "user not local; will forward" is a success too.
  const rcpts: WireStep[] = to.map((a) => ({ stage: 'RCPT', line: `RCPT TO:<${a}>`, expect: [250, 251] }));
  const pipelined = input.pipelining === 'on' || (input.pipelining === 'auto' && caps.pipelining);
  const one = (s: WireStep): WireStep[] => [s];

  if (input.chunking) {
    const chunks = bdatChunks(message.size, input.chunkSize ?? message.size);
    // RFC 3030 §4.2: BDAT may be pipelined; it is sent after the envelope's replies, so a refused envelope sends no data.
    const batches = pipelined ? [[mail, ...rcpts], chunks] : [mail, ...rcpts, ...chunks].map(one);
    return { ok: true, plan: { batches, mailParams: params } };
  }
  const data: WireStep = { stage: 'DATA', line: 'DATA', expect: [354] };
  const text: WireStep = { stage: 'message', expect: [250] };
  // RFC 2920 §3.1: DATA may end a pipelined batch; the message waits for its 354.
  const batches = pipelined ? [[mail, ...rcpts, data], [text]] : [mail, ...rcpts, data, text].map(one);
  return { ok: true, plan: { batches, mailParams: params } };
}

function bdatChunks(size: number, chunkSize: number): WireStep[] {
  const step = Math.max(1, Math.floor(chunkSize));
  const chunks: WireStep[] = [];
  // An empty message is one "BDAT 0 LAST" (RFC 3030 §2).
  for (let offset = 0; offset < size || chunks.length === 0; offset += step) {
    const length = Math.min(step, size - offset);
    const last = offset + length >= size;
    chunks.push({ stage: 'BDAT', line: `BDAT ${length}${last ? ' LAST' : ''}`, offset, length, expect: [250] });
  }
  return chunks;
}

/** RFC 4954 §4 and the LOGIN draft: the exact client lines of each mechanism (base64 of UTF-8). */
export type AuthMechanism = 'PLAIN' | 'LOGIN';

export function authExchanges(mechanism: AuthMechanism, user: string, pass: string): readonly Readonly<{ line: string; shown: string; expect: number }>[] {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  switch (mechanism) {
    case 'PLAIN': // RFC 4616 §2: [authzid] NUL authcid NUL passwd, sent as the initial response
      return [{ line: `AUTH PLAIN ${b64(`\0${user}\0${pass}`)}`, shown: 'AUTH PLAIN ********', expect: 235 }];
    case 'LOGIN':
      return [
        { line: 'AUTH LOGIN', shown: 'AUTH LOGIN', expect: 334 },
        { line: b64(user), shown: '******** (user name)', expect: 334 },
        { line: b64(pass), shown: '******** (password)', expect: 235 },
      ];
    default:
      return mechanism satisfies never;
  }
}

/** PLAIN when offered (one round trip), else LOGIN; null when neither is. */
export function chooseAuth(offered: readonly string[], wanted?: AuthMechanism): AuthMechanism | null {
  if (wanted !== undefined) return offered.includes(wanted) ? wanted : null;
  if (offered.includes('PLAIN')) return 'PLAIN';
  if (offered.includes('LOGIN')) return 'LOGIN';
  return null;
}
