/**
 * Slots that end (#25), in the pure core: the limit on commands that move no mail (Postfix's
 * smtpd_junk_command_limit) and the session lifetime, which the shell feeds in as a timeout input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simplifiedDialect } from '../../../src/smtp/core/dialects/simplified.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { DEFAULT_LIMITS, resolveLimits } from '../../../src/smtp/core/limits.js';
import { SmtpSession } from '../../../src/smtp/core/session.js';
import type { Dialect } from '../../../src/smtp/core/types.js';
import { pureTranscript, runPure } from '../../helpers/pure-driver.js';
import { SERVER, transcript } from '../../helpers/transcript.js';

const lines = (...ls: string[]): string => ls.map((l) => `${l}\r\n`).join('');

describe('smtp dialect: commands that move no mail are limited (--max-junk-commands)', () => {
  it('answers NOOP, RSET, VRFY, HELP up to the limit, then 421 and close', () => {
    const r = pureTranscript(smtpDialect, transcript`
      S: 220 ${SERVER} ESMTP mailwire ready
      C: HELO c.test
      S~ 250 ${SERVER} Hello
      C: NOOP
      S: 250 2.0.0 OK
      C: RSET
      S: 250 2.0.0 OK
      C: VRFY bob
      S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
      C: HELP
      S: 214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH
      S: 214 2.0.0 See RFC 5321
      C: NOOP
      S: 421 4.7.0 ${SERVER} Too many commands that move no mail (NOOP, RSET, VRFY, HELP), closing connection
      C: MAIL FROM:<a@x.test>
    `, { maxJunkCommands: 4 });
    assert.equal(r.closed, true);
  });

  it('a message stored forgives the count, as Postfix does; mail commands never count', () => {
    const r = pureTranscript(smtpDialect, transcript`
      S: 220 ${SERVER} ESMTP mailwire ready
      C: HELO c.test
      S~ 250 ${SERVER} Hello
      C: NOOP
      S: 250 2.0.0 OK
      C: NOOP
      S: 250 2.0.0 OK
      C: MAIL FROM:<a@x.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<b@y.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 End data with <CR><LF>.<CR><LF>
      C: one
      C: .
      S: 250 2.0.0 OK: queued as 1
      C: RSET
      S: 250 2.0.0 OK
      C: NOOP
      S: 250 2.0.0 OK
      C: NOOP
      S: 421 4.7.0 ${SERVER} Too many commands that move no mail (NOOP, RSET, VRFY, HELP), closing connection
    `, { maxJunkCommands: 2 });
    assert.equal(r.closed, true);
    assert.equal(r.delivered.length, 1);
  });

  it('never cuts a long session that sends mail: 500 messages, an RSET before each, at the default limit', () => {
    const one = ['RSET', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA', 'x', '.'];
    const r = runPure(smtpDialect, lines('EHLO c.test', ...Array.from({ length: 500 }, () => one).flat(), 'QUIT'));
    assert.equal(r.delivered.length, 500);
    assert.equal(r.replies.at(-1), `221 2.0.0 192.0.2.1 closing connection`);
    assert.equal(DEFAULT_LIMITS.maxJunkCommands, 100);
  });

  it('0 turns the limit off', () => {
    const r = runPure(smtpDialect, lines('HELO c.test', ...Array.from({ length: 300 }, () => 'NOOP')), { limits: { maxJunkCommands: 0 } });
    assert.equal(r.closed, false);
    assert.equal(r.replies.filter((l) => l === '250 2.0.0 OK').length, 300);
  });

  it('past the limit inside a BDAT transaction, the chunks already taken are dropped', () => {
    const r = runPure(smtpDialect, lines('EHLO c.test', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'BDAT 3') + 'abc' + lines('NOOP', 'NOOP'), { limits: { maxJunkCommands: 1 } });
    assert.equal(r.closed, true);
    assert.equal(r.delivered.length, 0);
    assert.equal(r.replies.at(-1), '421 4.7.0 192.0.2.1 Too many commands that move no mail (NOOP, RSET, VRFY, HELP), closing connection');
  });
});

describe('the session lifetime (--max-session-time): a timeout input from the shell', () => {
  const make = (dialect: Dialect) => new SmtpSession({ dialect, serverName: 'mx.test', clientAddress: '192.0.2.9', limits: resolveLimits() });
  const feedLines = (s: SmtpSession, ...ls: string[]): void => {
    for (const text of ls) s.feed({ type: 'line', line: { text, ending: 'crlf', overflow: false } });
  };

  it('says so with 421 4.4.2 and closes, in both dialects', () => {
    for (const dialect of [smtpDialect, simplifiedDialect]) {
      const s = make(dialect);
      assert.deepEqual(s.feed({ type: 'timeout', limit: 'session' }), [
        { type: 'reply', reply: { code: 421, lines: ['4.4.2 mx.test Session time limit reached, closing connection'] } }, { type: 'close' },
      ]);
      assert.equal(s.phase.kind, 'closed');
    }
  });

  it('drops a message in progress, in DATA or between BDAT chunks', () => {
    const d = make(smtpDialect);
    feedLines(d, 'HELO a', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA', 'half a message');
    assert.equal(d.inMessage, true);
    assert.deepEqual(d.feed({ type: 'timeout', limit: 'session' }).map((a) => a.type), ['discard', 'reply', 'close']);
    const b = make(smtpDialect);
    feedLines(b, 'EHLO a', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'BDAT 3');
    b.feed({ type: 'octets', bytes: 'abc' });
    assert.equal(b.phase.kind, 'chunking');
    assert.equal(b.inMessage, true);
    assert.deepEqual(b.feed({ type: 'timeout', limit: 'session' }).map((a) => a.type), ['discard', 'reply', 'close']);
  });

  it('waits for a message being stored (the shell feeds it again after the reply)', () => {
    const s = make(smtpDialect);
    feedLines(s, 'HELO a', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA', 'x', '.');
    assert.equal(s.phase.kind, 'storing');
    assert.equal(s.inMessage, false);
    assert.deepEqual(s.feed({ type: 'timeout', limit: 'session' }), []);
    assert.equal(s.feed({ type: 'stored', id: '1' })[0]?.type, 'reply');
    assert.equal(s.feed({ type: 'timeout', limit: 'session' })[0]?.type, 'reply');
    assert.equal(s.phase.kind, 'closed');
  });
});
