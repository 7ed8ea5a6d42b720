import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { SmtpSession } from '../../../src/smtp/core/session.js';
import { receivedHeader } from '../../../src/smtp/core/trace.js';
import type { Authenticator } from '../../../src/smtp/core/types.js';
import { PURE_NAMES, pureTranscript, runPure, type PureOptions } from '../../helpers/pure-driver.js';
import { CLIENT, SERVER, transcript } from '../../helpers/transcript.js';

const run = (steps: ReturnType<typeof transcript>, limits?: Parameters<typeof pureTranscript>[2], opts?: Parameters<typeof pureTranscript>[3]) =>
  pureTranscript(smtpDialect, steps, limits, opts);
const lines = (...ls: string[]): string => ls.map((l) => `${l}\r\n`).join('');
const fillNames = (s: string): string => s.replaceAll(SERVER, PURE_NAMES.server).replaceAll(CLIENT, PURE_NAMES.client);
/** The reply lines after the greeting, for lines sent in one go. */
const after = (ls: readonly string[], opts: PureOptions = {}): string[] => runPure(smtpDialect, lines(...ls), opts).replies.slice(1);

const EHLO_REPLY = [
  `250-${SERVER} Hello ${CLIENT}`, '250-PIPELINING', '250-SIZE 26214400', '250-8BITMIME', '250-SMTPUTF8', '250-ENHANCEDSTATUSCODES',
];
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
/** The pure driver answers at once: a verifier that does too (the server's own counts failures, asynchronously). */
const syncAuth = (logins: Readonly<Record<string, string>>, allowInsecure: boolean): Authenticator =>
  ({ allowInsecure, verify: (user, password) => Object.hasOwn(logins, user) && logins[user] === password });
const auth = syncAuth({ alice: 'secret', bob: 'pa:ss' }, false);

describe('smtp dialect: a whole session', () => {
  it('greets, takes EHLO, a null sender, two recipients and a dot-stuffed message, then MAIL again without EHLO', () => {
    const r = run(transcript`
      S: 220 ${SERVER} ESMTP mailwire ready
      C: EHLO client.test
      S: ${EHLO_REPLY.join('\n      S: ')}
      S: 250 CHUNKING
      C: MAIL FROM:<>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<bob@abc.org>
      S: 250 2.1.5 Recipient OK
      C: RCPT TO:<postmaster>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 End data with <CR><LF>.<CR><LF>
      C: Subject: hello
      C:
      C: ..leading dot
      C: .
      S: 250 2.0.0 OK: queued as 1
      C: mail from:<alice@xyz.com> BODY=8BITMIME SIZE=100
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<carol@abc.org>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 End data with <CR><LF>.<CR><LF>
      C: second
      C: .
      S: 250 2.0.0 OK: queued as 2
      C: QUIT
      S: 221 2.0.0 ${SERVER} closing connection
    `);
    assert.equal(r.closed, true);
    const trace = { helo: 'client.test', clientAddress: PURE_NAMES.client, serverName: PURE_NAMES.server, protocol: 'ESMTP' };
    assert.deepEqual(r.delivered, [
      { env: { helo: 'client.test', from: '', to: ['bob@abc.org', 'postmaster'] }, raw: 'Subject: hello\r\n\r\n.leading dot\r\n', trace },
      { env: { helo: 'client.test', from: 'alice@xyz.com', to: ['carol@abc.org'], body: '8BITMIME' }, raw: 'second\r\n', trace },
    ]);
  });

  it('answers HELO with one line and writes "with SMTP" in the trace', () => {
    const r = run(transcript`
      S~ 220
      C: HELO old.test
      S: 250 ${SERVER} Hello ${CLIENT}
      C: MAIL FROM:<a@old.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<b@y.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S~ 354
      C: x
      C: .
      S: 250 2.0.0 OK: queued as 1
    `);
    assert.equal(r.delivered[0]?.trace?.protocol, 'SMTP');
  });

  it('a HELO/EHLO or RSET in the middle of a transaction resets it', () => {
    run(transcript`
      S~ 220
      C: EHLO a.test
      S~ 250-
      ${EHLO_REPLY.slice(1).map(() => 'S~ 250-').join('\n')}
      S: 250 CHUNKING
      C: MAIL FROM:<a@a.test>
      S~ 250
      C: RCPT TO:<b@b.test>
      S~ 250
      C: HELO b.test
      S: 250 ${SERVER} Hello ${CLIENT}
      C: DATA
      S: 503 5.5.1 Need MAIL command first
      C: MAIL FROM:<a@a.test>
      S~ 250
      C: RSET
      S: 250 2.0.0 OK
      C: RCPT TO:<b@b.test>
      S: 503 5.5.1 Need MAIL command first
    `);
  });
});

