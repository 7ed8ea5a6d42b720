/**
 * Fault injection against the real server over real sockets: every `on`, every `when` and every `do`, with the exact
 * replies on the wire, what the core was left with (a refused MAIL starts no transaction, a refused RCPT adds no
 * recipient, a refused message is not stored), the transcript's `[fault: rule N]` lines and each rule's counters.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { FaultController } from '../../src/faults/controller.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { createAuthenticator } from '../../src/smtp/server/auth.js';
import { selfSignedPem } from '../../src/net/tls.js';
import type { SessionRecord } from '../../src/store/types.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';
import { waitFor } from '../helpers/wait.js';

const GREETING = '220 127.0.0.1 ESMTP mailwire ready';
const PLAIN_ALICE = Buffer.from('\0alice\0secret').toString('base64');

/** Sends one command line and returns the reply's lines (a multi-line reply read to its last line). */
async function say(conn: SocketLines, line: string): Promise<string[]> {
  conn.write(`${line}\r\n`);
  return replyOf(conn);
}
async function replyOf(conn: SocketLines): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 50; i++) {
    const l = await conn.next();
    if (l === null) return [...out, '(closed)'];
    out.push(l);
    if (/^\d{3} /.test(l) || !/^\d{3}-/.test(l)) return out;
  }
  throw new Error('reply longer than 50 lines');
}
const last = (lines: string[]): string => lines[lines.length - 1] ?? '';

/** Opens a session and says EHLO; returns the connection. */
async function hello(port: number, name = 'client.test'): Promise<SocketLines> {
  const conn = await SocketLines.open(port);
  assert.equal(await conn.next(), GREETING);
  assert.match(last(await say(conn, `EHLO ${name}`)), /^250 /);
  return conn;
}

