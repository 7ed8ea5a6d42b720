/**
 * Slots that end (#25), over real sockets: BDAT under --data-timeout, the session lifetime, the limit on commands that
 * move no mail, and the per-address connection limit that is on by default for clients other than loopback.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { parseAddressList } from '../../src/net/ip-address.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { perIpLimit, startServer } from '../../src/smtp/server/server.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { proxyV1 } from '../helpers/proxy-header.js';
import { startMailwire } from '../helpers/mailwire-process.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';

async function lines(conn: SocketLines, n: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await conn.next());
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('slots that end', () => {
  it('bounds a BDAT message by --data-timeout, even while the client keeps the session busy with NOOPs', async () => {
    const dataTimeoutMs = 400;
    const sink = createCaptureSink();
    const { server } = await startTestServer({ dialect: smtpDialect, sink, limits: { dataTimeoutMs } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n');
      await lines(conn, 9);
      const started = performance.now(); // the server reads the BDAT after this
      conn.write('BDAT 3\r\nabc');
      assert.equal(await conn.next(), '250 2.0.0 3 octets received');
      // NOOP every 100 ms: the idle timeout never comes; before, nothing else did either.
      let reply: string | null = '250 2.0.0 OK';
      for (let i = 0; i < 40 && reply === '250 2.0.0 OK'; i++) {
        await sleep(100);
        if (conn.socket.writable) conn.write('NOOP\r\n');
        reply = await conn.next();
      }
      assert.equal(reply, '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
      const took = performance.now() - started;
      assert.ok(took >= dataTimeoutMs - 1 && took < dataTimeoutMs + 1500, `cut after ${took.toFixed(0)} ms, --data-timeout ${dataTimeoutMs} ms`);
      assert.equal(await conn.closedByServer(), true);
      assert.equal(sink.messagesFrom(conn.localPort).length, 0);
    } finally {
      await server.close(2000);
    }
  });

  it('bounds the octets of one BDAT chunk by --data-timeout, though they trickle in faster than the idle timeout', async () => {
    const dataTimeoutMs = 400;
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { dataTimeoutMs, idleTimeoutMs: 300 } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n');
      await lines(conn, 9);
      const started = performance.now();
      conn.write('BDAT 1000 LAST\r\n');
      const reply = conn.next(5000);
      for (let i = 0; i < 40 && conn.socket.writable && performance.now() - started < 3000; i++) {
        conn.write('x');
        await sleep(100);
        if (conn.socket.destroyed) break;
      }
      assert.equal(await reply, '421 4.4.2 127.0.0.1 Idle timeout, closing connection');
      const took = performance.now() - started;
      assert.ok(took >= dataTimeoutMs - 1 && took < dataTimeoutMs + 1500, `cut after ${took.toFixed(0)} ms`);
    } finally {
      await server.close(2000);
    }
  });

  it('ends a session at --max-session-time whatever it does, with 421', async () => {
    const maxSessionMs = 500;
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { maxSessionMs } });
    try {
      const opened = performance.now();
      const conn = await SocketLines.open(server.port);
      assert.equal(await conn.next(), '220 127.0.0.1 ESMTP mailwire ready');
      let reply: string | null = '250 2.0.0 OK';
      for (let i = 0; i < 40 && reply === '250 2.0.0 OK'; i++) {
        conn.write(i % 2 === 0 ? 'NOOP\r\n' : 'RSET\r\n');
        reply = await conn.next();
        await sleep(50);
      }
      assert.equal(reply, '421 4.4.2 127.0.0.1 Session time limit reached, closing connection');
      const took = performance.now() - opened;
      assert.ok(took >= maxSessionMs - 1 && took < maxSessionMs + 1500, `ended after ${took.toFixed(0)} ms`);
      assert.equal(await conn.closedByServer(), true);
    } finally {
      await server.close(2000);
    }
  });

  it('answers 421 to the command past --max-junk-commands and closes; a message stored forgives them', async () => {
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { maxJunkCommands: 3 } });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('HELO a.test\r\nNOOP\r\nNOOP\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nRSET\r\nVRFY b\r\nHELP\r\nQUIT\r\n');
      assert.deepEqual(await lines(conn, 12), [
        '250 127.0.0.1 Hello 127.0.0.1', '250 2.0.0 OK', '250 2.0.0 OK', '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK',
        '354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 OK: queued as 1', '250 2.0.0 OK', '250 2.0.0 OK',
        '252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery',
        '421 4.7.0 127.0.0.1 Too many commands that move no mail (NOOP, RSET, VRFY, HELP), closing connection',
        null,
      ]);
    } finally {
      await server.close(2000);
    }
  });

  it('limits connections from one address other than loopback to 20 by default; loopback stays unlimited', async () => {
    assert.deepEqual(['192.0.2.50', '2001:db8::1', '127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1'].map((a) => perIpLimit(resolveLimits(), a)), [20, 20, 0, 0, 0, 0]);
    assert.deepEqual(['192.0.2.50', '127.0.0.1'].map((a) => perIpLimit(resolveLimits({ maxClientsPerIp: 3, maxClientsPerRemoteIp: 3 }), a)), [3, 3]);
    // Over real sockets, the remote client as a trusted proxy names it (tests reach the server from loopback only).
    const server = await startServer({
      host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), sink: createCaptureSink(), display: quietDisplay,
      recordSessions: false, proxyProtocol: { trusted: parseAddressList('127.0.0.1') },
    });
    const open: SocketLines[] = [];
    const via = async (client: string): Promise<SocketLines> => {
      const socket = connect({ host: '127.0.0.1', port: server.port });
      const conn = SocketLines.wrap(socket);
      open.push(conn);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      conn.write(proxyV1(`TCP4 ${client} 127.0.0.1 1000 25`));
      return conn;
    };
    try {
      for (let i = 0; i < 20; i++) assert.equal(await (await via('192.0.2.50')).next(), '220 127.0.0.1 ESMTP mailwire ready');
      const extra = await via('192.0.2.50');
      assert.equal(await extra.next(), '421 4.7.0 127.0.0.1 Too many connections from your address, try again later');
      assert.equal(await extra.closedByServer(), true);
      for (let i = 0; i < 25; i++) assert.equal(await (await via('127.0.0.1')).next(), '220 127.0.0.1 ESMTP mailwire ready');
    } finally {
      for (const c of open) c.socket.destroy();
      await server.close(2000);
    }
  });

  it('takes the limits from the command line: --max-junk-commands, --max-session-time', async () => {
    const server = await startMailwire(['--dialect', 'smtp', '--port', '0', '--no-http', '--store', 'none', '--max-junk-commands', '1', '--max-session-time', '2s']);
    try {
      const junk = await SocketLines.open(server.smtpPort);
      await junk.next();
      junk.write('NOOP\r\nNOOP\r\n');
      assert.deepEqual(await lines(junk, 3), ['250 2.0.0 OK', '421 4.7.0 127.0.0.1 Too many commands that move no mail (NOOP, RSET, VRFY, HELP), closing connection', null]);
      const opened = performance.now();
      const quiet = await SocketLines.open(server.smtpPort);
      await quiet.next();
      assert.equal(await quiet.next(10_000), '421 4.4.2 127.0.0.1 Session time limit reached, closing connection');
      assert.ok(performance.now() - opened >= 1999);
    } finally {
      await server.stop();
    }
  });
});
