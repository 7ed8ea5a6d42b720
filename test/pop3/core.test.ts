/**
 * The pure POP3 session: whole dialogues as transcripts, the same wire bytes fed split at every offset (and one byte
 * at a time) giving the same bytes back, bad input answered with -ERR and a reason while the session goes on, and
 * dot-stuffing that a client undoes to the stored bytes exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter } from '../../src/smtp/core/line-splitter.js';
import { dotStuff, topOf } from '../../src/pop3/core/dot-stuffing.js';
import { Pop3Session, type Action, type Pop3Config } from '../../src/pop3/core/session.js';

const CFG: Pop3Config = { serverName: 'mw', loginAllowed: true, tlsAvailable: false, maxErrors: 20, maxLineBytes: 1024 };
const RAW = new Map<number, Buffer>([
  [7, Buffer.from('Subject: one\r\n\r\n.dot\r\nbody\r\n', 'latin1')],
  [9, Buffer.from('Subject: two\r\n\r\nno end', 'latin1')],
]);

/**
 * A fake shell: feeds the wire bytes in the given pieces through a LineSplitter, answers the session's actions at
 * once from RAW (as the real shell does after its await), and returns every byte the session sent.
 */
function converse(pieces: readonly Buffer[], cfg: Pop3Config = CFG, password = 'pw'): { out: string; updates: number[][] } {
  const session = new Pop3Session(cfg);
  const splitter = new LineSplitter();
  let out = '';
  const updates: number[][] = [];
  let closed = false;
  const apply = (actions: readonly Action[]): void => {
    for (const a of actions) {
      if (a.type === 'reply') out += `${a.text}\r\n`;
      else if (a.type === 'send') out += a.bytes.toString('latin1');
      else if (a.type === 'login') apply(session.feed(a.password === password ? { type: 'logged-in', messages: [{ uid: 7, size: 28 }, { uid: 9, size: 22 }] } : { type: 'login-failed', code: 'AUTH', reason: 'wrong user name or password' }));
      else if (a.type === 'fetch') {
        const raw = RAW.get(a.uid);
        apply(session.feed(raw ? { type: 'content', raw } : { type: 'content-missing' }));
      } else if (a.type === 'update') {
        updates.push([...a.uids]);
        apply(session.feed({ type: 'updated', failed: 0 }));
      } else if (a.type === 'close') closed = true;
    }
  };
  apply(session.greet());
  for (const piece of pieces) {
    splitter.push(piece);
    for (let line = splitter.next(1024, 'truncate'); line !== null && !closed; line = splitter.next(1024, 'truncate')) {
      apply(session.feed({ type: 'line', line: line.text, overflow: line.overflow }));
    }
  }
  return { out, updates };
}

const DIALOGUE = [
  'CAPA', 'USER qa@x.test', 'PASS pw', 'STAT', 'LIST', 'UIDL 2', 'RETR 1', 'TOP 2 0', 'DELE 1', 'LIST 1', 'STAT', 'RSET', 'DELE 2', 'QUIT',
].map((l) => `${l}\r\n`).join('');

const EXPECTED = [
  '+OK mw POP3 ready',
  '+OK capabilities follow', 'TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'USER', 'SASL PLAIN', 'IMPLEMENTATION mailwire', '.',
  '+OK send PASS',
  '+OK qa@x.test has 2 messages (50 octets)',
  '+OK 2 50',
  '+OK scan listing follows', '1 28', '2 22', '.',
  '+OK 2 9',
  '+OK 28 octets', 'Subject: one', '', '..dot', 'body', '.',
  '+OK top of message follows', 'Subject: two', '', '.',
  '+OK message 1 deleted (removed from the inbox at QUIT)',
  '-ERR message 1 is deleted',
  '+OK 1 22',
  '+OK 2 messages (50 octets), none deleted',
  '+OK message 2 deleted (removed from the inbox at QUIT)',
  '+OK bye, 1 messages deleted',
].map((l) => `${l}\r\n`).join('');

/** The actions without the 'command' notes (metrics): what goes to the wire and to the store. */
const replies = (actions: readonly Action[]): Action[] => actions.filter((a) => a.type !== 'command');