describe('fault injection, smtp dialect, over real sockets', () => {
  const sink = createCaptureSink();
  const faults = new FaultController({ dialect: 'smtp' });
  let t: Awaited<ReturnType<typeof startTestServer>>;
  let port = 0;
  before(async () => {
    t = await startTestServer({
      sink, dialect: smtpDialect, faults, tls: await selfSignedPem(['localhost']),
      auth: createAuthenticator([{ user: 'alice', password: 'secret' }], true),
    });
    port = t.server.port;
  });
  after(() => t.server.close(2000));
  beforeEach(() => faults.clear());

  const load = (doc: unknown): void => {
    const r = faults.load(doc);
    assert.ok(r.ok, r.ok ? '' : r.error);
  };
  const counts = () => faults.view().rules.map((r) => [r.matched, r.fired]);
  /** The recorded session of the connection from local `port`, once the server has saved it. */
  async function sessionOf(port: number | undefined): Promise<SessionRecord> {
    return waitFor(`the session from port ${port} to be recorded`, () => sink.sessions.find((x) => x.connection.clientPort === port), { everyMs: 10 });
  }
  const faultLines = (s: SessionRecord): string[] => s.transcript.filter((l) => l.text.startsWith('[fault')).map((l) => l.text);

  it('connect + reply: the injected line replaces the greeting and the session ends', async () => {
    load({ rules: [{ on: 'connect', reply: '421 4.7.0 Too many connections, slow down' }] });
    const conn = await SocketLines.open(port);
    const local = conn.socket.localPort;
    assert.equal(await conn.next(), '421 4.7.0 Too many connections, slow down');
    assert.equal(await conn.closedByServer(), true);
    const s = await sessionOf(local);
    assert.deepEqual(faultLines(s), ['[fault: rule 1]']);
    assert.equal(s.end, 'fault');
    assert.deepEqual(s.connection.faults, [1]);
    assert.deepEqual(counts(), [[1, 1]]);
  });

  it('helo + disconnect: the named HELO is cut off without a reply, another is served', async () => {
    load({ rules: [{ on: 'helo', helo: 'drop.test', disconnect: true }] });
    const conn = await SocketLines.open(port);
    await conn.next();
    assert.deepEqual(await say(conn, 'EHLO DROP.test'), ['(closed)']);
    const ok = await SocketLines.open(port);
    await ok.next();
    assert.equal(last(await say(ok, 'HELO fine.test')), '250 127.0.0.1 Hello 127.0.0.1');
    assert.equal(last(await say(ok, 'QUIT')), '221 2.0.0 127.0.0.1 closing connection');
    assert.deepEqual(counts(), [[1, 1]]);
  });

  it('mail + every: the 3rd and 6th MAIL get the reply, and a refused MAIL starts no transaction', async () => {
    load({ seed: 42, rules: [{ on: 'mail', every: 3, reply: '451 4.3.0 Try again later' }] });
    const conn = await hello(port);
    const got: string[] = [];
    for (let i = 1; i <= 6; i++) {
      got.push(last(await say(conn, `MAIL FROM:<a${i}@x.test>`)));
      if (got.at(-1)?.startsWith('250')) assert.equal(last(await say(conn, 'RSET')), '250 2.0.0 OK');
      else assert.equal(last(await say(conn, 'RCPT TO:<b@y.test>')), '503 5.5.1 Need MAIL command first');
    }
    assert.deepEqual(got, ['250 2.1.0 Sender OK', '250 2.1.0 Sender OK', '451 4.3.0 Try again later',
      '250 2.1.0 Sender OK', '250 2.1.0 Sender OK', '451 4.3.0 Try again later']);
    assert.deepEqual(counts(), [[6, 2]]);
    conn.socket.destroy();
  });

  it('rcpt + to glob: that recipient alone is refused, the message goes to the others', async () => {
    load({ rules: [{ on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' }] });
    const n = sink.messages.length;
    const conn = await hello(port);
    assert.equal(last(await say(conn, 'MAIL FROM:<a@x.test>')), '250 2.1.0 Sender OK');
    assert.equal(last(await say(conn, 'RCPT TO:<gone@Bounce.TEST>')), '550 5.1.1 No such user here');
    assert.equal(last(await say(conn, 'RCPT TO:<ok@y.test>')), '250 2.1.5 Recipient OK');
    assert.equal(last(await say(conn, 'DATA')), '354 End data with <CR><LF>.<CR><LF>');
    conn.write('Subject: hi\r\n\r\nhello\r\n.\r\n');
    assert.match(last(await replyOf(conn)), /^250 2\.0\.0 OK: queued as /);
    assert.equal(sink.messages.length, n + 1);
    assert.deepEqual(sink.messages.at(-1)?.envelope.to, ['ok@y.test']);
    assert.deepEqual(counts(), [[1, 1]]);
    conn.socket.destroy();
  });

  it('rcpt + after: all after the first N are refused', async () => {
    load({ rules: [{ on: 'rcpt', after: 2, reply: '452 4.5.3 Too many recipients' }] });
    const conn = await hello(port);
    await say(conn, 'MAIL FROM:<a@x.test>');
    const got: string[] = [];
    for (let i = 1; i <= 4; i++) got.push(last(await say(conn, `RCPT TO:<r${i}@y.test>`)));
    assert.deepEqual(got, ['250 2.1.5 Recipient OK', '250 2.1.5 Recipient OK', '452 4.5.3 Too many recipients', '452 4.5.3 Too many recipients']);
    assert.deepEqual(counts(), [[4, 2]]);
    conn.socket.destroy();
  });

  it('data + first: only the first DATA is refused, and the transaction stays for the next', async () => {
    load({ rules: [{ on: 'data', first: 1, reply: '451 4.3.0 Not now' }] });
    const n = sink.messages.length;
    const conn = await hello(port);
    await say(conn, 'MAIL FROM:<a@x.test>');
    await say(conn, 'RCPT TO:<b@y.test>');
    assert.equal(last(await say(conn, 'DATA')), '451 4.3.0 Not now');
    assert.equal(last(await say(conn, 'DATA')), '354 End data with <CR><LF>.<CR><LF>');
    conn.write('Subject: second\r\n\r\nok\r\n.\r\n');
    assert.match(last(await replyOf(conn)), /^250 /);
    assert.equal(sink.messages.length, n + 1);
    assert.deepEqual(counts(), [[2, 1]]);
    conn.socket.destroy();
  });

  it('data on BDAT: the refused chunk\'s octets are read and dropped, never taken as commands', async () => {
    load({ rules: [{ on: 'data', first: 1, reply: '451 4.3.0 Not now' }] });
    const n = sink.messages.length;
    const conn = await hello(port);
    await say(conn, 'MAIL FROM:<a@x.test>');
    await say(conn, 'RCPT TO:<b@y.test>');
    conn.write('BDAT 12 LAST\r\nQUIT\r\nQUIT\r\n');
    assert.deepEqual(await replyOf(conn), ['451 4.3.0 Not now']);
    conn.write('BDAT 9 LAST\r\nX: y\r\n\r\nz');
    assert.match(last(await replyOf(conn)), /^250 2\.0\.0 OK: queued as /);
    assert.equal(sink.messages.length, n + 1);
    assert.match(sink.messages.at(-1)?.raw.toString('latin1') ?? '', /\r\nX: y\r\n\r\nz$/);
    assert.deepEqual(counts(), [[2, 1]]);
    conn.socket.destroy();
  });

  it('data-end + probability 1: the message is refused with the reply and not stored; the session goes on', async () => {
    load({ seed: 7, rules: [{ on: 'data-end', probability: 1, reply: '452 4.3.1 Insufficient system storage' }] });
    const n = sink.messages.length;
    const conn = await hello(port);
    await say(conn, 'MAIL FROM:<a@x.test>');
    await say(conn, 'RCPT TO:<b@y.test>');
    await say(conn, 'DATA');
    conn.write('Subject: refused\r\n\r\nno\r\n.\r\n');
    assert.deepEqual(await replyOf(conn), ['452 4.3.1 Insufficient system storage']);
    assert.equal(last(await say(conn, 'MAIL FROM:<a@x.test>')), '250 2.1.0 Sender OK');
    assert.equal(sink.messages.length, n);
    assert.deepEqual(counts(), [[1, 1]]);
    conn.socket.destroy();
  });

  it('data-end + delay: the message is stored after the delay, and the session reads on', async () => {
    load({ rules: [{ on: 'data-end', delay: '50ms' }] });
    const n = sink.messages.length;
    const conn = await hello(port);
    await say(conn, 'MAIL FROM:<a@x.test>');
    await say(conn, 'RCPT TO:<b@y.test>');
    await say(conn, 'DATA');
    conn.write('Subject: slow\r\n\r\nslow\r\n.\r\n');
    assert.match(last(await replyOf(conn)), /^250 2\.0\.0 OK: queued as /);
    assert.equal(last(await say(conn, 'MAIL FROM:<c@x.test>')), '250 2.1.0 Sender OK');
    assert.equal(sink.messages.length, n + 1);
    assert.deepEqual(counts(), [[1, 1]]);
    conn.socket.destroy();
  });

  it('data-end + disconnect: the connection drops at the final dot and nothing is stored', async () => {
    load({ rules: [{ on: 'data-end', from: 'drop@*', disconnect: true }] });
    const n = sink.messages.length;
    const conn = await hello(port);
    const local = conn.socket.localPort;
    await say(conn, 'MAIL FROM:<drop@x.test>');
    await say(conn, 'RCPT TO:<b@y.test>');
    await say(conn, 'DATA');
    conn.write('Subject: dropped\r\n\r\nno\r\n.\r\n');
    assert.deepEqual(await replyOf(conn), ['(closed)']);
    const s = await sessionOf(local);
    assert.equal(s.end, 'fault');
    assert.deepEqual(faultLines(s), ['[fault: rule 1]']);
    assert.equal(sink.messages.length, n);
  });

  it('auth + first: the first AUTH is refused and leaves the session unauthenticated; the next succeeds', async () => {
    load({ rules: [{ on: 'auth', first: 1, reply: '454 4.7.0 Temporary authentication failure' }, { on: 'mail', user: 'alice', reply: '550 5.7.1 alice may not send' }] });
    const conn = await hello(port);
    assert.equal(last(await say(conn, `AUTH PLAIN ${PLAIN_ALICE}`)), '454 4.7.0 Temporary authentication failure');
    assert.equal(last(await say(conn, 'MAIL FROM:<a@x.test>')), '250 2.1.0 Sender OK'); // not alice yet
    await say(conn, 'RSET');
    assert.equal(last(await say(conn, `AUTH PLAIN ${PLAIN_ALICE}`)), '235 2.7.0 Authentication successful');
    assert.equal(last(await say(conn, 'MAIL FROM:<a@x.test>')), '550 5.7.1 alice may not send');
    assert.deepEqual(counts(), [[2, 1], [1, 1]]);
    conn.socket.destroy();
  });

  it('starttls + reply: STARTTLS is refused and the session stays in plain text', async () => {
    load({ rules: [{ on: 'starttls', reply: '454 4.7.0 TLS not available due to temporary reason' }] });
    const conn = await hello(port);
    assert.equal(last(await say(conn, 'STARTTLS')), '454 4.7.0 TLS not available due to temporary reason');
    assert.equal(last(await say(conn, 'NOOP')), '250 2.0.0 OK');
    assert.deepEqual(counts(), [[1, 1]]);
    conn.socket.destroy();
  });

  it('an injected 421 closes the connection after it', async () => {
    load({ rules: [{ on: 'mail', reply: '421 4.3.2 Going away' }] });
    const conn = await hello(port);
    assert.deepEqual(await say(conn, 'MAIL FROM:<a@x.test>'), ['421 4.3.2 Going away']);
    assert.equal(await conn.closedByServer(), true);
  });

  it('client CIDR: a rule for another network never fires', async () => {
    load({ rules: [{ on: 'mail', client: '10.0.0.0/8', reply: '550 5.7.1 not you' }, { on: 'mail', client: '127.0.0.0/8', reply: '550 5.7.1 you' }] });
    const conn = await hello(port);
    assert.equal(last(await say(conn, 'MAIL FROM:<a@x.test>')), '550 5.7.1 you');
    assert.deepEqual(counts(), [[0, 0], [1, 1]]);
    conn.socket.destroy();
  });

  it('delay + reply: the reply comes after the delay, and pipelined commands behind it wait their turn', async () => {
    load({ rules: [{ on: 'mail', delay: '300ms' }, { on: 'rcpt', to: 'x@*', delay: '100ms', reply: '451 4.3.0 Slowly no' }] });
    const conn = await hello(port);
    const local = conn.socket.localPort;
    conn.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<x@y.test>\r\nRCPT TO:<b@y.test>\r\nQUIT\r\n');
    const got = [];
    for (let i = 0; i < 5; i++) got.push(await conn.next());
    assert.deepEqual(got, ['250 2.1.0 Sender OK', '451 4.3.0 Slowly no', '250 2.1.5 Recipient OK', '221 2.0.0 127.0.0.1 closing connection', null]);
    const s = await sessionOf(local);
    const texts = s.transcript.map((l) => `${l.dir} ${l.text}`);
    // Each fault line comes right before the reply it changed.
    assert.deepEqual(texts.slice(texts.indexOf('client MAIL FROM:<a@x.test>'), texts.indexOf('client MAIL FROM:<a@x.test>') + 6), [
      'client MAIL FROM:<a@x.test>', 'info [fault: rule 1]', 'server 250 2.1.0 Sender OK',
      'client RCPT TO:<x@y.test>', 'info [fault: rule 2]', 'server 451 4.3.0 Slowly no',
    ]);
  });

  it('a delayed session never holds up another: the normal client finishes while the delayed one still waits', async () => {
    load({ rules: [{ on: 'mail', from: 'slow@*', delay: '1h' }] });
    const slow = await hello(port);
    slow.write('MAIL FROM:<slow@x.test>\r\n');
    // Wait until the server has taken the slow MAIL (its rule counted it), then run a whole normal session.
    await waitFor('the slow MAIL to be matched', () => faults.view().rules[0]?.matched === 1, { everyMs: 5 });
    const fast = await hello(port);
    assert.equal(last(await say(fast, 'MAIL FROM:<fast@x.test>')), '250 2.1.0 Sender OK');
    assert.equal(last(await say(fast, 'RCPT TO:<b@y.test>')), '250 2.1.5 Recipient OK');
    assert.equal(last(await say(fast, 'DATA')), '354 End data with <CR><LF>.<CR><LF>');
    fast.write('Subject: fast\r\n\r\nfast\r\n.\r\n');
    assert.match(last(await replyOf(fast)), /^250 /);
    assert.equal(last(await say(fast, 'QUIT')), '221 2.0.0 127.0.0.1 closing connection');
    // The slow one has had no reply to its MAIL all this while.
    await assert.rejects(slow.next(50), /no line from the server/);
    slow.socket.destroy();
  });
});

describe('fault injection: delays are bounded by the session\'s idle timeout', () => {
  it('a delay of an hour is cut to the idle timeout, and the reply then comes', async () => {
    const faults = new FaultController({ dialect: 'smtp' });
    assert.ok(faults.load({ rules: [{ on: 'mail', delay: '1h' }] }).ok);
    const t = await startTestServer({ dialect: smtpDialect, faults, limits: { idleTimeoutMs: 300 } });
    try {
      const conn = await hello(t.server.port);
      conn.write('MAIL FROM:<a@x.test>\r\n');
      // Well inside the hour: the 5 s deadline of next() fails loudly if the delay were not cut.
      assert.equal(await conn.next(5000), '250 2.1.0 Sender OK');
      // And the idle timeout itself still works afterwards.
      assert.equal(await conn.next(5000), '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
    } finally {
      await t.server.close(1000);
    }
  });
});

describe('fault injection, simplified dialect', () => {
  it('delays and disconnects, with the dialect\'s own replies', async () => {
    const faults = new FaultController({ dialect: 'simplified' });
    assert.ok(faults.load({ rules: [{ on: 'rcpt', to: 'cut@*', disconnect: true }, { on: 'mail', delay: '100ms' }] }).ok);
    const sink = createCaptureSink();
    const t = await startTestServer({ sink, dialect: simplifiedDialect, faults });
    try {
      const conn = await SocketLines.open(t.server.port);
      assert.equal(await conn.next(), '220 127.0.0.1 mailwire Simplified SMTP service ready');
      assert.deepEqual(await say(conn, 'HELO a.test'), ['250 127.0.0.1 Hello 127.0.0.1']);
      assert.deepEqual(await say(conn, 'MAIL FROM: <a@x.test>'), ['250 2.1.0 Sender OK']);
      assert.deepEqual(await say(conn, 'RCPT TO: <cut@y.test>'), ['(closed)']);
      assert.deepEqual(faults.view().rules.map((r) => [r.matched, r.fired]), [[1, 1], [1, 1]]);
    } finally {
      await t.server.close(1000);
    }
  });
});

describe('fault injection: greylisting as a real client meets it', () => {
  it('nodemailer is refused 451 4.7.1 the first time and succeeds on the second send', async () => {
    const faults = new FaultController({ dialect: 'smtp' });
    assert.ok(faults.load({ rules: [{ on: 'rcpt', greylist: { attempts: 1, for: '5m' } }] }).ok);
    const sink = createCaptureSink();
    const t = await startTestServer({ sink, dialect: smtpDialect, faults });
    try {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: t.server.port, secure: false, ignoreTLS: true });
      const mail = { from: 'a@x.test', to: 'b@y.test', subject: 'grey', text: 'hello' };
      const first = await transport.sendMail(mail).then(() => null, (e: unknown) => e as { responseCode?: number; response?: string; code?: string });
      assert.ok(first, 'the first send should fail');
      assert.equal(first.responseCode, 451);
      assert.equal(first.response, '451 4.7.1 Greylisted, please try again later');
      assert.equal(sink.messages.length, 0);
      const second = await transport.sendMail(mail);
      assert.deepEqual(second.accepted, ['b@y.test']);
      assert.equal(sink.messages.length, 1);
      assert.deepEqual(faults.view().rules.map((r) => [r.matched, r.fired]), [[2, 1]]);
      transport.close();
    } finally {
      await t.server.close(1000);
    }
  });
});

describe('fault injection: rate limit under concurrent connections', () => {
  it('of 12 connections at once, exactly the 9 over max 3 get the 421', async () => {
    const faults = new FaultController({ dialect: 'smtp' });
    assert.ok(faults.load({ rules: [{ on: 'connect', rate: { max: 3, per: '1m', key: 'client' }, reply: '421 4.7.0 Too many connections, slow down' }] }).ok);
    const t = await startTestServer({ dialect: smtpDialect, faults });
    try {
      const conns = await Promise.all(Array.from({ length: 12 }, () => SocketLines.open(t.server.port)));
      const greetings = await Promise.all(conns.map((c) => c.next()));
      assert.equal(greetings.filter((g) => g === GREETING).length, 3);
      assert.equal(greetings.filter((g) => g === '421 4.7.0 Too many connections, slow down').length, 9);
      assert.deepEqual(faults.view().rules.map((r) => [r.matched, r.fired]), [[12, 9]]);
      for (const c of conns) c.socket.destroy();
    } finally {
      await t.server.close(1000);
    }
  });
});

describe('fault injection is reproducible', () => {
  it('the same seed and the same order of events give the same faulted sequence; another seed another', async () => {
    const faults = new FaultController({ dialect: 'smtp' });
    const t = await startTestServer({ dialect: smtpDialect, faults });
    const run = async (seed: number): Promise<string> => {
      assert.ok(faults.load({ seed, rules: [{ on: 'rcpt', probability: 0.4, reply: '451 4.3.0 Maybe later' }] }).ok);
      const conn = await hello(t.server.port);
      await say(conn, 'MAIL FROM:<a@x.test>');
      const codes: string[] = [];
      for (let i = 0; i < 40; i++) codes.push(last(await say(conn, `RCPT TO:<r${i}@y.test>`)).slice(0, 3));
      conn.socket.destroy();
      return codes.join(' ');
    };
    try {
      const a = await run(42);
      assert.equal(await run(42), a);
      assert.notEqual(await run(4242), a);
      assert.match(a, /451/);
      assert.match(a, /250/);
    } finally {
      await t.server.close(1000);
    }
  });
});
