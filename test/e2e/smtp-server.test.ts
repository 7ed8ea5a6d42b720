import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { createAuthenticator } from '../../src/smtp/server/auth.js';
import { selfSignedPem } from '../../src/net/tls.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { SocketLines, startTestServer } from '../helpers/socket-driver.js';
import { startProgram } from '../helpers/program.js';
import { waitFor } from '../helpers/wait.js';

const EHLO = ['250-127.0.0.1 Hello 127.0.0.1', '250-PIPELINING', '250-SIZE 26214400', '250-8BITMIME', '250-SMTPUTF8', '250-ENHANCEDSTATUSCODES', '250-CHUNKING'];
const afterReceived = (raw: Buffer | undefined): string => (raw?.toString('latin1') ?? '').replace(/^Received: [^\r]*\r\n(?:\t[^\r]*\r\n)*/, '');

async function lines(conn: SocketLines, n: number): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) out.push(await conn.next());
  return out;
}

describe('smtp server over real sockets', () => {
  const sink = createCaptureSink();
  let t: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    t = await startTestServer({ sink, dialect: smtpDialect, tls: await selfSignedPem(['localhost']), auth: createAuthenticator([{ user: 'u', password: 'p' }], false) });
  });
  after(() => t.server.close(2000));

  it('answers a whole pipelined session, sent in one write, in order and byte for byte', async () => {
    const conn = await SocketLines.open(t.server.port);
    const chunks: Buffer[] = [];
    conn.socket.on('data', (c: Buffer) => chunks.push(c));
    assert.equal(await conn.next(), '220 127.0.0.1 ESMTP mailwire ready');
    conn.write('EHLO p.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nSubject: p\r\n\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n');
    const want = [...EHLO, '250 STARTTLS', '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', '250 2.1.5 Recipient OK',
      '354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 OK: queued as ' + String(sink.messages.length + 1), '250 2.0.0 OK', '221 2.0.0 127.0.0.1 closing connection'];
    assert.deepEqual(await lines(conn, want.length), want);
    assert.equal(await conn.closedByServer(), true);
    assert.equal(Buffer.concat(chunks).toString('latin1'), ['220 127.0.0.1 ESMTP mailwire ready', ...want].map((l) => `${l}\r\n`).join(''));
    assert.deepEqual(sink.messagesFrom(conn.localPort).map((m) => afterReceived(m.raw)), ['Subject: p\r\n\r\n.dot\r\n']);
    // The session says the client pipelined, before the batch: EHLO to DATA; NOOP and QUIT waited for the store.
    const session = await waitFor('the session of this client', () => sink.sessionOf(conn.localPort));
    const info = session.transcript.filter((l) => l.dir === 'info').map((l) => l.text);
    assert.deepEqual(info.slice(0, 2), [`connected from 127.0.0.1:${conn.localPort}`, 'pipelined: 5 commands in one read']);
    assert.deepEqual(session.transcript.slice(2, 4).map((l) => [l.dir, l.text]), [['info', 'pipelined: 5 commands in one read'], ['client', 'EHLO p.test']]);
  });

  it('closes its end once the 221 of QUIT is out, without waiting for the client to close first (as Postfix does)', async () => {
    // allowHalfOpen: this client never closes its side, so the session is recorded only if the server closes its own.
    const socket = connect({ host: '127.0.0.1', port: t.server.port, allowHalfOpen: true });
    const ended = once(socket, 'end');
    await once(socket, 'connect');
    const conn = SocketLines.wrap(socket);
    try {
      assert.equal(await conn.next(), '220 127.0.0.1 ESMTP mailwire ready');
      conn.write('QUIT\r\n');
      assert.equal(await conn.next(), '221 2.0.0 127.0.0.1 closing connection');
      await ended;
      const session = await waitFor('the session recorded while the client is still open', () => sink.sessionOf(socket.localPort), { deadlineMs: 3000 });
      assert.equal(session.end, 'quit');
    } finally {
      socket.destroy();
    }
  });

  it('drops commands pipelined behind STARTTLS and starts over inside TLS (CVE-2011-0411)', async () => {
    const conn = await SocketLines.open(t.server.port);
    await conn.next();
    conn.write('EHLO a.test\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<evil@y.test>\r\n');
    assert.deepEqual(await lines(conn, 9), [...EHLO, '250 STARTTLS', '220 2.0.0 Ready to start TLS']);
    conn.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: conn.socket, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    const tls = SocketLines.wrap(secure);
    const storedBefore = sink.messages.length;
    tls.write('MAIL FROM:<a@x.test>\r\nEHLO a.test\r\nAUTH PLAIN AHUAcA==\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 11 LAST\r\n\0\r\n.\r\nxyz\r\nQUIT\r\n');
    assert.deepEqual(await lines(tls, 13), [
      '503 5.5.1 Send EHLO or HELO first', ...EHLO.slice(0, 6), '250-CHUNKING', '250 AUTH PLAIN LOGIN', '235 2.7.0 Authentication successful',
      '250 2.1.0 Sender OK', '250 2.1.5 Recipient OK', `250 2.0.0 OK: queued as ${storedBefore + 1}`,
    ]);
    assert.equal(await tls.next(), '221 2.0.0 127.0.0.1 closing connection');
    const [m, ...more] = sink.messagesFrom(conn.localPort);
    assert.equal(more.length, 0);
    assert.match(m?.raw.toString('latin1') ?? '', /^Received: from a\.test \(\[127\.0\.0\.1\]\)\r\n\tby \[127\.0\.0\.1\] with ESMTPSA id /);
    assert.equal(afterReceived(m?.raw), '\0\r\n.\r\nxyz\r\n');
    assert.deepEqual([m?.connection.tls, m?.connection.authUser], [true, 'u']);
    assert.ok(!sink.messages.some((x) => x.envelope.from.startsWith('evil')));
  });
});

