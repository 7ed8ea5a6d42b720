import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMailbox } from '../../../src/smtp/core/mailbox-syntax.js';
import { simplifiedTransaction } from '../../../src/smtp/core/client-session.js';
import { encodeDataSection } from '../../../src/smtp/core/dot-stuffing.js';
import { ReplyParser } from '../../../src/smtp/core/reply-parser.js';
import { formatReply, reply } from '../../../src/smtp/core/reply.js';

describe('replies', () => {
  it('formats single and multi-line replies as RFC 5321 §4.2 says', () => {
    assert.equal(formatReply(reply(250, '2.1.0 Sender OK')), '250 2.1.0 Sender OK\r\n');
    assert.equal(formatReply(reply(250, 'mx.test', 'PIPELINING', 'SIZE 10')), '250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n');
  });

  it('parses what it formats, a line at a time', () => {
    const p = new ReplyParser();
    assert.deepEqual(p.push('250-mx.test'), { ok: true, reply: null });
    assert.deepEqual(p.push('250-PIPELINING'), { ok: true, reply: null });
    assert.deepEqual(p.push('250 SIZE 10'), { ok: true, reply: reply(250, 'mx.test', 'PIPELINING', 'SIZE 10') });
    assert.deepEqual(p.push('354'), { ok: true, reply: reply(354, '') });
  });

  it('refuses a line that is not a reply, and a code that changes within one reply', () => {
    assert.equal(new ReplyParser().push('hello').ok, false);
    const p = new ReplyParser();
    p.push('250-a');
    assert.equal(p.push('251 b').ok, false);
  });
});

describe('client side of the simplified dialect', () => {
  it('plans HELO with the sender\'s domain, then MAIL, RCPT, DATA and the message, as the text writes them', () => {
    assert.deepEqual(simplifiedTransaction('alice@xyz.com', 'bob@abc.org').map((s) => (s.kind === 'command' ? s.line : s.label)), [
      'HELO xyz.com', 'MAIL FROM: <alice@xyz.com>', 'RCPT TO: <bob@abc.org>', 'DATA', 'message',
    ]);
  });

  it('dot-stuffs every line that starts with a dot and ends with "." alone', () => {
    assert.equal(encodeDataSection('.a\r\nb\r\n..c\r\n.\r\n'), '..a\r\nb\r\n...c\r\n..\r\n.\r\n');
    assert.equal(encodeDataSection('no newline'), 'no newline\r\n.\r\n');
    assert.equal(encodeDataSection(''), '.\r\n');
  });

  const mailboxes: [string, boolean][] = [
    ['alice@xyz.com', true], ['a.b+tag@sub.example.org', true], ['"john doe"@x.test', true], ['root@[127.0.0.1]', true],
    ['alice', false], ['@xyz.com', false], ['alice@', false], ['a..b@x.test', false], ['a@-x.test', false],
    ['a b@x.test', false], ['a@x.test\r\nBcc: evil@x.test', false], [`${'l'.repeat(65)}@x.test`, false],
  ];
  for (const [address, ok] of mailboxes) {
    it(`${JSON.stringify(address)} is ${ok ? '' : 'not '}a valid mailbox`, () => assert.equal(checkMailbox(address).ok, ok));
  }
});
