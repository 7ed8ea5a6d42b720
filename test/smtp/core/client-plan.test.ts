import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authExchanges, chooseAuth, HELO_ONLY, messageFacts, parseEhloReply, planTransaction, type PlanInput, type WireStep,
} from '../../../src/smtp/core/client-session.js';
import { ReplyReader } from '../../../src/smtp/core/reply-reader.js';
import { reply } from '../../../src/smtp/core/reply.js';
import { parseServerAddress } from '../../../src/net/host-port.js';

const EHLO = reply(250, 'mx.test Hello', 'PIPELINING', 'SIZE 10240000', '8BITMIME', 'SMTPUTF8', 'STARTTLS', 'AUTH PLAIN LOGIN', 'auth=login', 'CHUNKING', 'ENHANCEDSTATUSCODES');
const FULL = parseEhloReply(EHLO);
const ascii = (text: string) => messageFacts(Buffer.from(text, 'utf8'));
const base = (over: Partial<PlanInput> = {}): PlanInput => ({
  caps: FULL, from: 'a@x.test', to: ['b@y.test', 'c@y.test'], message: ascii('Subject: hi\r\n\r\nhello\r\n'), pipelining: 'auto', chunking: false, ...over,
});
const show = (batches: readonly (readonly WireStep[])[]): string[][] => batches.map((b) => b.map((s) => ('line' in s ? s.line : s.stage)));
const plan = (input: PlanInput) => {
  const p = planTransaction(input);
  assert.ok(p.ok, JSON.stringify(p));
  return p.plan;
};

describe('EHLO capabilities', () => {
  it('reads every keyword this client uses, case-insensitively, merging AUTH lines', () => {
    assert.deepEqual({ ...FULL, keywords: undefined }, {
      esmtp: true, pipelining: true, chunking: true, eightBitMime: true, smtpUtf8: true, starttls: true, size: 10240000,
      auth: ['PLAIN', 'LOGIN'], keywords: undefined,
    });
  });
  it('reads "SIZE" alone as no fixed limit, and a server name alone as no extensions', () => {
    assert.equal(parseEhloReply(reply(250, 'mx', 'SIZE')).size, 0);
    assert.deepEqual({ ...parseEhloReply(reply(250, 'mx')), keywords: [] }, { ...HELO_ONLY, esmtp: true });
  });
});

describe('the standard transaction plan', () => {
  it('batches MAIL, every RCPT and DATA when PIPELINING is offered, then the message', () => {
    assert.deepEqual(show(plan(base()).batches), [
      ['MAIL FROM:<a@x.test> SIZE=22', 'RCPT TO:<b@y.test>', 'RCPT TO:<c@y.test>', 'DATA'], ['message'],
    ]);
  });
  it('sends one command per batch when PIPELINING is not offered or is turned off', () => {
    const want = [['MAIL FROM:<a@x.test> SIZE=22'], ['RCPT TO:<b@y.test>'], ['RCPT TO:<c@y.test>'], ['DATA'], ['message']];
    assert.deepEqual(show(plan(base({ caps: { ...FULL, pipelining: false } })).batches), want);
    assert.deepEqual(show(plan(base({ pipelining: 'off' })).batches), want);
  });
  it('pipelines when forced on even if not offered', () => {
    assert.equal(plan(base({ caps: { ...FULL, pipelining: false }, pipelining: 'on' })).batches.length, 2);
  });
  it('declares nothing to a HELO-only server and expects 250/251 for RCPT, 354 for DATA', () => {
    const p = plan(base({ caps: HELO_ONLY }));
    assert.deepEqual(show(p.batches)[0], ['MAIL FROM:<a@x.test>']);
    assert.deepEqual(p.batches.flat().map((s) => s.expect), [[250], [250, 251], [250, 251], [354], [250]]);
  });
  it('adds BODY=8BITMIME for 8-bit text and SMTPUTF8 for UTF-8 headers or addresses, when offered', () => {
    assert.deepEqual(plan(base({ message: ascii('Subject: hi\r\n\r\ncafé\r\n') })).mailParams, ['SIZE=22', 'BODY=8BITMIME']);
    assert.deepEqual(plan(base({ message: ascii('Subject: café\r\n\r\nx\r\n') })).mailParams, ['SIZE=21', 'BODY=8BITMIME', 'SMTPUTF8']);
    assert.deepEqual(plan(base({ from: 'josé@x.test' })).mailParams, ['SIZE=22', 'SMTPUTF8']);
  });
  it('refuses, before anything is sent, what the server cannot take', () => {
    const refusals: [Partial<PlanInput>, string][] = [
      [{ caps: { ...FULL, eightBitMime: false }, message: ascii('\r\ncafé') }, 'ERR_NEEDS_8BITMIME'],
      [{ caps: HELO_ONLY, message: ascii('\r\ncafé') }, 'ERR_NEEDS_8BITMIME'],
      [{ caps: { ...FULL, smtpUtf8: false }, to: ['bø@y.test'] }, 'ERR_NEEDS_SMTPUTF8'],
      [{ caps: { ...FULL, size: 10 } }, 'ERR_TOO_BIG'],
      [{ caps: { ...FULL, chunking: false }, chunking: true }, 'ERR_NO_CHUNKING'],
      [{ to: [] }, 'ERR_NO_RECIPIENT'],
      [{ to: ['b@y.test>\r\nRCPT TO:<evil@z.test'] }, 'ERR_BAD_ADDRESS'],
    ];
    for (const [over, code] of refusals) {
      const p = planTransaction(base(over));
      assert.equal(p.ok ? 'ok' : p.code, code, JSON.stringify(over));
    }
  });
  it('sends BDAT chunks after the envelope, the last one marked LAST, an empty message as BDAT 0 LAST', () => {
    assert.deepEqual(show(plan(base({ chunking: true, chunkSize: 10 })).batches), [
      ['MAIL FROM:<a@x.test> SIZE=22', 'RCPT TO:<b@y.test>', 'RCPT TO:<c@y.test>'], ['BDAT 10', 'BDAT 10', 'BDAT 2 LAST'],
    ]);
    assert.deepEqual(show(plan(base({ chunking: true, pipelining: 'off', message: ascii('') })).batches).slice(3), [['BDAT 0 LAST']]);
  });
  it('tells 8-bit body from 8-bit header by the first blank line', () => {
    assert.deepEqual(ascii('A: b\r\n\r\nc'), { size: 9, eightBit: false, utf8Headers: false });
    assert.deepEqual(ascii('A: b\r\n\r\né'), { size: 10, eightBit: true, utf8Headers: false });
    assert.deepEqual(ascii('A: é\r\n\r\nc'), { size: 10, eightBit: true, utf8Headers: true });
  });
});

