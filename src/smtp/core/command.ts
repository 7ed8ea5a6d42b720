/**
 * Parsing one command line into a typed Command. Parsing is dialect-neutral and lenient about spacing and letter case
 * (telnet and nc users type these by hand); each dialect then decides what a command means in its current phase.
 * A parse failure is a value (`INVALID`), never a throw.
 */
import { decodeUtf8Line } from './utf8.js';

export type PathCommand = Readonly<{
  /** The mailbox between the angle brackets, or the bare token when the client sent none ("MAIL FROM: a@b"). */
  path: string;
  bracketed: boolean;
  /** ESMTP parameters after the path, as written ("SIZE=100 BODY=8BITMIME"); '' when none. */
  params: string;
}>;

export type SimpleVerb = 'DATA' | 'RSET' | 'NOOP' | 'QUIT' | 'VRFY' | 'EXPN' | 'HELP' | 'STARTTLS' | 'AUTH' | 'BDAT';

export type Command =
  | Readonly<{ verb: 'HELO' | 'EHLO'; domain: string }>
  | (Readonly<{ verb: 'MAIL' }> & PathCommand)
  | (Readonly<{ verb: 'RCPT' }> & PathCommand)
  | Readonly<{ verb: SimpleVerb; arg: string }>
  | Readonly<{ verb: 'UNKNOWN'; said: string }>
  | Readonly<{ verb: 'INVALID'; why: InvalidReason; said: string }>;

export type InvalidReason =
  | 'too-long' // longer than the command line limit (RFC 5321 §4.5.3.1.4): never parsed
  | 'empty'
  | 'nul-byte'
  | 'bad-utf8'
  | 'mail-syntax' // MAIL without "FROM:" or without a path
  | 'rcpt-syntax'; // RCPT without "TO:" or without a path

const SIMPLE_VERBS: ReadonlySet<string> = new Set<SimpleVerb>([
  'DATA', 'RSET', 'NOOP', 'QUIT', 'VRFY', 'EXPN', 'HELP', 'STARTTLS', 'AUTH', 'BDAT',
]);

/** A command line as every dialect reads it: an over-long line is 'too-long' and never parsed. */
export function commandOf(line: Readonly<{ text: string; overflow: boolean }>): Command {
  return line.overflow ? { verb: 'INVALID', why: 'too-long', said: '' } : parseCommand(line.text);
}

export function parseCommand(latin1Line: string): Command {
  if (latin1Line.includes('\0')) return { verb: 'INVALID', why: 'nul-byte', said: latin1Line.replaceAll('\0', '\\0') };
  const line = decodeUtf8Line(latin1Line);
  if (line === null) return { verb: 'INVALID', why: 'bad-utf8', said: latin1Line };
  const trimmed = line.trim();
  if (trimmed === '') return { verb: 'INVALID', why: 'empty', said: line };

  const space = trimmed.search(/\s/);
  const verb = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : trimmed.slice(space).trim();

  switch (verb) {
    case 'HELO':
    case 'EHLO':
      return { verb, domain: rest };
    case 'MAIL':
      return parsePathCommand('MAIL', /^FROM\s*:/i, rest, trimmed);
    case 'RCPT':
      return parsePathCommand('RCPT', /^TO\s*:/i, rest, trimmed);
    default:
      if (SIMPLE_VERBS.has(verb)) return { verb: verb as SimpleVerb, arg: rest };
      return { verb: 'UNKNOWN', said: trimmed };
  }
}

function parsePathCommand(verb: 'MAIL' | 'RCPT', keyword: RegExp, rest: string, said: string): Command {
  const why = verb === 'MAIL' ? 'mail-syntax' : 'rcpt-syntax';
  const match = keyword.exec(rest);
  if (!match) return { verb: 'INVALID', why, said };
  const arg = rest.slice(match[0].length).trimStart();
  if (arg.startsWith('<')) {
    const close = closingBracket(arg);
    if (close === -1) return { verb: 'INVALID', why, said };
    return { verb, path: arg.slice(1, close), bracketed: true, params: arg.slice(close + 1).trim() };
  }
  if (arg === '') return { verb: 'INVALID', why, said };
  const space = arg.search(/\s/);
  return space === -1
    ? { verb, path: arg, bracketed: false, params: '' }
    : { verb, path: arg.slice(0, space), bracketed: false, params: arg.slice(space).trim() };
}

/** Index of the '>' closing a path that starts with '<', skipping quoted local parts ("a>b"@x). */
function closingBracket(arg: string): number {
  let quoted = false;
  for (let i = 1; i < arg.length; i++) {
    const c = arg[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '>' && !quoted) return i;
  }
  return -1;
}
