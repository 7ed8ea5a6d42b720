/**
 * A whole IMAP command (./command-reader.ts) as a tag, a command name and its arguments (RFC 3501 §9): atoms, quoted
 * strings, literals and parenthesised lists. A fetch attribute such as `BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`
 * is one atom: inside `[` … `]` spaces and parentheses belong to it (as Dovecot's parser reads it). One pass, linear.
 */
import type { RawCommand } from './command-reader.js';

export type Token =
  | Readonly<{ kind: 'atom'; value: string }>
  /** A quoted string or a literal: latin1, bytes 1:1. */
  | Readonly<{ kind: 'string'; value: string; literal: boolean }>
  | Readonly<{ kind: 'list'; items: readonly Token[] }>;

export type Parsed =
  | Readonly<{ ok: true; tag: string; name: string; args: readonly Token[] }>
  | Readonly<{ ok: false; tag: string; reason: string }>;

/** Nesting of parentheses allowed (a SEARCH of nested ORs and lists); deeper is refused, not recursed into. */
const MAX_DEPTH = 32;
const ATOM_STOP = new Set([' ', '(', ')', '"', '{']);

class Failure extends Error {}

export function parseCommand(raw: RawCommand): Parsed {
  const lines = raw.lines;
  let li = 0;
  let text = lines[0] ?? '';
  let i = 0;
  const fail = (why: string): never => {
    throw new Failure(why);
  };
  const atEndOfText = (): boolean => i >= text.length;
  /** At the end of one line's text with more to come: the next token is that line's literal. */
  const literalHere = (): boolean => atEndOfText() && li < lines.length - 1;
  const takeLiteral = (): Token => {
    const lit = raw.literals[li];
    li++;
    text = lines[li] ?? '';
    i = 0;
    return { kind: 'string', value: lit === undefined ? '' : lit.toString('latin1'), literal: true };
  };

  const quoted = (): Token => {
    let out = '';
    for (i++; i < text.length; i++) {
      const c = text[i];
      if (c === '\\') {
        const n = text[i + 1];
        if (n !== '\\' && n !== '"') fail('in a quoted string, a backslash escapes only \\ and "');
        out += n;
        i++;
      } else if (c === '"') {
        i++;
        return { kind: 'string', value: out, literal: false };
      } else out += c;
    }
    return fail('unterminated quoted string');
  };

  const atom = (): Token => {
    const start = i;
    while (i < text.length) {
      const c = text[i] ?? '';
      if (c === '[') {
        const close = text.indexOf(']', i);
        if (close === -1) fail('unbalanced [ in an argument');
        i = close + 1;
        continue;
      }
      if (ATOM_STOP.has(c) || c < ' ' || c === '\x7f') break;
      i++;
    }
    if (i === start) fail(`unexpected character ${JSON.stringify(text[i] ?? '')}`);
    return { kind: 'atom', value: text.slice(start, i) };
  };

  const items = (depth: number, inList: boolean): Token[] => {
    const out: Token[] = [];
    for (let guard = 0; guard < 100_000; guard++) {
      if (literalHere()) {
        out.push(takeLiteral());
        continue;
      }
      if (atEndOfText()) {
        if (inList) fail('unbalanced parentheses: a ( is never closed');
        return out;
      }
      const c = text[i];
      if (c === ' ') {
        if (out.length === 0 && !inList) fail('two spaces in a row');
        i++;
        if (atEndOfText() && !literalHere()) fail('trailing space');
        continue;
      }
      if (c === ')') {
        if (!inList) fail('unbalanced parentheses: a ) with no (');
        i++;
        return out;
      }
      if (c === '(') {
        if (depth >= MAX_DEPTH) fail(`lists nested deeper than ${MAX_DEPTH}`);
        i++;
        out.push({ kind: 'list', items: items(depth + 1, true) });
      } else if (c === '"') out.push(quoted());
      else out.push(atom());
      const after = text[i];
      if (after !== undefined && after !== ' ' && after !== ')') fail(`expected a space after an argument, got ${JSON.stringify(after)}`);
    }
    return fail('too many arguments');
  };

  const first = text.indexOf(' ');
  const tag = first === -1 ? text : text.slice(0, first);
  if (tag === '' || /[\x00-\x20(){%*"\\+\x7f-\xff]/.test(tag)) return { ok: false, tag: '*', reason: 'a command starts with a tag: letters and digits, then a space' };
  if (first === -1) return { ok: false, tag, reason: 'a command name is missing after the tag' };
  i = first + 1;
  try {
    const all = items(0, false);
    const [name, ...args] = all;
    if (name === undefined || name.kind !== 'atom') return { ok: false, tag, reason: 'a command name is missing after the tag' };
    // UID FETCH / UID SEARCH …: the UID prefix is part of the name.
    if (name.value.toUpperCase() === 'UID' && args[0]?.kind === 'atom') {
      return { ok: true, tag, name: `UID ${args[0].value.toUpperCase()}`, args: args.slice(1) };
    }
    return { ok: true, tag, name: name.value.toUpperCase(), args };
  } catch (e) {
    if (e instanceof Failure) return { ok: false, tag, reason: e.message };
    throw e;
  }
}
