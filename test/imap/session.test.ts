/**
 * The pure IMAP session: a whole dialogue as a transcript with the exact bytes; the same wire bytes split at every
 * offset (and fed one byte at a time) giving the same bytes and the same effects; the bad-input cases of the issue
 * answered with a tagged BAD (or NO) and a reason while the session goes on; LOGINDISABLED before STARTTLS off
 * loopback; commands pipelined after STARTTLS never acted on; IDLE woken by new mail, never showing a lower UID.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG, converse, splitAt } from './session-driver.js';

const wire = (lines: readonly string[]): Buffer => Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');

const DIALOGUE = wire([
  'a CAPABILITY', 'b LOGIN qa@x.test {2}', 'pw', 'c SELECT INBOX', 'd FETCH 1:* (UID FLAGS)', 'e UID FETCH 5 (BODY.PEEK[HEADER.FIELDS (Subject)])',
  'f FETCH 1 (BODY[TEXT])', 'g SEARCH BODY needle', 'h UID SEARCH UNSEEN', 'i STORE 2 +FLAGS (\\Deleted \\Flagged)', 'j EXPUNGE', 'k NOOP', 'l LOGOUT',
]);

const CAPS = 'IMAP4rev1 LITERAL+ SASL-IR ID IDLE UNSELECT UIDPLUS NAMESPACE ENABLE';
const EXPECTED = [
  `* OK [CAPABILITY ${CAPS} STARTTLS AUTH=PLAIN] mailwire IMAP ready`,
  `* CAPABILITY ${CAPS} STARTTLS AUTH=PLAIN`, 'a OK CAPABILITY completed',
  '+ go ahead',
  `b OK [CAPABILITY ${CAPS}] logged in: INBOX is qa@x.test's inbox`,
  '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)', '* OK [PERMANENTFLAGS (\\Seen \\Deleted \\Flagged)] flags kept',
  '* 3 EXISTS', '* 0 RECENT', '* OK [UNSEEN 1] first unseen', '* OK [UIDVALIDITY 7] UIDs valid', '* OK [UIDNEXT 10] predicted next UID',
  'c OK [READ-WRITE] SELECT completed',
  '* 1 FETCH (UID 3 FLAGS ())', '* 2 FETCH (UID 5 FLAGS (\\Seen))', '* 3 FETCH (UID 9 FLAGS ())', 'd OK FETCH completed',
  '* 2 FETCH (UID 5 BODY[HEADER.FIELDS (SUBJECT)] {19}', 'Subject: second', '', ')', 'e OK UID FETCH completed',
  '* 1 FETCH (BODY[TEXT] {13}', 'needle here', ' FLAGS (\\Seen))', 'f OK FETCH completed',
  '* SEARCH 1 3', 'g OK SEARCH completed',
  '* SEARCH 9', 'h OK UID SEARCH completed',
  '* 2 FETCH (FLAGS (\\Seen \\Deleted \\Flagged))', 'i OK STORE completed',
  '* 2 EXPUNGE', 'j OK EXPUNGE completed',
  'k OK NOOP completed',
  '* BYE mailwire logging out', 'l OK LOGOUT completed', '',
].join('\r\n');
const EFFECTS = ['login qa@x.test', 'watch', 'flags m1 \\Seen', 'flags m2 \\Seen,\\Deleted,\\Flagged', 'remove m2'];

/** Logs in and selects, then sends `lines`; returns only what came after the SELECT's tagged OK. */
function after(lines: readonly string[], opts: Parameters<typeof converse>[1] = {}): string {
  const r = converse([wire(['0 LOGIN qa@x.test pw', '1 SELECT INBOX', ...lines])], opts);
  const at = r.out.indexOf('1 OK [READ-WRITE] SELECT completed\r\n');
  assert.notEqual(at, -1, r.out);
  return r.out.slice(at + '1 OK [READ-WRITE] SELECT completed\r\n'.length);
}

