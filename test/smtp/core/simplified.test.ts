import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simplifiedDialect } from '../../../src/smtp/core/dialects/simplified.js';
import { PURE_NAMES, pureTranscript, runPure } from '../../helpers/pure-driver.js';
import { CLIENT, SERVER, transcript } from '../../helpers/transcript.js';

const run = (steps: ReturnType<typeof transcript>, limits?: Parameters<typeof pureTranscript>[2]) =>
  pureTranscript(simplifiedDialect, steps, limits);

/** Client lines that bring a session into each command phase, and that phase's exact refusal. */
const PHASES = [
  { name: 'HELO', own: 'HELO xyz.com', before: [], refusal: '503 5.5.2 Send hello first' },
  { name: 'MAIL', own: 'MAIL FROM: <a@xyz.com>', before: ['HELO xyz.com'], refusal: '503 5.5.2 Need mail command' },
  { name: 'RCPT', own: 'RCPT TO: <b@abc.org>', before: ['HELO xyz.com', 'MAIL FROM: <a@xyz.com>'], refusal: '503 5.5.2 Need rcpt command' },
  { name: 'DATA', own: 'DATA', before: ['HELO xyz.com', 'MAIL FROM: <a@xyz.com>', 'RCPT TO: <b@abc.org>'], refusal: '503 5.5.2 Need data command' },
] as const;

const ACCEPTED = {
  HELO: `250 ${SERVER} Hello ${CLIENT}`,
  MAIL: '250 2.1.0 Sender OK',
  RCPT: '250 2.1.5 Recipient OK',
  DATA: '354 Start mail input; end with <CRLF>.<CRLF>',
} as const;

/** Greeting to 354, for transcripts about message text. */
const INTO_DATA = `
  S~ 220
  C: HELO a.test
  S~ 250
  C: MAIL FROM: <a@a.test>
  S~ 250
  C: RCPT TO: <b@b.test>
  S~ 250
  C: DATA
  S~ 354`;

const REPLIES_BEFORE = ['HELO', 'MAIL', 'RCPT'].map((k) => ACCEPTED[k as keyof typeof ACCEPTED]);

/** Every line that is not the phase's own command: other verbs, look-alikes, empty lines and garbage. */
const WRONG_LINES = [
  'HELO xyz.com', 'HELO', 'EHLO xyz.com', 'HELOX foo', 'MAIL FROM: <a@xyz.com>', 'MAIL FROM:', 'MAIL TO: <a@xyz.com>',
  'RCPT TO: <b@abc.org>', 'RCPT TO:', 'DATA', 'DATA now', 'RSET', 'NOOP', 'VRFY root', 'HELP', 'EXPN list', 'STARTTLS',
  'AUTH PLAIN AGF1', 'QUIT now', '', '   ', 'GET / HTTP/1.1', '\u00e9\u00e8garbage', '!!!', 'x'.repeat(600),
];

