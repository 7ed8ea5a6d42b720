/**
 * The connection shell's own timing and flow, over real sockets: the DATA deadline of each message, the idle timeout,
 * and input that arrives while a message is being stored.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import type { IncomingMessage, MessageSink } from '../../src/store/types.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';

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
  it('counts the DATA deadline from each message\'s own 354, not from an earlier message\'s', async () => {
    const dataTimeoutMs = 400;
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { dataTimeoutMs } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('HELO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n');
      await lines(conn, 4);
      const firstData = performance.now(); // the first message's 354 is in: its deadline timer runs from before now
      conn.write('one\r\n.\r\n');
      assert.equal(await conn.next(), '250 2.0.0 OK: queued as 1');
      // The second message starts halfway through the first one's deadline and then sends nothing.
      const half = dataTimeoutMs / 2 - (performance.now() - firstData);
      if (half > 0) await new Promise((resolve) => setTimeout(resolve, half));
      const secondData = performance.now(); // the server sends this message's 354 after this
      conn.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n');
      assert.deepEqual(await lines(conn, 3), ['250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 End data with <CR><LF>.<CR><LF>']);
      assert.equal(await conn.next(5000), '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
      const waited = performance.now() - secondData;
      // Timers never fire early (1 ms for the clocks' rounding); cut at the first message's deadline, this is ~200 ms.
      assert.ok(waited >= dataTimeoutMs - 1, `the second message was cut after ${waited.toFixed(0)} ms, before its own ${dataTimeoutMs} ms`);
      assert.equal(await conn.closedByServer(), true);
    } finally {
      await server.close(2000);
    }
  });

  it('closes a session silent for the idle timeout, counted from its last input, not from its first', async () => {
    const idleTimeoutMs = 300;
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { idleTimeoutMs } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      // Five NOOPs 100 ms apart: 500 ms in all, longer than the timeout, never silent for as long as it.
      for (let i = 0; i < 5; i++) {
        conn.write('NOOP\r\n');
        assert.equal(await conn.next(), '250 2.0.0 OK');
        await new Promise((resolve) => setTimeout(resolve, idleTimeoutMs / 3));
      }
      const lastInput = performance.now(); // the server reads this NOOP, and answers it, after this
      conn.write('NOOP\r\n');
      assert.equal(await conn.next(), '250 2.0.0 OK');
      assert.equal(await conn.next(5000), '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
      const silent = performance.now() - lastInput;
      assert.ok(silent >= idleTimeoutMs - 1, `closed after ${silent.toFixed(0)} ms of silence, before ${idleTimeoutMs} ms`);
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