describe('IMAP session core', () => {
  it('answers a whole dialogue with the exact bytes and effects', () => {
    const r = converse([DIALOGUE]);
    assert.equal(r.out, EXPECTED);
    assert.deepEqual(r.effects, EFFECTS);
    assert.equal(r.closed, true);
  });

  it('gives the same bytes and effects for the dialogue split at every offset, and fed one byte at a time', () => {
    for (let at = 0; at <= DIALOGUE.length; at++) {
      const r = converse(splitAt(DIALOGUE, at));
      assert.equal(r.out, EXPECTED, `split at ${at}`);
      assert.deepEqual(r.effects, EFFECTS, `split at ${at}`);
    }
    const bytes = [...DIALOGUE].map((b) => Buffer.from([b]));
    const r = converse(bytes);
    assert.equal(r.out, EXPECTED);
    assert.deepEqual(r.effects, EFFECTS);
  });

  const BAD: readonly [string, readonly string[], RegExp][] = [
    ['a literal over the limit, refused before any byte of it', ['x APPEND INBOX {4294967295}'], /^x BAD literal of 4294967295 octets is larger than the limit of 65536\r\n$/],
    ['a line over 8 KB', [`x NOOP ${'a'.repeat(9000)}`], /^x BAD line longer than 8192 octets; send long values as literals\r\n$/],
    ['unbalanced parentheses', ['x FETCH 1 (FLAGS'], /^x BAD unbalanced parentheses: a \( is never closed\r\n$/],
    ['sequence set 0', ['x FETCH 0 FLAGS'], /^x BAD .*0/],
    ['sequence set 1:*:*', ['x FETCH 1:*:* FLAGS'], /^x BAD /],
    ['sequence set 4294967296', ['x UID FETCH 4294967296 FLAGS'], /^x BAD /],
    ['a sequence number past the end', ['x FETCH 4 FLAGS'], /^x BAD no message 4: the mailbox has 3\r\n$/],
    ['an unknown command', ['x FROB'], /^x BAD unknown command "FROB"\r\n$/],
    ['COPY', ['x COPY 1 Trash'], /^x NO \[TRYCREATE\] /],
    ['CREATE', ['x CREATE Foo'], /^x NO \[CANNOT\] /],
  ];
  for (const [what, lines, want] of BAD) {
    it(`answers ${what} with a reason and goes on`, () => {
      const out = after([...lines, 'z NOOP']);
      assert.ok(out.endsWith('z OK NOOP completed\r\n'), out);
      assert.match(out.slice(0, -'z OK NOOP completed\r\n'.length), want);
    });
  }

  it('refuses a command before login, and a fetch of a message deleted meanwhile gets NO after the others', () => {
    const r = converse([wire(['a SELECT INBOX', 'b NOOP'])]);
    assert.match(r.out, /\r\na BAD SELECT: log in first \(LOGIN inbox@address password\)\r\nb OK NOOP completed\r\n$/);
    const gone = { uid: 11, id: 'gone', size: 10, internalDate: 0, flags: [], from: '', to: '', cc: '', subject: '' };
    const out = after(['2 NOOP', '3 FETCH 3:4 (BODY.PEEK[])'], { later: [gone] });
    assert.match(out, /^\* 4 EXISTS\r\n2 OK NOOP completed\r\n\* 3 FETCH \(BODY\[\] \{46\}\r\nFrom: c@x\.test[^]*\r\n3 NO 1 of the messages were deleted meanwhile; the others were sent\r\n$/);
  });

  it('refuses LOGIN and AUTHENTICATE before STARTTLS off loopback, says LOGINDISABLED, and acts on nothing pipelined after STARTTLS', () => {
    const cfg = { ...CONFIG, loginAllowedInPlain: false };
    const r = converse([wire(['a CAPABILITY', 'b LOGIN qa@x.test pw', 'c AUTHENTICATE PLAIN AHFhQHgudGVzdABwdw==', 'd STARTTLS', 'e LOGIN qa@x.test pw'])], { config: cfg });
    assert.match(r.out, /\* CAPABILITY [^\r]* STARTTLS LOGINDISABLED\r\n/);
    assert.match(r.out, /\r\nb NO \[PRIVACYREQUIRED\] LOGIN is refused before STARTTLS off loopback \(LOGINDISABLED\)\r\n/);
    assert.match(r.out, /\r\nc NO \[PRIVACYREQUIRED\] AUTHENTICATE/);
    assert.ok(r.out.endsWith('d OK begin TLS negotiation now\r\n'), r.out);
    assert.deepEqual(r.effects, ['starttls'], 'e, sent in plain text after STARTTLS, is never acted on');
    const tls = converse([wire(['d STARTTLS']), wire(['e LOGIN qa@x.test pw'])], { config: cfg });
    assert.match(tls.out, /\r\ne OK \[CAPABILITY [^\]]*\] logged in/);
  });

  it('wakes an IDLE with new mail as EXISTS, and DONE ends it', () => {
    const later = { uid: 12, id: 'm4', size: 10, internalDate: 0, flags: [], from: '', to: '', cc: '', subject: '' };
    const out = after(['2 IDLE'], { later: [later] });
    assert.equal(out, '+ idling\r\n* 4 EXISTS\r\n');
  });

  it('refuses a wrong password with NO [AUTHENTICATIONFAILED] and goes on', () => {
    const r = converse([wire(['a LOGIN qa@x.test nope', 'b NOOP'])]);
    assert.match(r.out, /\r\na NO \[AUTHENTICATIONFAILED\] wrong user name or password\r\nb OK NOOP completed\r\n$/);
  });
});