describe('POP3 core', () => {
  it('answers a whole dialogue with the exact bytes, deletions only at QUIT', () => {
    const r = converse([Buffer.from(DIALOGUE, 'latin1')]);
    assert.equal(r.out, EXPECTED);
    assert.deepEqual(r.updates, [[9]]);
  });

  it('gives the same bytes for the dialogue split at every offset, and fed one byte at a time', () => {
    const wire = Buffer.from(DIALOGUE, 'latin1');
    for (let at = 0; at <= wire.length; at++) {
      assert.equal(converse([wire.subarray(0, at), wire.subarray(at)]).out, EXPECTED, `split at ${at}`);
    }
    assert.equal(converse([...wire].map((b) => Buffer.from([b]))).out, EXPECTED);
  });

  it('logs in with AUTH PLAIN, with an initial response and after a continuation', () => {
    const token = Buffer.from('\0qa@x.test\0pw').toString('base64');
    assert.match(converse([Buffer.from(`AUTH PLAIN ${token}\r\nSTAT\r\n`)]).out, /\+OK qa@x\.test has 2 messages \(50 octets\)\r\n\+OK 2 50\r\n$/);
    assert.match(converse([Buffer.from(`AUTH PLAIN\r\n${token}\r\nSTAT\r\n`)]).out, /\r\n\+ \r\n\+OK qa@x\.test has 2 messages/);
  });

  const refusals: readonly (readonly [string[], string, string])[] = [
    [[], 'STAT', '-ERR STAT needs a login first: USER inbox@address, then PASS'],
    [[], 'RETR 1', '-ERR RETR needs a login first: USER inbox@address, then PASS'],
    [[], 'PASS pw', '-ERR PASS needs USER first'],
    [[], 'FROB', '-ERR unknown command "FROB"; try CAPA'],
    [[], '', '-ERR empty command line'],
    [[], 'AUTH CRAM-MD5', '-ERR mechanism "CRAM-MD5" is not offered; use AUTH PLAIN'],
    [[], 'AUTH PLAIN !!!!', '-ERR [AUTH] AUTH PLAIN wants base64 of authzid NUL user NUL password (RFC 4616)'],
    [[], 'STLS', '-ERR STLS is not offered: the server has no certificate (--tls-cert or --tls-self-signed)'],
    [['USER qa@x.test'], 'PASS wrong', '-ERR [AUTH] wrong user name or password'],
    [['USER qa@x.test', 'PASS pw'], 'RETR 0', '-ERR no message 0: there are 2 messages'],
    [['USER qa@x.test', 'PASS pw'], 'RETR 3', '-ERR no message 3: there are 2 messages'],
    [['USER qa@x.test', 'PASS pw'], 'RETR 4294967296', '-ERR RETR needs a message number, e.g. RETR 1'],
    [['USER qa@x.test', 'PASS pw'], 'RETR', '-ERR RETR needs a message number, e.g. RETR 1'],
    [['USER qa@x.test', 'PASS pw'], 'TOP 1', '-ERR TOP needs a message number and a line count, e.g. TOP 1 10'],
    [['USER qa@x.test', 'PASS pw'], 'LIST 1 2', '-ERR LIST takes an optional message number'],
    [['USER qa@x.test', 'PASS pw'], 'USER b@x.test', '-ERR USER is allowed only before login'],
    [['USER qa@x.test', 'PASS pw', 'DELE 1'], 'RETR 1', '-ERR message 1 is deleted'],
    [[], 'X'.repeat(2000), '-ERR line too long: a command line here is at most 1024 octets'],
  ];
  for (const [before, line, want] of refusals) {
    it(`answers ${JSON.stringify(line.slice(0, 30))} after [${before.join(' | ')}] with ${want} and goes on`, () => {
      const wire = Buffer.from([...before, line, 'NOOP', 'QUIT'].map((l) => `${l}\r\n`).join(''), 'latin1');
      const lines = converse([wire]).out.split('\r\n');
      const at = 1 + before.length;
      assert.equal(lines[at], want, lines.join('\n'));
      // The session lives: NOOP (allowed after login) or its refusal, then QUIT's goodbye.
      assert.match(lines[at + 2] ?? '', /^\+OK bye/, lines.join('\n'));
    });
  }

  it('refuses USER/PASS and AUTH before STLS off loopback, and offers neither in CAPA', () => {
    const r = converse([Buffer.from('CAPA\r\nUSER qa@x.test\r\nAUTH PLAIN\r\nQUIT\r\n')], { ...CFG, loginAllowed: false, tlsAvailable: true });
    assert.equal(r.out, [
      '+OK mw POP3 ready', '+OK capabilities follow', 'TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'STLS', 'IMPLEMENTATION mailwire', '.',
      '-ERR [AUTH] login is refused on this connection before STLS: plain-text passwords only on loopback or under TLS',
      '-ERR [AUTH] login is refused on this connection before STLS: plain-text passwords only on loopback or under TLS',
      '+OK bye', '',
    ].join('\r\n'));
  });

  it('holds pipelined lines while a fetch is outstanding and answers them after it, in order', () => {
    const s = new Pop3Session(CFG);
    s.greet();
    s.feed({ type: 'line', line: 'USER qa@x.test', overflow: false });
    assert.deepEqual(replies(s.feed({ type: 'line', line: 'PASS pw', overflow: false })), [{ type: 'login', user: 'qa@x.test', password: 'pw' }]);
    assert.deepEqual(replies(s.feed({ type: 'line', line: 'STAT', overflow: false })), [], 'STAT waits for the login');
    const afterLogin = replies(s.feed({ type: 'logged-in', messages: [{ uid: 7, size: 28 }] }));
    assert.deepEqual(afterLogin, [{ type: 'reply', text: '+OK qa@x.test has 1 messages (28 octets)' }, { type: 'reply', text: '+OK 1 28' }]);
    assert.deepEqual(replies(s.feed({ type: 'line', line: 'RETR 1', overflow: false })), [{ type: 'fetch', uid: 7 }]);
    assert.deepEqual(replies(s.feed({ type: 'line', line: 'NOOP', overflow: false })), []);
    const after = replies(s.feed({ type: 'content-missing' }));
    assert.deepEqual(after, [{ type: 'reply', text: '-ERR message 1 is no longer in the store (deleted meanwhile)' }, { type: 'reply', text: '+OK ' }]);
  });

  it('ends the session after too many errors', () => {
    const r = converse([Buffer.from('X\r\nX\r\nX\r\nNOOP\r\n')], { ...CFG, maxErrors: 3 });
    assert.match(r.out, /-ERR unknown command "X"; try CAPA; too many errors, closing\r\n$/);
  });
});

