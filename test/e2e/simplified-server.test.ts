import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { SocketLines, socketTranscript, startTestServer } from '../helpers/socket-driver.js';
import { CLIENT, SERVER, transcript } from '../helpers/transcript.js';
import { startProgram } from '../helpers/program.js';
import { waitFor } from '../helpers/wait.js';

describe('simplified server over real sockets', () => {
  const sink = createCaptureSink();
  let t: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => (t = await startTestServer({ sink })));
  after(() => t.server.close(2000));

  it('sends the exact reply bytes, 503s included, and stores the exact message', async () => {
    const conn = await SocketLines.open(t.server.port);
    const chunks: Buffer[] = [];
    conn.socket.on('data', (c: Buffer) => chunks.push(c));
    const lines = ['RCPT TO: <b@abc.org>', 'HELO xyz.com', 'DATA', 'MAIL FROM: <a@xyz.com>', 'RCPT TO: <b@abc.org>', 'EHLO x', 'DATA'];
    const want = [
      '220 127.0.0.1 mailwire Simplified SMTP service ready',
      '503 5.5.2 Send hello first', '250 127.0.0.1 Hello 127.0.0.1', '503 5.5.2 Need mail command', '250 2.1.0 Sender OK',
      '250 2.1.5 Recipient OK', '503 5.5.2 Need data command', '354 Start mail input; end with <CRLF>.<CRLF>',
      '250 Message received and to be delivered', '221 127.0.0.1 closing connection',
    ];
    assert.equal(await conn.next(), want[0]);
    for (const [i, line] of lines.entries()) {
      conn.write(`${line}\r\n`);
      assert.equal(await conn.next(), want[i + 1]);
    }
    conn.write('Subject: t\r\n\r\n..leading dot\r\n.\r\n');
    assert.equal(await conn.next(), want[8]);
    conn.write('QUIT\r\n');
    assert.equal(await conn.next(), want[9]);
    assert.equal(await conn.closedByServer(), true);
    assert.equal(Buffer.concat(chunks).toString('latin1'), want.map((l) => `${l}\r\n`).join(''));
    const [stored, ...more] = sink.messagesFrom(conn.localPort);
    assert.equal(more.length, 0);
    assert.equal(stored?.raw.toString('latin1'), 'Subject: t\r\n\r\n.leading dot\r\n');
    assert.deepEqual(stored?.envelope, { helo: 'xyz.com', from: 'a@xyz.com', to: ['b@abc.org'] });
    assert.equal(stored?.connection.clientAddress, '127.0.0.1');
  });

  it('plays the same transcript the pure tests use', async () => {
    const conn = await socketTranscript(t.server.port, transcript`
      S: 220 ${SERVER} mailwire Simplified SMTP service ready
      C: MAIL FROM: <a@xyz.com>
      S: 503 5.5.2 Send hello first
      L: helo xyz.com
      S: 250 ${SERVER} Hello ${CLIENT}
      L: mail from:a@xyz.com
      S: 250 2.1.0 Sender OK
      C: NOOP
      S: 503 5.5.2 Need rcpt command
      C: RCPT TO:<b@abc.org>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      # a bare-LF "." is text, and so is a "." right after it: only CRLF "." CRLF ends the message
      L: .
      C: .
      C: .
      S: 250 Message received and to be delivered
      C: QUIT
      S: 221 ${SERVER} closing connection
    `);
    assert.equal(await conn.closedByServer(), true);
    assert.deepEqual(sink.messagesFrom(conn.localPort).map((m) => m.raw.toString('latin1')), ['.\n.\r\n']);
  });

  it('reassembles a command split across TCP packets', async () => {
    const conn = await SocketLines.open(t.server.port);
    await conn.next();
    for (const piece of ['HE', 'LO x', 'yz.c', 'om\r', '\n']) {
      await new Promise<void>((resolve) => conn.socket.write(piece, () => resolve()));
    }
    assert.equal(await conn.next(), '250 127.0.0.1 Hello 127.0.0.1');
    conn.socket.destroy();
  });

  it('records each session with its transcript and how it ended', async () => {
    const conn = await SocketLines.open(t.server.port);
    await conn.next();
    conn.write('HELO a.test\r\nQUIT\r\n');
    await conn.next();
    await conn.next();
    assert.equal(await conn.closedByServer(), true);
    const port = conn.localPort;
    const session = await waitFor(`the session of client port ${port}`, () => sink.sessionOf(port));
    assert.equal(session.end, 'quit');
    assert.deepEqual(session.transcript.filter((l) => l.dir !== 'info').map((l) => `${l.dir}: ${l.text}`), [
      'server: 220 127.0.0.1 mailwire Simplified SMTP service ready',
      'client: HELO a.test',
      'server: 250 127.0.0.1 Hello 127.0.0.1',
      'client: QUIT',
      'server: 221 127.0.0.1 closing connection',
    ]);
  });
});