describe('smtp dialect: every refusal, exactly', () => {
  const EHLO = ['EHLO c.test'];
  const MAIL = [...EHLO, 'MAIL FROM:<a@x.test>'];
  const RCPT = [...MAIL, 'RCPT TO:<b@y.test>'];
  const cases: [readonly string[], string, string][] = [
    [[], 'MAIL FROM:<a@x.test>', '503 5.5.1 Send EHLO or HELO first'],
    [[], 'RCPT TO:<a@x.test>', '503 5.5.1 Send EHLO or HELO first'],
    [[], 'DATA', '503 5.5.1 Send EHLO or HELO first'],
    [[], 'EHLO', '501 5.5.4 Syntax: EHLO domain'],
    [[], 'HELO', '501 5.5.4 Syntax: HELO domain'],
    [[], 'EHLO two words', '501 5.5.4 Syntax: EHLO domain'],
    [EHLO, 'RCPT TO:<b@y.test>', '503 5.5.1 Need MAIL command first'],
    [EHLO, 'DATA', '503 5.5.1 Need MAIL command first'],
    [MAIL, 'MAIL FROM:<a@x.test>', '503 5.5.1 Sender already given; send RSET to start over'],
    [MAIL, 'DATA', '503 5.5.1 Need RCPT command first'],
    [EHLO, 'MAIL FROM:a@x.test', '501 5.5.4 Syntax: MAIL FROM:<address>, with the angle brackets'],
    [EHLO, 'MAIL FROM:', '501 5.5.4 Syntax: MAIL FROM:<address> [parameters]'],
    [EHLO, 'MAIL TO:<a@x.test>', '501 5.5.4 Syntax: MAIL FROM:<address> [parameters]'],
    [EHLO, 'MAIL FROM:<a@x.test', '501 5.5.4 Syntax: MAIL FROM:<address> [parameters]'],
    [EHLO, 'MAIL FROM:<a@x.test> SIZE=26214401', '552 5.3.4 Message size exceeds fixed maximum message size'],
    [EHLO, 'MAIL FROM:<a@x.test> SIZE=abc', '501 5.5.4 SIZE needs a number of octets'],
    [EHLO, 'MAIL FROM:<a@x.test> BODY=BINARYMIME', '501 5.5.4 BODY must be 7BIT or 8BITMIME'],
    [EHLO, 'MAIL FROM:<a@x.test> SMTPUTF8=yes', '501 5.5.4 SMTPUTF8 takes no value'],
    [EHLO, 'MAIL FROM:<a@x.test> SIZE=1 size=2', '501 5.5.4 Parameter SIZE given twice'],
    [EHLO, 'MAIL FROM:<a@x.test> RET=HDRS', '555 5.5.4 Unsupported parameter RET'],
    [EHLO, 'MAIL FROM:<not-an-address>', '501 5.1.7 Bad sender address: an address needs a local part, "@" and a domain, as in user@example.com'],
    [EHLO, 'MAIL FROM:<a..b@x.test>', '501 5.1.7 Bad sender address: "a..b" is not a valid local part'],
    [EHLO, 'MAIL FROM:<j\u00c3\u00b6rg@x.test>', '553 5.6.7 A non-ASCII address needs the SMTPUTF8 parameter'],
    [MAIL, 'RCPT TO:b@y.test', '501 5.5.4 Syntax: RCPT TO:<address>, with the angle brackets'],
    [MAIL, 'RCPT TO:', '501 5.5.4 Syntax: RCPT TO:<address>'],
    [MAIL, 'RCPT TO:<>', '501 5.1.3 Bad recipient address: it is empty'],
    [MAIL, 'RCPT TO:<b@-bad-.test>', '501 5.1.3 Bad recipient address: "-bad-.test" is not a valid domain'],
    [MAIL, 'RCPT TO:<b@y.test> NOTIFY=NEVER', '555 5.5.4 Unsupported parameter NOTIFY'],
    [MAIL, 'RCPT TO:<j\u00c3\u00b6rg@y.test>', '553 5.6.7 A non-ASCII address needs the SMTPUTF8 parameter'],
    [RCPT, 'DATA now', '501 5.5.4 Syntax: DATA, with no parameters'],
    [RCPT, 'RSET now', '501 5.5.4 Syntax: RSET, with no parameters'],
    [RCPT, 'QUIT now', '501 5.5.4 Syntax: QUIT, with no parameters'],
    [EHLO, 'VRFY', '501 5.5.4 Syntax: VRFY address'],
    [EHLO, 'VRFY bob', '252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery'],
    [EHLO, 'EXPN staff', '502 5.5.1 EXPN not implemented'],
    [EHLO, 'NOOP', '250 2.0.0 OK'],
    [EHLO, 'NOOP whatever', '250 2.0.0 OK'],
    [EHLO, 'STARTTLS', '502 5.5.1 STARTTLS not implemented'],
    [EHLO, 'AUTH PLAIN', '502 5.5.1 AUTH not implemented'],
    [EHLO, 'FOO bar', '500 5.5.2 Command unrecognized'],
    [EHLO, '', '500 5.5.2 Empty command'],
    [EHLO, 'x'.repeat(600), '500 5.5.2 Line too long'],
    [EHLO, `MAIL FROM:<${'a'.repeat(500)}@x.test>`, '500 5.5.2 Line too long'],
    [EHLO, 'NOOP\0', '500 5.5.2 NUL byte in command'],
    [EHLO, '\0', '500 5.5.2 NUL byte in command'],
    [EHLO, 'NOOP \xff\xfe', '500 5.5.2 Command is not valid UTF-8'],
    [EHLO, 'MAIL FROM:<\xc3(@x.test>', '500 5.5.2 Command is not valid UTF-8'],
    [RCPT, 'BDAT', '501 5.5.4 Syntax: BDAT size [LAST]'],
    [RCPT, 'BDAT -1', '501 5.5.4 Syntax: BDAT size [LAST]'],
    [RCPT, 'BDAT 10 FIRST', '501 5.5.4 Syntax: BDAT size [LAST]'],
    [EHLO, 'GET / HTTP/1.1', '500 5.5.2 Command unrecognized'],
  ];
  for (const [before, line, want] of cases) {
    it(`${JSON.stringify(line.slice(0, 40))} after [${before.join(' | ')}] → ${want}`, () => {
      const got = after([...before, line]);
      assert.equal(got.at(-1), fillNames(want));
      assert.equal(got.length, before.reduce((n, l) => n + (l.startsWith('EHLO') ? 7 : 1), 1));
    });
  }

  it('HELP lists the commands, each line with its enhanced code', () => {
    assert.deepEqual(after(['HELP']), ['214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT STARTTLS AUTH', '214 2.0.0 See RFC 5321']);
  });

  it('every reply but the greeting, the hello replies and the 354/334 intermediates carries an enhanced status code', () => {
    const all = cases.flatMap(([before, line]) => after([...before, line]));
    for (const l of all) {
      if (/^250[- ]/.test(l) && (l.includes(' Hello ') || /^250[- ][A-Z0-9]+(?: \d+)?$/.test(l))) continue; // EHLO lines
      assert.match(l, /^\d{3}[ -][245]\.\d{1,3}\.\d{1,3} /, l);
    }
  });
});