describe('POP3 dot-stuffing', () => {
  /** What a client does: drop the terminator, undo the stuffing line by line. */
  const unstuff = (wire: Buffer): Buffer => {
    const text = wire.toString('latin1');
    assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', 'terminated by CRLF . CRLF');
    return Buffer.from(text.slice(0, -3).replace(/(^|\n)\./g, '$1'), 'latin1');
  };
  const cases = ['', 'a\r\n', '.\r\n', '..\r\n', 'x\r\n.\r\ny\r\n', '.a\n.b\r\n.', 'no end', 'a\r\n\r\n.\r\n.\r\n'];
  for (const c of cases) {
    it(`stuffs ${JSON.stringify(c)} so that unstuffing gives it back (plus CRLF where it had none)`, () => {
      const raw = Buffer.from(c, 'latin1');
      const want = c === '' || c.endsWith('\r\n') ? c : `${c}\r\n`;
      assert.equal(unstuff(dotStuff(raw)).toString('latin1'), want);
    });
  }
  it('cuts TOP after the header, the blank line and n body lines', () => {
    const raw = Buffer.from('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n', 'latin1');
    assert.equal(topOf(raw, 0).toString(), 'A: 1\r\nB: 2\r\n\r\n');
    assert.equal(topOf(raw, 2).toString(), 'A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n');
    assert.equal(topOf(raw, 99).toString(), raw.toString());
    assert.equal(topOf(Buffer.from('\r\nbody\r\n'), 0).toString(), '\r\n');
  });
});
