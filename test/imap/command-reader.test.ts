/**
 * The IMAP command reader and tokenizer: the same wire bytes fed split at every offset (and one byte at a time) give
 * the same commands, literals (synchronising, LITERAL+) included; limits refuse before buffering and the reader goes
 * on; bad syntax is a refusal with the reason, never a throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandReader, type ReaderEvent } from '../../src/imap/core/command-reader.js';
import { parseCommand, type Parsed, type Token } from '../../src/imap/core/tokens.js';
import { inSet, parseSequenceSet } from '../../src/imap/core/sequence-set.js';

const LIMITS = { maxLineBytes: 8192, maxLiteralBytes: 1000, maxCommandBytes: 64 * 1024 };

/** Events as comparable text: each command parsed, literals shown by content. */
function show(e: ReaderEvent): string {
  if (e.type === 'continue') return '+';
  if (e.type === 'refused') return `refused ${e.tag}: ${e.reason}`;
  return describe1(parseCommand(e.command));
}
function describe1(p: Parsed): string {
  if (!p.ok) return `bad ${p.tag}: ${p.reason}`;
  const tok = (t: Token): string => t.kind === 'atom' ? t.value : t.kind === 'string' ? `${t.literal ? 'L' : 'Q'}${JSON.stringify(t.value)}` : `(${t.items.map(tok).join(' ')})`;
  return `${p.tag} ${p.name}${p.args.map((a) => ` ${tok(a)}`).join('')}`;
}
function feed(pieces: readonly Buffer[], limits = LIMITS): string[] {
  const r = new CommandReader(limits);
  return pieces.flatMap((p) => r.push(p)).map(show);
}

const WIRE = Buffer.from([
  'a1 LOGIN {9}\r\nqa@x.test "pass \\"word\\""\r\n',
  'a2 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>)\r\n',
  'a3 SEARCH OR (FROM "a b" UNSEEN) NOT TO {3+}\r\nx\r\n SINCE 1-Jan-2020\r\n',
  'a4 APPEND INBOX {0}\r\n\r\n',
  'a5 NOOP\n',
].join(''), 'latin1');
const EXPECTED = [
  '+',
  'a1 LOGIN L"qa@x.test" Q"pass \\"word\\""',
  'a2 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>)',
  'a3 SEARCH OR (FROM Q"a b" UNSEEN) NOT TO L"x\\r\\n" SINCE 1-Jan-2020',
  '+',
  'a4 APPEND INBOX L""',
  'a5 NOOP',
];

describe('IMAP command reader', () => {
  it('reads commands with quoted strings, lists, sections and literals of both kinds', () => {
    assert.deepEqual(feed([WIRE]), EXPECTED);
  });

  it('gives the same commands split at every byte boundary, and one byte at a time', () => {
    for (let at = 0; at <= WIRE.length; at++) assert.deepEqual(feed([WIRE.subarray(0, at), WIRE.subarray(at)]), EXPECTED, `split at ${at}`);
    for (let at = 1; at < WIRE.length; at += 7) {
      assert.deepEqual(feed([WIRE.subarray(0, at), WIRE.subarray(at, at + 5), WIRE.subarray(at + 5)]), EXPECTED, `split at ${at} and ${at + 5}`);
    }
    assert.deepEqual(feed([...WIRE].map((b) => Buffer.from([b]))), EXPECTED);
  });

  it('refuses a synchronising literal over the limit without asking for it, and reads the next command', () => {
    assert.deepEqual(feed([Buffer.from('a1 APPEND INBOX {4294967295}\r\na2 NOOP\r\n')]), [
      'refused a1: literal of 4294967295 octets is larger than the limit of 1000', 'a2 NOOP']);
  });

  it('drops a LITERAL+ over the limit octet by octet without keeping it, then reads on', () => {
    const r = new CommandReader(LIMITS);
    const events = [...r.push(Buffer.from('a1 APPEND INBOX {5000+}\r\n')), ...r.push(Buffer.alloc(5000, 0x41)), ...r.push(Buffer.from('\r\na2 NOOP\r\n'))];
    assert.deepEqual(events.map(show), ['refused a1: literal of 5000 octets is larger than the limit of 1000', 'a2 NOOP']);
  });

  it('refuses a line over 8 KB with its tag, and reads the next command', () => {
    const long = Buffer.from(`a1 SEARCH TEXT ${'x'.repeat(9000)}\r\na2 NOOP\r\n`);
    for (const at of [0, 10, 8192, 8200, 9000]) {
      assert.deepEqual(feed([long.subarray(0, at), long.subarray(at)]), ['refused a1: line longer than 8192 octets; send long values as literals', 'a2 NOOP'], `split at ${at}`);
    }
  });

  const bad: readonly (readonly [string, string])[] = [
    ['a1 SEARCH (FROM x', 'bad a1: unbalanced parentheses: a ( is never closed'],
    ['a1 SEARCH FROM x)', 'bad a1: unbalanced parentheses: a ) with no ('],
    ['a1 LOGIN "unterminated', 'bad a1: unterminated quoted string'],
    ['a1 FETCH 1 BODY[HEADER', 'bad a1: unbalanced [ in an argument'],
    ['a1', 'bad a1: a command name is missing after the tag'],
    ['', 'bad *: a command starts with a tag: letters and digits, then a space'],
    ['a1 NOOP ', 'bad a1: trailing space'],
    ['a1 LOGIN "a\\b" c', 'bad a1: in a quoted string, a backslash escapes only \\ and "'],
    [`a1 SEARCH ${'('.repeat(40)}${')'.repeat(40)}`, 'bad a1: lists nested deeper than 32'],
  ];
  for (const [line, want] of bad) {
    it(`refuses ${JSON.stringify(line.slice(0, 30))}: ${want}`, () => {
      assert.deepEqual(feed([Buffer.from(`${line}\r\nb NOOP\r\n`, 'latin1')]), [want, 'b NOOP']);
    });
  }
});

describe('IMAP sequence sets', () => {
  it('reads numbers, ranges and * and matches them', () => {
    const r = parseSequenceSet('1,3:5,9:*');
    assert.ok(r.ok);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 9, 12].map((n) => inSet(r.set, n, 12)), [true, false, true, true, true, false, true, true]);
    const rev = parseSequenceSet('5:3');
    assert.ok(rev.ok && inSet(rev.set, 4, 10));
  });
  for (const [text, reason] of [
    ['0', 'bad sequence set: sequence numbers start at 1, not 0'],
    ['1:*:*', 'bad sequence set: "1:*:*": a range has one colon (a:b)'.replace('bad sequence set: ', '')],
    ['4294967296', 'bad sequence set: 4294967296 is larger than 4294967295'],
    ['1,,2', 'bad sequence set: "" is not a number'],
  ] as const) {
    it(`refuses ${text}`, () => assert.deepEqual(parseSequenceSet(text), { ok: false, reason }));
  }
});