describe('AUTH', () => {
  it('PLAIN is one line, NUL user NUL password in base64 (RFC 4616), shown masked', () => {
    assert.deepEqual(authExchanges('PLAIN', 'alice', 's3cret'), [{ line: 'AUTH PLAIN AGFsaWNlAHMzY3JldA==', shown: 'AUTH PLAIN ********', expect: 235 }]);
  });
  it('LOGIN is three lines: the verb, the user, the password, each base64', () => {
    assert.deepEqual(authExchanges('LOGIN', 'alice', 's3cret').map((x) => [x.line, x.expect]), [['AUTH LOGIN', 334], ['YWxpY2U=', 334], ['czNjcmV0', 235]]);
  });
  it('prefers PLAIN, takes LOGIN, and honours an explicit choice only if offered', () => {
    assert.equal(chooseAuth(['LOGIN', 'PLAIN']), 'PLAIN');
    assert.equal(chooseAuth(['LOGIN', 'CRAM-MD5']), 'LOGIN');
    assert.equal(chooseAuth(['CRAM-MD5']), null);
    assert.equal(chooseAuth(['PLAIN'], 'LOGIN'), null);
  });
});

describe('reading replies', () => {
  const wire = Buffer.from('220 mx.test ready\r\n250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n354 go ahead\r\n', 'latin1');
  const want = [reply(220, 'mx.test ready'), reply(250, 'mx.test Hello', 'PIPELINING', 'SIZE 1000'), reply(354, 'go ahead')];
  const readAll = (chunks: Buffer[]) => {
    const r = new ReplyReader();
    return chunks.flatMap((c) => {
      const got = r.push(c);
      assert.ok(got.ok);
      return got.replies;
    });
  };
  it('gives the same replies whole, split at every offset, and one byte at a time', () => {
    assert.deepEqual(readAll([wire]), want);
    for (let i = 1; i < wire.length; i++) assert.deepEqual(readAll([wire.subarray(0, i), wire.subarray(i)]), want, `split at ${i}`);
    assert.deepEqual(readAll([...wire].map((b) => Buffer.from([b]))), want);
  });
  it('counts a partial reply as pending (STARTTLS must start on a clean boundary)', () => {
    const r = new ReplyReader();
    r.push(Buffer.from('250-a\r\n'));
    assert.ok(r.pendingBytes > 0);
  });
});

describe('--server host[:port]', () => {
  const cases: [string, { host: string; port: number }][] = [
    ['127.0.0.1', { host: '127.0.0.1', port: 1025 }], ['mx.test:587', { host: 'mx.test', port: 587 }],
    ['[::1]:2525', { host: '::1', port: 2525 }], ['[::1]', { host: '::1', port: 1025 }], ['::1', { host: '::1', port: 1025 }],
  ];
  for (const [text, want] of cases) it(`reads ${text}`, () => assert.deepEqual(parseServerAddress(text, 1025), want));
  it('refuses a bad port or junk', () => {
    for (const bad of ['x:0', 'x:70000', 'x:y', 'a b', '']) assert.throws(() => parseServerAddress(bad, 1025), RangeError, bad);
  });
});