describe('smtp dialect: addresses RFC 5321 allows', () => {
  const ok = [
    ['MAIL FROM:<"john doe"@x.test>', 'RCPT TO:<u@[192.0.2.1]>'],
    ['MAIL FROM:<a@[IPv6:2001:db8::1]>', 'RCPT TO:<Postmaster>'],
    ['MAIL FROM:<@relay.test:a@x.test>', 'RCPT TO:<@r1.test,@r2.test:b@y.test>'],
    ['MAIL FROM:<j\u00c3\u00b6rg@b\u00c3\u00bccher.example> SMTPUTF8', 'RCPT TO:<\u00e6\u0097\u00a5\u00e6\u009c\u00ac@\u00e4\u00be\u008b.example>'],
    ['MAIL FROM:<> BODY=7BIT SIZE=0', 'RCPT TO:<postmaster@y.test>'],
  ];
  for (const [mail, rcpt] of ok) {
    it(`${mail} / ${rcpt} are accepted`, () => {
      assert.deepEqual(after(['HELO c.test', mail!, rcpt!]), [`250 ${PURE_NAMES.server} Hello ${PURE_NAMES.client}`, '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK']);
    });
  }

  it('keeps UTF-8 addresses as text, drops source routes, and writes "with UTF8SMTP" under SMTPUTF8', () => {
    const r = runPure(smtpDialect, lines('EHLO c.test', 'MAIL FROM:<j\u00c3\u00b6rg@x.test> SMTPUTF8', 'RCPT TO:<@r.test:b@y.test>', 'DATA', 'h\u00c3\u00a9', '.'));
    assert.deepEqual(r.delivered[0]?.env, { helo: 'c.test', from: 'jörg@x.test', to: ['b@y.test'], smtputf8: true });
    assert.equal(r.delivered[0]?.raw, 'h\u00c3\u00a9\r\n'); // message bytes stay bytes
    assert.equal(r.delivered[0]?.trace?.protocol, 'UTF8SMTP');
  });
});

