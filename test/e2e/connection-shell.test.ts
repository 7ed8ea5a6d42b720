/**
 * The connection shell's own timing and flow, over real sockets: the DATA deadline of each message, the idle timeout,
 * and input that arrives while a message is being stored.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import type { IncomingMessage, MessageSink } from '../../src/store/types.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';
import { ManualClock } from '../helpers/manual-clock.js';

async function lines(conn: SocketLines, n: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await conn.next());
  return out;
}

/** A sink whose saves wait until the test lets them go; `saving` resolves once a save has begun. */
function gatedSink(): MessageSink & { saved: IncomingMessage[]; saving: () => Promise<void>; release: () => void } {
  const saved: IncomingMessage[] = [];
  let started: () => void = () => {};
  let startedPromise = new Promise<void>((resolve) => (started = resolve));
  let release: () => void = () => {};
  return {
    saved,
    saving: () => startedPromise,
    release: () => release(),
    save(m) {
      started();
      return new Promise<string>((resolve) => {
        release = () => {
          startedPromise = new Promise<void>((r) => (started = r));
          resolve(String(saved.push(m)));
        };
      });
    },
    saveSession: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

describe('connection shell', () => {
  // The deadlines run on a clock the test moves (ManualClock): each is checked to the millisecond, with no wall time.
  it('counts the DATA deadline from each message\'s own 354, not from an earlier message\'s', async () => {
    const dataTimeoutMs = 400;
    const clock = new ManualClock();
    const replied: number[] = [];
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { dataTimeoutMs }, clock, observer: { replied: (code) => void replied.push(code) } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('HELO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n');
      await lines(conn, 4); // the first message's 354, at 0 ms
      conn.write('one\r\n.\r\n');
      assert.equal(await conn.next(), '250 2.0.0 OK: queued as 1');
      // The second message starts halfway through the first one's deadline and then sends nothing.
      clock.advance(dataTimeoutMs / 2);
      conn.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n');
      assert.deepEqual(await lines(conn, 3), ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 End data with <CR><LF>.<CR><LF>']);
      clock.advance(dataTimeoutMs - 1); // past the first message's deadline, 1 ms short of the second's
      assert.equal(replied.includes(421), false, 'the second message was cut by the first one\'s deadline');
      clock.advance(1);
      assert.equal(replied.at(-1), 421);
      assert.equal(await conn.next(), '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
      assert.equal(await conn.closedByServer(), true);
    } finally {
      await server.close(2000);
    }
  });

  it('closes a session silent for the idle timeout, counted from its last input, not from its first', async () => {
    const idleTimeoutMs = 5 * 60_000; // the default
    const clock = new ManualClock();
    const replied: number[] = [];
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { idleTimeoutMs }, clock, observer: { replied: (code) => void replied.push(code) } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      // Five NOOPs 100 s apart: 500 s in all, longer than the timeout, never silent for as long as it.
      for (let i = 0; i < 5; i++) {
        clock.advance(idleTimeoutMs / 3);
        conn.write('NOOP\r\n');
        assert.equal(await conn.next(), '250 2.0.0 OK');
      }
      clock.advance(idleTimeoutMs - 1);
      assert.equal(replied.includes(421), false, 'closed before the timeout after the last input');
      clock.advance(1);
      assert.equal(replied.at(-1), 421);
      assert.equal(await conn.next(), '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
      assert.equal(await conn.closedByServer(), true);
    } finally {
      await server.close(2000);
    }
  });

  it('holds input that arrives while a message is stored, then answers it in order', async () => {
    const sink = gatedSink();
    const { server } = await startTestServer({ dialect: smtpDialect, sink });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('HELO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n');
      await lines(conn, 4);
      conn.write('first\r\n.\r\n');
      await sink.saving();
      // Sent in chunks of their own while the store works: none may be answered before the message is.
      conn.write('NOOP\r\n');
      conn.write('MAIL FROM:<c@x.test>\r\nRCPT TO:<d@y.test>\r\nDATA\r\nsecond\r\n.\r\n');
      await assert.rejects(conn.next(300), /no line from the server/);
      sink.release();
      assert.deepEqual(await lines(conn, 5), [
        '250 2.0.0 OK: queued as 1', '250 2.0.0 OK', '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 End data with <CR><LF>.<CR><LF>',
      ]);
      await sink.saving();
      sink.release();
      assert.equal(await conn.next(), '250 2.0.0 OK: queued as 2');
      conn.write('QUIT\r\n');
      assert.equal(await conn.next(), '221 2.0.0 127.0.0.1 closing connection');
      assert.deepEqual(sink.saved.map((m) => [m.envelope.from, m.raw.toString('latin1').replace(/^Received: [^\r]*\r\n(?:\t[^\r]*\r\n)*/, '')]), [
        ['a@x.test', 'first\r\n'], ['c@x.test', 'second\r\n'],
      ]);
    } finally {
      await server.close(2000);
    }
  });
});