describe('simplified dialect: the exact texts of the user\'s requirement', () => {
  it('walks one mail from greeting to QUIT with every reply verbatim', () => {
    const r = run(transcript`
      S: 220 ${SERVER} mailwire Simplified SMTP service ready
      C: HELO xyz.com
      S: 250 ${SERVER} Hello ${CLIENT}
      C: MAIL FROM: <alice@xyz.com>
      S: 250 2.1.0 Sender OK
      C: RCPT TO: <bob@abc.org>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: Subject: hello
      C:
      C: Hi Bob.
      C: .
      S: 250 Message received and to be delivered
      C: QUIT
      S: 221 ${SERVER} closing connection
    `);
    assert.equal(r.closed, true);
    assert.deepEqual(r.delivered, [
      { env: { helo: 'xyz.com', from: 'alice@xyz.com', to: ['bob@abc.org'] }, raw: 'Subject: hello\r\n\r\nHi Bob.\r\n' },
    ]);
  });

  describe('every wrong line in every phase gets that phase\'s 503 and the phase stays', () => {
    for (const phase of PHASES) {
      for (const wrong of WRONG_LINES.filter((l) => l !== phase.own)) {
        it(`${phase.name} phase: ${JSON.stringify(wrong.slice(0, 30))} → ${phase.refusal}`, () => {
          const lines = [...phase.before, wrong];
          const replies = REPLIES_BEFORE.slice(0, phase.before.length);
          const r = runPure(simplifiedDialect, lines.map((l) => `${l}\r\n`).join(''));
          assert.deepEqual(r.replies.slice(1), [...replies, phase.refusal].map((s) => s.replace(SERVER, PURE_NAMES.server).replace(CLIENT, PURE_NAMES.client)));
          assert.equal(r.closed, false);
          // The phase did not move: its own command is still accepted next.
          const after = runPure(simplifiedDialect, [...lines, phase.own].map((l) => `${l}\r\n`).join(''));
          assert.equal(after.replies.at(-1), ACCEPTED[phase.name].replace(SERVER, PURE_NAMES.server).replace(CLIENT, PURE_NAMES.client));
        });
      }
    }
  });

  describe('QUIT is answered in every command phase', () => {
    for (const phase of PHASES) {
      it(`QUIT in the ${phase.name} phase → 221 and close`, () => {
        const r = runPure(simplifiedDialect, [...phase.before, 'quit'].map((l) => `${l}\r\n`).join(''));
        assert.equal(r.replies.at(-1), `221 ${PURE_NAMES.server} closing connection`);
        assert.equal(r.closed, true);
        assert.equal(r.phase.kind, 'closed');
      });
    }
    it('QUIT after a finished message → 221', () => {
      run(transcript`
        S~ 220
        C: HELO a.test
        S~ 250
        C: MAIL FROM: <a@a.test>
        S~ 250
        C: RCPT TO: <b@b.test>
        S~ 250
        C: DATA
        S~ 354
        C: .
        S: 250 Message received and to be delivered
        C: QUIT
        S: 221 ${SERVER} closing connection
      `);
    });
  });

  it('inside a message, QUIT and 503-worthy lines are message text', () => {
    const r = run(transcript`
      ${INTO_DATA}
      C: QUIT
      C: HELO x
      C: .
      S: 250 Message received and to be delivered
    `);
    assert.equal(r.delivered[0]?.raw, 'QUIT\r\nHELO x\r\n');
  });

  it('takes two mails on one connection, each starting with HELO again (spec step 4: repeat step 3 from 3.a)', () => {
    const r = run(transcript`
      S~ 220
      C: HELO one.test
      S: 250 ${SERVER} Hello ${CLIENT}
      C: MAIL FROM: <a@one.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO: <b@two.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: first
      C: .
      S: 250 Message received and to be delivered
      # without HELO, the next MAIL is refused
      C: MAIL FROM: <c@one.test>
      S: 503 5.5.2 Send hello first
      C: HELO one.test
      S: 250 ${SERVER} Hello ${CLIENT}
      C: MAIL FROM: <c@one.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO: <d@two.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: second
      C: .
      S: 250 Message received and to be delivered
      C: QUIT
      S: 221 ${SERVER} closing connection
    `);
    assert.deepEqual(r.delivered.map((d) => [d.env.from, d.env.to, d.raw]), [
      ['a@one.test', ['b@two.test'], 'first\r\n'],
      ['c@one.test', ['d@two.test'], 'second\r\n'],
    ]);
  });

  it('accepts what telnet and nc send: any letter case, bare LF, MAIL FROM: with or without space or brackets', () => {
    const r = run(transcript`
      S~ 220
      L: helo xyz.com
      S: 250 ${SERVER} Hello ${CLIENT}
      L: mail from:alice@xyz.com
      S: 250 2.1.0 Sender OK
      C: Rcpt To:   <bob@abc.org>
      S: 250 2.1.5 Recipient OK
      L: data
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      C: .
      S: 250 Message received and to be delivered
      L: Quit
      S: 221 ${SERVER} closing connection
    `);
    assert.deepEqual(r.delivered[0]?.env, { helo: 'xyz.com', from: 'alice@xyz.com', to: ['bob@abc.org'] });
  });

  it('an empty message (DATA then "." at once) is zero bytes and gets the 250', () => {
    const r = run(transcript`
      S~ 220
      C: HELO a.test
      S~ 250
      C: MAIL FROM:<>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<b@b.test>
      S~ 250
      C: DATA
      S~ 354
      C: .
      S: 250 Message received and to be delivered
    `);
    assert.deepEqual(r.delivered, [{ env: { helo: 'a.test', from: '', to: ['b@b.test'] }, raw: '' }]);
  });

  it('undoes dot-stuffing: "..x" is ".x", ".." is ".", and a lone dot ends only after CRLF', () => {
    const r = run(transcript`
      ${INTO_DATA}
      C: ..x
      C: ..
      C: ...
      C: a.b
      C: .
      S: 250 Message received and to be delivered
    `);
    assert.equal(r.delivered[0]?.raw, '.x\r\n.\r\n..\r\na.b\r\n');
  });

  it('a bare-LF "." is message text, never the end of data (SMTP smuggling)', () => {
    const r = run(transcript`
      ${INTO_DATA}
      L: line one
      C: .
      L: .
      C: MAIL FROM: <smuggled@evil.test>
      C: .
      S: 250 Message received and to be delivered
    `);
    assert.equal(r.delivered.length, 1);
    assert.equal(r.delivered[0]?.raw, 'line one\n.\r\n.\nMAIL FROM: <smuggled@evil.test>\r\n');
  });

  it('keeps bare CR and 8-bit bytes in message text exactly', () => {
    const r = run(transcript`
      ${INTO_DATA}
      C: caf\u00c3\u00a9 a\rb
      C: .
      S: 250 Message received and to be delivered
    `);
    assert.equal(r.delivered[0]?.raw, 'caf\u00c3\u00a9 a\rb\r\n');
  });

  it('streams a text line longer than 998 octets through whole', () => {
    const long = 'y'.repeat(5000);
    const r = run(transcript`
      ${INTO_DATA}
      C: .${long}
      C: .
      S: 250 Message received and to be delivered
    `);
    assert.equal(r.delivered[0]?.raw, `${long}\r\n`);
  });

  it('answers an over-long command line once, with the phase\'s 503, and goes on', () => {
    run(transcript`
      S~ 220
      C: HELO ${'h'.repeat(2000)}
      S: 503 5.5.2 Send hello first
      C: HELO ok.test
      S: 250 ${SERVER} Hello ${CLIENT}
    `);
  });

  it('reads a message past the size limit to its end, keeps nothing and answers 552', () => {
    const r = run(transcript`
      ${INTO_DATA}
      C: ${'z'.repeat(60)}
      C: ${'z'.repeat(60)}
      C: .
      S: 552 5.3.4 Message too big for system
      C: HELO a.test
      S: 250 ${SERVER} Hello ${CLIENT}
    `, { maxMessageBytes: 100 });
    assert.deepEqual(r.delivered, []);
  });

  it('a store failure gets 451 and the session goes on', () => {
    const r = runPure(simplifiedDialect, 'HELO a\r\nMAIL FROM: <a@a.test>\r\nRCPT TO: <b@b.test>\r\nDATA\r\nx\r\n.\r\nHELO a\r\n', { storeFails: true });
    assert.deepEqual(r.replies.slice(-2), ['451 4.3.0 Message not stored; try again later', `250 ${PURE_NAMES.server} Hello ${PURE_NAMES.client}`]);
  });

  it('pipelined commands in one packet get their replies in order', () => {
    const r = runPure(simplifiedDialect, 'HELO a\r\nMAIL FROM: <a@a.test>\r\nRCPT TO: <b@b.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n');
    assert.deepEqual(r.replies.slice(1).map((l) => l.slice(0, 3)), ['250', '250', '250', '354', '250', '221']);
  });
});