describe('smtp dialect: limits', () => {
  it('a recipient past --max-recipients gets 452 and the mail goes to the others', () => {
    const r = run(transcript`
      S~ 220
      C: HELO c.test
      S~ 250
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: RCPT TO:<r1@y.test>
      S: 250 2.1.5 Recipient OK
      C: RCPT TO:<r2@y.test>
      S: 250 2.1.5 Recipient OK
      C: RCPT TO:<r3@y.test>
      S: 452 4.5.3 Too many recipients
      C: DATA
      S~ 354
      C: .
      S: 250 2.0.0 OK: queued as 1
    `, { maxRecipients: 2 });
    assert.deepEqual(r.delivered[0]?.env.to, ['r1@y.test', 'r2@y.test']);
  });

  it('a message over the size limit is read to its end, answered 552, and the session goes on', () => {
    const r = run(transcript`
      S~ 220
      C: HELO c.test
      S~ 250
      C: MAIL FROM:<a@x.test> SIZE=20
      S: 552 5.3.4 Message size exceeds fixed maximum message size
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: RCPT TO:<b@y.test>
      S~ 250
      C: DATA
      S~ 354
      C: 0123456789
      C: QUIT
      C: .
      S: 552 5.3.4 Message size exceeds fixed maximum message size
      C: MAIL FROM:<a@x.test>
      S: 250 2.1.0 Sender OK
    `, { maxMessageBytes: 10 });
    assert.deepEqual(r.delivered, []);
  });

  it('a text line longer than the limit streams through in pieces and is stored whole', () => {
    const long = 'y'.repeat(2500);
    const r = runPure(smtpDialect, lines('HELO c.test', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA', long, '.'));
    assert.equal(r.delivered[0]?.raw, `${long}\r\n`);
  });

  it('the 20th bad command is answered, then 421 and the connection closes', () => {
    const bad = Array.from({ length: 25 }, () => 'BOGUS');
    const r = runPure(smtpDialect, lines('EHLO c.test', ...bad));
    const replies = r.replies.slice(8);
    assert.equal(replies.length, 21);
    assert.deepEqual(new Set(replies.slice(0, 20)), new Set(['500 5.5.2 Command unrecognized']));
    assert.equal(replies[20], `421 4.7.0 ${PURE_NAMES.server} Too many errors, closing connection`);
    assert.equal(r.closed, true);
  });

  it('--max-errors is the count, and good commands in between do not reset it', () => {
    const r = runPure(smtpDialect, lines('NOOP', 'X', 'NOOP', 'Y', 'NOOP', 'Z', 'NOOP'), { limits: { maxErrors: 3 } });
    assert.deepEqual(r.replies.slice(1), ['250 2.0.0 OK', '500 5.5.2 Command unrecognized', '250 2.0.0 OK', '500 5.5.2 Command unrecognized',
      '250 2.0.0 OK', '500 5.5.2 Command unrecognized', `421 4.7.0 ${PURE_NAMES.server} Too many errors, closing connection`]);
    assert.equal(r.closed, true);
  });

  it('idle timeout and shutdown are told with 421 and close; a message in progress is dropped on timeout', () => {
    const make = () => new SmtpSession({ dialect: smtpDialect, serverName: 'mx.test', clientAddress: '192.0.2.9', limits: resolveLimits() });
    const s = make();
    assert.deepEqual(s.feed({ type: 'timeout' }), [{ type: 'reply', reply: { code: 421, lines: ['4.4.2 mx.test Idle timeout, closing connection'] } }, { type: 'close' }]);
    const t = make();
    assert.deepEqual(t.feed({ type: 'shutdown' }), [{ type: 'reply', reply: { code: 421, lines: ['4.3.2 mx.test Service shutting down, closing connection'] } }, { type: 'close' }]);
    const u = make();
    for (const l of ['EHLO a', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'BDAT 3']) u.feed({ type: 'line', line: { text: l, ending: 'crlf', overflow: false } });
    u.feed({ type: 'octets', bytes: 'abc' });
    assert.equal(u.phase.kind, 'chunking');
    assert.deepEqual(u.feed({ type: 'timeout' }).map((a) => a.type), ['discard', 'reply', 'close']);
  });
});

describe('smtp dialect: attack bytes', () => {
  it('an HTTP request as the first command is answered 421 and the connection closed', () => {
    const r = runPure(smtpDialect, 'POST /cgi-bin/x HTTP/1.1\r\nHost: victim\r\n\r\nMAIL FROM:<a@x.test>\r\n');
    assert.deepEqual(r.replies.slice(1), [`421 4.7.0 ${PURE_NAMES.server} HTTP is not spoken here`]);
    assert.equal(r.closed, true);
  });

  it('bare LF and bare CR in DATA are message text, never the end of it (SMTP smuggling)', () => {
    const body = 'a\n.\nMAIL FROM:<evil@x.test>\r\nb\r.\rc\r\n.\n\r\n';
    const r = runPure(smtpDialect, `${lines('HELO c.test', 'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA')}${body}.\r\n`);
    assert.deepEqual(r.replies.slice(-2), ['354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 OK: queued as 1']);
    assert.equal(r.delivered.length, 1);
    assert.equal(r.delivered[0]?.raw, body);
  });

  it('BDAT octets that look like commands stay message octets', () => {
    const r = run(transcript`
      S~ 220
      C: EHLO c.test
      ${EHLO_REPLY.map(() => 'S~ 250-').join('\n')}
      S: 250 CHUNKING
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: RCPT TO:<b@y.test>
      S~ 250
      C: BDAT 12
      C: QUIT
      C: RSET
      S: 250 2.0.0 12 octets received
      C: BDAT 3 LAST
      C: .
      S: 250 2.0.0 OK: queued as 1
      C: DATA
      S: 503 5.5.1 Need MAIL command first
    `);
    assert.equal(r.delivered[0]?.raw, 'QUIT\r\nRSET\r\n.\r\n');
  });

  it('a BDAT out of sequence has its octets swallowed before the 503, so they never run as commands', () => {
    run(transcript`
      S~ 220
      C: EHLO c.test
      ${EHLO_REPLY.map(() => 'S~ 250-').join('\n')}
      S: 250 CHUNKING
      C: BDAT 6
      C: QUIT
      S: 503 5.5.1 Need MAIL command first
      C: NOOP
      S: 250 2.0.0 OK
    `);
  });

  it('BDAT in sequence: chunks, DATA refused between them, 0 LAST ends, RSET drops, overflow is 552', () => {
    const r = run(transcript`
      S~ 220
      C: HELO c.test
      S~ 250
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: RCPT TO:<b@y.test>
      S~ 250
      C: BDAT 0
      S: 250 2.0.0 0 octets received
      C: DATA
      S: 503 5.5.1 DATA cannot follow BDAT
      C: RCPT TO:<c@y.test>
      S: 503 5.5.1 RCPT cannot follow BDAT
      C: BDAT 0 last
      S: 250 2.0.0 OK: queued as 1
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: RCPT TO:<b@y.test>
      S~ 250
      C: BDAT 5
      C: dro
      S: 250 2.0.0 5 octets received
      C: RSET
      S: 250 2.0.0 OK
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: RCPT TO:<b@y.test>
      S~ 250
      C: BDAT 12 LAST
      C: 0123456789
      S: 552 5.3.4 Message size exceeds fixed maximum message size
      C: BDAT 2 LAST
      C: 
      S: 503 5.5.1 Need MAIL command first
    `, { maxMessageBytes: 10 });
    assert.deepEqual(r.delivered.map((d) => d.raw), ['']);
  });

  it('commands pipelined after STARTTLS are dropped, and the session starts over (CVE-2011-0411)', () => {
    const r = runPure(smtpDialect, [lines('EHLO c.test', 'STARTTLS', 'MAIL FROM:<evil@x.test>', 'RCPT TO:<evil@y.test>'), lines('MAIL FROM:<a@x.test>', 'EHLO c.test')], { starttls: true });
    assert.equal(r.tlsStarts, 1);
    assert.deepEqual(r.replies.slice(r.replies.indexOf('250 STARTTLS')), [
      '250 STARTTLS', '220 2.0.0 Ready to start TLS',
      '503 5.5.1 Send EHLO or HELO first',
      `250-${PURE_NAMES.server} Hello ${PURE_NAMES.client}`, '250-PIPELINING', '250-SIZE 26214400', '250-8BITMIME', '250-SMTPUTF8',
      '250-ENHANCEDSTATUSCODES', '250 CHUNKING',
    ]);
    assert.equal(r.ctx.tls, true);
  });
});

describe('smtp dialect: STARTTLS and AUTH', () => {
  it('refuses STARTTLS twice, with arguments, and inside a transaction', () => {
    const r = runPure(smtpDialect, [lines('EHLO c.test', 'STARTTLS now', 'MAIL FROM:<a@x.test>', 'STARTTLS', 'RSET', 'STARTTLS'), lines('STARTTLS')], { starttls: true });
    assert.deepEqual(r.replies.slice(9), [
      '501 5.5.4 Syntax: STARTTLS, with no parameters', '250 2.1.0 Sender OK', '503 5.5.1 STARTTLS not allowed during a mail transaction',
      '250 2.0.0 OK', '220 2.0.0 Ready to start TLS', '503 5.5.1 TLS already active',
    ]);
  });

  it('asks for STARTTLS before AUTH and does not offer AUTH in clear', () => {
    const got = after(['EHLO c.test', `AUTH PLAIN ${b64('\0alice\0secret')}`], { starttls: true, auth });
    assert.equal(got.includes('250-AUTH PLAIN LOGIN') || got.includes('250 AUTH PLAIN LOGIN'), false);
    assert.equal(got.at(-1), '530 5.7.0 Must issue a STARTTLS command first');
  });

  it('AUTH PLAIN after STARTTLS: 235, then "with ESMTPSA"; a second AUTH is 503', () => {
    const r = runPure(smtpDialect, [lines('EHLO c.test', 'STARTTLS'), lines('EHLO c.test', `AUTH PLAIN ${b64('\0alice\0secret')}`, 'AUTH LOGIN',
      'MAIL FROM:<a@x.test>', 'RCPT TO:<b@y.test>', 'DATA', 'x', '.')], { starttls: true, auth });
    const tail = r.replies.slice(r.replies.indexOf('220 2.0.0 Ready to start TLS') + 1);
    assert.deepEqual(tail.slice(6, 11), ['250-CHUNKING', '250 AUTH PLAIN LOGIN', '235 2.7.0 Authentication successful', '503 5.5.1 Already authenticated', '250 2.1.0 Sender OK']);
    assert.equal(r.delivered[0]?.trace?.protocol, 'ESMTPSA');
    assert.equal(r.ctx.authUser, 'alice');
  });

  it('AUTH LOGIN and PLAIN exchanges, cancellation, bad base64, bad mechanism, wrong password', () => {
    run(transcript`
      S~ 220
      C: AUTH LOGIN
      S: 503 5.5.1 Send EHLO or HELO first
      C: HELO c.test
      S~ 250
      C: AUTH
      S: 501 5.5.4 Syntax: AUTH mechanism [initial-response]
      C: AUTH CRAM-MD5
      S: 504 5.5.4 Unrecognized authentication type
      C: AUTH LOGIN
      S: 334 VXNlcm5hbWU6
      C: ${b64('alice')}
      S: 334 UGFzc3dvcmQ6
      C: ${b64('wrong')}
      S: 535 5.7.8 Authentication credentials invalid
      C: AUTH PLAIN
      S: 334 
      C: *
      S: 501 5.0.0 Authentication cancelled
      C: AUTH PLAIN
      S: 334 
      C: not base64!
      S: 501 5.5.2 Cannot decode the response as base64
      C: AUTH PLAIN ${b64('alice\0alice')}
      S: 501 5.5.2 PLAIN needs authzid NUL user NUL password
      C: AUTH PLAIN ${b64('carol\0bob\0pa:ss')}
      S: 535 5.7.8 Authentication credentials invalid
      C: MAIL FROM:<a@x.test>
      S~ 250
      C: AUTH LOGIN
      S: 503 5.5.1 AUTH not allowed during a mail transaction
      C: RSET
      S~ 250
      C: AUTH LOGIN ${b64('bob')}
      S: 334 UGFzc3dvcmQ6
      C: ${b64('pa:ss')}
      S: 235 2.7.0 Authentication successful
    `, undefined, { tls: true, auth });
  });

  it('--auth-insecure offers AUTH in clear', () => {
    const got = after(['EHLO c.test'], { auth: syncAuth({ a: 'b' }, true) });
    assert.equal(got.at(-1), '250 AUTH PLAIN LOGIN');
  });
});

describe('Received: header', () => {
  it('is formatted per RFC 5321 §4.4 with address literals and an RFC 5322 date', () => {
    const h = receivedHeader({ helo: 'c.test', clientAddress: '192.0.2.9', serverName: '::1', protocol: 'ESMTPS' }, 'abc123', new Date(Date.UTC(2025, 0, 5, 7, 8, 9)));
    assert.equal(h, 'Received: from c.test ([192.0.2.9])\r\n\tby [IPv6:::1] with ESMTPS id abc123;\r\n\tSun, 05 Jan 2025 07:08:09 +0000\r\n');
  });
});