describe('many clients at once', () => {
  it('serves 200 connected clients, interleaved, each sending two mails', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const clients = await Promise.all(Array.from({ length: 200 }, () => SocketLines.open(server.port)));
      for (const c of clients) assert.match((await c.next()) ?? '', /^220 /);
      assert.equal(server.connectionCount(), 200);
      // Lockstep: every client sends its next command before any reads its reply, so the sessions interleave.
      const script = (i: number, n: number): string[] => [
        `HELO c${i}.test`, `MAIL FROM: <s${i}@c${i}.test>`, `RCPT TO: <r${i}@dest.test>`, 'DATA', `mail ${n} from client ${i}\r\n.`,
      ];
      const want = ['250 127.0.0.1 Hello 127.0.0.1', '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '354 Start mail input; end with <CRLF>.<CRLF>', '250 Message received and to be delivered'];
      for (const n of [1, 2]) {
        for (let step = 0; step < 5; step++) {
          clients.forEach((c, i) => c.write(`${script(i, n)[step]}\r\n`));
          const replies = await Promise.all(clients.map((c) => c.next(20_000)));
          assert.deepEqual(new Set(replies), new Set([want[step]]));
        }
      }
      clients.forEach((c) => c.write('QUIT\r\n'));
      await Promise.all(clients.map((c) => c.next(20_000)));
      assert.equal(sink.messages.length, 400);
      for (let i = 0; i < 200; i++) {
        const mine = sink.messages.filter((m) => m.envelope.from === `s${i}@c${i}.test`).map((m) => m.raw.toString());
        assert.deepEqual(mine, [`mail 1 from client ${i}\r\n`, `mail 2 from client ${i}\r\n`]);
      }
    } finally {
      await server.close(2000);
    }
  });

  it('a client that vanishes mid-DATA frees its session and disturbs nobody', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ sink });
    try {
      const quitter = await SocketLines.open(server.port);
      const stayer = await SocketLines.open(server.port);
      await quitter.next();
      await stayer.next();
      quitter.write('HELO q.test\r\nMAIL FROM: <q@q.test>\r\nRCPT TO: <r@r.test>\r\nDATA\r\n');
      for (let i = 0; i < 4; i++) await quitter.next();
      quitter.write('half a message\r\nand no end');
      quitter.socket.destroy();
      stayer.write('HELO s.test\r\nMAIL FROM: <s@s.test>\r\nRCPT TO: <r@r.test>\r\nDATA\r\nwhole\r\n.\r\nQUIT\r\n');
      const got: (string | null)[] = [];
      for (let i = 0; i < 6; i++) got.push(await stayer.next());
      assert.deepEqual(got.map((l) => l?.slice(0, 3)), ['250', '250', '250', '354', '250', '221']);
      await waitFor('both sessions recorded', () => sink.sessions.length === 2, { seen: () => sink.sessions.length });
      await waitFor('no connection left', () => server.connectionCount() === 0, { seen: () => server.connectionCount() });
      assert.deepEqual(sink.messages.map((m) => m.raw.toString()), ['whole\r\n']);
      assert.deepEqual(sink.sessions.map((s) => s.end).sort(), ['error', 'quit'], 'a client gone during DATA is a failed session (#32)');
    } finally {
      await server.close(2000);
    }
  });

  it('a store that fails gets the client 451 4.3.0, and the session goes on', async () => {
    const failing = { ...createCaptureSink(), save: () => Promise.reject(new Error('disk full')) };
    const { server } = await startTestServer({ sink: failing });
    try {
      const conn = await SocketLines.open(server.port);
      await conn.next();
      conn.write('HELO a.test\r\nMAIL FROM: <a@a.test>\r\nRCPT TO: <b@b.test>\r\nDATA\r\nx\r\n.\r\nHELO a.test\r\n');
      const got: (string | null)[] = [];
      for (let i = 0; i < 6; i++) got.push(await conn.next());
      assert.deepEqual(got.slice(4), ['451 4.3.0 Message not stored; try again later', '250 127.0.0.1 Hello 127.0.0.1']);
      conn.socket.destroy();
    } finally {
      await server.close(2000);
    }
  });

  it('refuses connections over --max-clients with 421 and serves the rest', async () => {
    const { server } = await startTestServer({ limits: { maxClients: 2 } });
    try {
      const a = await SocketLines.open(server.port);
      const b = await SocketLines.open(server.port);
      await a.next();
      await b.next();
      const c = await SocketLines.open(server.port);
      assert.match((await c.next()) ?? '', /^421 4\.7\.0 127\.0\.0\.1 Too many connections/);
      assert.equal(await c.closedByServer(), true);
      a.write('HELO a.test\r\n');
      assert.equal(await a.next(), '250 127.0.0.1 Hello 127.0.0.1');
      a.socket.destroy();
      b.socket.destroy();
    } finally {
      await server.close(2000);
    }
  });
});

describe('the server program', () => {
  it('prints the port it bound, shows every line tagged with the client, and stops on SIGTERM with exit 0', async () => {
    const { child, output, waitFor: said } = startProgram(['server', '--port', '0', '--store', 'none']);
    try {
      const port = Number((await said(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const conn = await SocketLines.open(port);
      await conn.next();
      conn.write('HELO xyz.com\r\nMAIL FROM: <a@xyz.com>\r\nRCPT TO: <b@abc.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody line\r\n.\r\n');
      for (let i = 0; i < 5; i++) await conn.next();
      const tag = `[127.0.0.1:${conn.socket.localPort}]`;
      // An idle session is told and closed on shutdown.
      child.kill('SIGTERM');
      assert.match((await conn.next()) ?? '', /^421 4\.3\.2 /);
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
      for (const line of [
        `${tag} connected`, `${tag} C: HELO xyz.com`, `${tag} S: 250 127.0.0.1 Hello 127.0.0.1`, `${tag} C: MAIL FROM: <a@xyz.com>`,
        `${tag} M: Subject: hi`, `${tag} M: `, `${tag} M: body line`, `${tag} S: 250 Message received and to be delivered`,
        'mailwire: SIGTERM received, shutting down',
      ]) {
        assert.ok(output().split('\n').includes(line), `missing display line ${JSON.stringify(line)} in:\n${output()}`);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
