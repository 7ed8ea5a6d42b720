/**
 * Property-based fuzzing of the pure IMAP and POP3 sessions, siblings of the SMTP core's (test/smtp/core/fuzz.test.ts):
 * random command sequences and random bytes (control bytes, CR and LF alone included), cut into packets at random
 * offsets. Invariants checked for every case:
 *  - no exception escapes a core (a misused answer would throw: the fake shell answers exactly as the real one);
 *  - the bytes sent and the effects are the same whatever the packet cuts (the cores are byte-split invariant);
 *  - unless the session closed, a well-formed command sent after the garbage (after the lines that end an open
 *    line, an AUTHENTICATE continuation and an IDLE) is answered OK: the session lives on.
 * `npm test` runs a bounded number of cases from a fixed seed; FUZZ_RUNS=100000 (and FUZZ_SEED) run longer ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { converse } from './session-driver.js';
import { LineSplitter } from '../../src/smtp/core/line-splitter.js';
import { Pop3Session, type Action as Pop3Action } from '../../src/pop3/core/session.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261207);

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
// No '{': a literal marker would make the recovery lines literal data (literals come whole from the vocabulary).
const junkByte = fc.constantFrom('\r', '\n', '\0', '\x1b', '\x7f', '\t', ' ', '(', ')', '"', '\\', '*', '%', '[', ']', '<', '>', ':', '\xff', 'a', '9');
const junk = fc.array(fc.oneof(junkByte, fc.string({ maxLength: 6 }).map((s) => s.replace(/\{/g, '')), fc.integer({ min: 0, max: 255 }).filter((n) => n !== 0x7b).map((n) => String.fromCharCode(n))), { maxLength: 10 })
  .map((parts) => parts.join(''));
const ending = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '');

/** Cuts `bytes` into packets at random offsets. */
const cutsOf = (n: number, cuts: readonly number[]): number[] => [...new Set(cuts.map((c) => (n === 0 ? 0 : c % (n + 1))))].sort((a, b) => a - b);
function cut(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of cutsOf(bytes.length, cuts)) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out;
}

const imapLine = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a LOGIN qa@x.test pw', 'a LOGIN qa@x.test nope', 'b LOGIN qa@x.test {2}\r\npw', 'b LOGIN {9+}\r\nqa@x.test pw',
    `c AUTHENTICATE PLAIN ${b64('\0qa@x.test\0pw')}`, 'c AUTHENTICATE PLAIN', b64('\0qa@x.test\0pw'), '*', 'd SELECT INBOX', 'd EXAMINE INBOX', 'd SELECT Trash',
    'e FETCH 1:* (UID FLAGS)', 'e FETCH 1 BODY[]', 'e UID FETCH 1:* (BODY.PEEK[HEADER] RFC822.SIZE ENVELOPE)', 'e FETCH 2 (BODY[TEXT]<0.5>)', 'f SEARCH BODY needle',
    'f UID SEARCH OR SEEN (FROM a NOT DELETED)', 'f SEARCH TEXT x HEADER Subject first', 'g STORE 1:* +FLAGS (\\Deleted)', 'g UID STORE 5 FLAGS.SILENT (\\Seen)',
    'h EXPUNGE', 'h UID EXPUNGE 3:5', 'i CLOSE', 'i UNSELECT', 'j IDLE', 'DONE', 'k NOOP', 'k CAPABILITY', 'l STARTTLS', 'm LIST "" *', 'n STATUS INBOX (MESSAGES UNSEEN UIDNEXT)',
    'o LOGOUT', 'p ID NIL', 'q NAMESPACE', 'r COPY 1 x', 's ENABLE X', '') },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('t FETCH', 't UID FETCH', 't STORE', 't SEARCH', 't LOGIN', 't SELECT', 't LIST', 't STATUS INBOX', 'u'), junk).map(([v, j]) => `${v} ${j}`) },
  { weight: 2, arbitrary: junk },
);
const imapGarbage = fc.array(fc.tuple(imapLine, ending).map(([l, e]) => l + e), { maxLength: 20 }).map((ls) => Buffer.from(ls.join(''), 'latin1'));

