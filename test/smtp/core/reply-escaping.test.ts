import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { formatReply, reply } from '../../../src/smtp/core/reply.js';
import { runPure } from '../../helpers/pure-driver.js';

const lines = (...ls: string[]): string => ls.map((l) => `${l}\r\n`).join('');

describe('replies never carry a client\'s control bytes', () => {
  // Each line quotes client text holding control bytes; the reply must name them as \xNN, byte for byte.
  const cases = [
    ['MAIL FROM:<a@b.test> X\x1eY=1', '555 5.5.4 Unsupported parameter X\\x1eY'],
    ['MAIL FROM:<a@b.test> SIZE=1 BODY=7BIT \x1b[2J', '555 5.5.4 Unsupported parameter \\x1b[2J'],
    ['MAIL FROM:<a\x1b[2J@b.test>', '501 5.1.7 Bad sender address: "a\\x1b[2J" is not a valid local part'],
    ['MAIL FROM:<a@b\x7f.test>', '501 5.1.7 Bad sender address: "b\\x7f.test" is not a valid domain'],
    ['MAIL FROM:<a@[1.2.3\x08]>', '501 5.1.7 Bad sender address: "[1.2.3\\x08]" is not a valid address literal'],
  ] as const;
  for (const [line, want] of cases) {
    it(`MAIL: ${JSON.stringify(line)} → ${want}`, () => {
      const got = runPure(smtpDialect, lines('EHLO c.test', line)).replies.at(-1);
      assert.equal(got, want);
    });
  }

  const rcptCases = [
    ['RCPT TO:<b@c.test> \x1b]0;pwned\x07', '555 5.5.4 Unsupported parameter \\x1b]0;PWNED\\x07'],
    ['RCPT TO:<b\x1b[1A\x1b[2K@c.test>', '501 5.1.3 Bad recipient address: "b\\x1b[1A\\x1b[2K" is not a valid local part'],
  ] as const;
  for (const [line, want] of rcptCases) {
    it(`RCPT: ${JSON.stringify(line)} → ${want}`, () => {
      const got = runPure(smtpDialect, lines('EHLO c.test', 'MAIL FROM:<a@b.test>', line)).replies.at(-1);
      assert.equal(got, want);
    });
  }

  it('formatReply escapes any control byte left in a reply text, so a future echo cannot forge a reply line', () => {
    assert.equal(formatReply(reply(250, 'ok\r\n250 forged', 'tab\there\x7f')), '250-ok\\x0d\\x0a250 forged\r\n250 tab\\x09here\\x7f\r\n');
    assert.equal(formatReply(reply(250, 'plain text stays as it is')), '250 plain text stays as it is\r\n');
  });
});