describe('smtp server limits and shutdown', () => {
  it('refuses a second connection from one address with --max-clients-per-ip 1', async () => {
    const { server } = await startTestServer({ dialect: smtpDialect, limits: { maxClientsPerIp: 1 } });
    try {
      const a = await SocketLines.open(server.port);
      assert.equal(await a.next(), '220 127.0.0.1 ESMTP mailwire ready');
      const b = await SocketLines.open(server.port);
      assert.equal(await b.next(), '421 4.7.0 127.0.0.1 Too many connections from your address, try again later');
      assert.equal(await b.closedByServer(), true);
      a.write('QUIT\r\n');
      assert.equal(await a.next(), '221 2.0.0 127.0.0.1 closing connection');
    } finally {
      await server.close(2000);
    }
  });

  it('on shutdown tells idle sessions 421 at once and lets a message in DATA finish first', async () => {
    const sink = createCaptureSink();
    const { server } = await startTestServer({ dialect: smtpDialect, sink });
    const idle = await SocketLines.open(server.port);
    const busy = await SocketLines.open(server.port);
    await idle.next();
    await busy.next();
    busy.write('HELO b.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nfirst half\r\n');
    await lines(busy, 4);
    const closing = server.close(10_000);
    assert.equal(await idle.next(), '421 4.3.2 127.0.0.1 Service shutting down, closing connection');
    assert.equal(await idle.closedByServer(), true);
    busy.write('second half\r\n.\r\n');
    assert.deepEqual(await lines(busy, 2), ['250 2.0.0 OK: queued as 1', '421 4.3.2 127.0.0.1 Service shutting down, closing connection']);
    assert.equal(await busy.closedByServer(), true);
    await closing;
    assert.equal(afterReceived(sink.messages[0]?.raw), 'first half\r\nsecond half\r\n');
  });
});

describe('the server program with --dialect smtp', () => {
  async function program(args: string[], session: string, expect: number): Promise<string> {
    const { child, output, waitFor: said } = startProgram(['server', '--dialect', 'smtp', '--port', '0', '--store', 'none', ...args]);
    try {
      const port = Number((await said(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const conn = await SocketLines.open(port);
      await conn.next();
      conn.write(session);
      await lines(conn, expect);
      assert.equal(await conn.closedByServer(), true);
      await said(/ \| quit |"end":"quit"/); // the session's end on the display
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
      return output();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
  const SESSION = 'EHLO d.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n';

  it('shows one line per session by default', async () => {
    const out = await program([], SESSION, 12);
    const summary = out.split('\n').filter((l) => l.startsWith('[127.0.0.1:'));
    assert.equal(summary.length, 1, out);
    assert.match(summary[0] ?? '', /^\[127\.0\.0\.1:\d+\] helo=d\.test <a@x\.test> → <b@y\.test> \d+ B: stored as discarded-1 \| quit \d+ ms$/);
  });

  it('logs JSON with --log-format json', async () => {
    const out = await program(['--log-format', 'json'], SESSION, 12);
    const records = out.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; session?: { helo: string; end: string; messages: unknown[] } });
    const s = records.find((r) => r.msg === 'session')?.session;
    assert.deepEqual([s?.helo, s?.end, s?.messages.length], ['d.test', 'quit', 1]);
  });
});