describe('IMAP session core, fuzzed', () => {
  it('never throws, is split-invariant, and answers a well-formed command after any garbage', () => {
    fc.assert(fc.property(imapGarbage, fc.array(fc.nat(), { maxLength: 6 }), (garbage, cuts) => {
      // One packet each: a STARTTLS ended by the first drops only the rest of its own packet.
      const recovery = ['\r\n', '*\r\n', 'DONE\r\n', 'zz NOOP\r\n'].map((l) => Buffer.from(l, 'latin1'));
      const whole = converse([garbage, ...recovery]);
      const split = converse([...cut(garbage, cuts), ...recovery]);
      if (!whole.effects.includes('starttls')) { // STARTTLS drops the rest of its packet: cuts change what is dropped, as on the wire
        assert.equal(split.out, whole.out);
        assert.deepEqual(split.effects, whole.effects);
      }
      if (!whole.closed && whole.session.phase.kind !== 'logout') assert.ok(whole.out.endsWith('zz OK NOOP completed\r\n'), JSON.stringify(whole.out.slice(-300)));
    }), { numRuns: RUNS, seed: SEED });
  });
});

/** The POP3 shell's part, answering at once; lines through a LineSplitter as the real shell takes them. */
function pop3(pieces: readonly Buffer[]): { out: string; effects: string[]; closed: boolean } {
  const session = new Pop3Session({ serverName: 'mw', loginAllowed: true, tlsAvailable: true, maxErrors: 20, maxLineBytes: 64 });
  const raws = new Map([[3, Buffer.from('Subject: a\r\n\r\n.dot\r\n', 'latin1')], [5, Buffer.from('Subject: b\r\n\r\nx', 'latin1')]]);
  let splitter = new LineSplitter();
  let out = '';
  const effects: string[] = [];
  let closed = false;
  let dropRest = false;
  const apply = (actions: readonly Pop3Action[]): void => {
    for (const a of actions) {
      switch (a.type) {
        case 'reply': out += `${a.text}\r\n`; break;
        case 'send': out += a.bytes.toString('latin1'); break;
        case 'login': effects.push(`login ${a.user}`); apply(session.feed(a.password === 'pw' ? { type: 'logged-in', messages: [{ uid: 3, size: 20 }, { uid: 5, size: 15 }] } : { type: 'login-failed', code: 'AUTH', reason: 'wrong' })); break;
        case 'fetch': { const raw = raws.get(a.uid); apply(session.feed(raw ? { type: 'content', raw } : { type: 'content-missing' })); break; }
        case 'update': effects.push(`update ${a.uids.join(',')}`); apply(session.feed({ type: 'updated', failed: 0 })); break;
        case 'starttls': effects.push('starttls'); splitter = new LineSplitter(); dropRest = true; apply(session.feed({ type: 'tls-started' })); break;
        case 'close': closed = true; break;
      }
    }
  };
  apply(session.greet());
  for (const piece of pieces) {
    if (closed) break;
    dropRest = false;
    splitter.push(piece);
    for (let line = splitter.next(64, 'truncate'); line !== null && !closed && !dropRest; line = splitter.next(64, 'truncate')) {
      apply(session.feed({ type: 'line', line: line.text, overflow: line.overflow }));
    }
  }
  return { out, effects, closed };
}

const pop3Line = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('USER qa@x.test', 'PASS pw', 'PASS nope', `AUTH PLAIN ${b64('\0qa@x.test\0pw')}`, 'AUTH PLAIN', b64('\0qa@x.test\0pw'), '*', 'AUTH',
    'CAPA', 'STAT', 'LIST', 'LIST 2', 'UIDL', 'UIDL 9', 'RETR 1', 'RETR 3', 'TOP 2 0', 'DELE 1', 'RSET', 'NOOP', 'QUIT', 'APOP x y', '') },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('USER', 'PASS', 'LIST', 'RETR', 'TOP', 'DELE', 'AUTH'), junk).map(([v, j]) => `${v} ${j}`) },
  { weight: 2, arbitrary: junk },
);
const pop3Garbage = fc.array(fc.tuple(pop3Line, ending).map(([l, e]) => l + e), { maxLength: 20 }).map((ls) => Buffer.from(ls.join(''), 'latin1'));

describe('POP3 session core, fuzzed', () => {
  it('never throws, is split-invariant, and answers CAPA after any garbage', () => {
    fc.assert(fc.property(pop3Garbage, fc.array(fc.nat(), { maxLength: 6 }), (garbage, cuts) => {
      const recovery = ['\r\n', '*\r\n', 'CAPA\r\n'].map((l) => Buffer.from(l, 'latin1'));
      const whole = pop3([garbage, ...recovery]);
      const split = pop3([...cut(garbage, cuts), ...recovery]);
      if (!whole.effects.includes('starttls')) { // STLS drops the rest of its packet: cuts change what is dropped, as on the wire
        assert.equal(split.out, whole.out);
        assert.deepEqual(split.effects, whole.effects);
      }
      if (!whole.closed) assert.ok(whole.out.endsWith('IMPLEMENTATION mailwire\r\n.\r\n'), JSON.stringify(whole.out.slice(-300)));
    }), { numRuns: RUNS, seed: SEED });
  });
});
