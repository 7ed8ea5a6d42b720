/**
 * --proxy-protocol over real sockets: a "proxy" on 127.0.0.1 (trusted) sends a header naming another client, then
 * that client's SMTP; anyone else (127.0.0.2) may connect directly but not send a header. Every case is a transcript
 * whose replies are checked line by line and then byte for byte against everything the server sent.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { parseAddressList } from '../../src/net/ip-address.js';
import type { Display } from '../../src/smtp/server/display.js';
import { startServer, type RunningServer } from '../../src/smtp/server/server.js';
import { FaultController } from '../../src/faults/controller.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { proxyV1, proxyV2 } from '../helpers/proxy-header.js';
import { SocketLines } from '../helpers/socket-driver.js';
import { CLIENT, SERVER, checkReplies, transcript, type Names, type TranscriptStep } from '../helpers/transcript.js';
import { waitFor } from '../helpers/wait.js';

/** A display that keeps every line it is given, for the log assertions. */
function recordingDisplay(): Display & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    connected: (tag) => lines.push(`[${tag}] connected`),
    disconnected: (tag, why) => lines.push(`[${tag}] disconnected (${why})`),
    command: () => {},
    messageText: () => {},
    reply: () => {},
    info: (text) => lines.push(text),
  };
}

type Play = Readonly<{
  /** Bytes written at once, before the transcript: the header, often with the client's first commands. */
  first?: Buffer;
  /** Or: bytes written one at a time, each in its own write, before the transcript. */
  trickle?: Buffer;
  /** The local address to connect from (127.0.0.1 is the trusted proxy). */
  from?: string;
  names: Names;
  steps: readonly TranscriptStep[];
}>;

/**
 * Connects, writes `first`/`trickle`, plays the transcript (each expectation waits for its line, with a deadline),
 * expects the server to close when the transcript ends, and checks every byte the server sent.
 */
async function play(port: number, p: Play): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: p.from ?? '127.0.0.1', noDelay: true });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const conn = SocketLines.wrap(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  if (p.first) conn.write(p.first);
  for (const byte of p.trickle ?? []) {
    await new Promise<void>((resolve) => socket.write(Buffer.from([byte]), () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const got: string[] = [];
  for (const step of p.steps) {
    if (step.kind === 'send') {
      conn.write(step.bytes);
      continue;
    }
    const line = await conn.next();
    if (line === null) break;
    got.push(line);
  }
  checkReplies(p.steps, got, p.names);
  assert.equal(await conn.closedByServer(), true, 'the server closes the connection');
  // The lines matched the transcript; the bytes are those lines, each with its CRLF, and nothing else.
  assert.equal(Buffer.concat(chunks).toString('latin1'), got.map((l) => `${l}\r\n`).join(''), 'every byte the server sent');
}

const EHLO_KEYWORDS = ['250-PIPELINING', '250-SIZE 26214400', '250-8BITMIME', '250-SMTPUTF8', '250-ENHANCEDSTATUSCODES', '250 CHUNKING'];
const ehlo = (names: Names): string =>
  [`250-${names.server} Hello ${names.client}`, ...EHLO_KEYWORDS].map((l) => `S: ${l}`).join('\n');

describe('PROXY protocol over real sockets', () => {
  const sink = createCaptureSink();
  const display = recordingDisplay();
  let server: RunningServer;
  before(async () => {
    server = await startServer({
      host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits({ maxClientsPerIp: 1 }), sink, display, recordSessions: true,
      proxyProtocol: { trusted: parseAddressList('127.0.0.1, ::1'), headerTimeoutMs: 300 },
    });
  });
  after(() => server.close(2000));

  it('v1 TCP4: the client it names is in the Hello reply, the Received: header, the message and session records and the log, and the commands pipelined after the header in the same packet are read', async () => {
    const names = { server: '198.51.100.1', client: '192.0.2.7' };
    await play(server.port, {
      first: Buffer.concat([proxyV1('TCP4 192.0.2.7 198.51.100.1 50000 25'), Buffer.from('EHLO a.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n')]),
      names,
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        ${ehlo(names)}
        S: 250 2.1.0 Sender OK
        S: 250 2.1.5 Recipient OK
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Subject: v1
        C:
        C: hello
        C: .
        S~ 250 2.0.0 OK: queued as
        C: QUIT
        S: 221 2.0.0 ${SERVER} closing connection
      `,
    });
    const m = sink.messages.at(-1);
    assert.deepEqual(m?.connection, { clientAddress: '192.0.2.7', clientPort: 50000, serverAddress: '198.51.100.1', serverPort: 25, dialect: 'smtp', tls: false });
    assert.match(m?.raw.toString('latin1') ?? '', /^Received: from a\.test \(\[192\.0\.2\.7\]\)\r\n\tby \[198\.51\.100\.1\] with ESMTP id \w+;\r\n\t[^\r]+\r\nSubject: v1\r\n\r\nhello\r\n$/);
    await waitFor('the session from 192.0.2.7 to be recorded', () => sink.sessions.some((s) => s.connection.clientAddress === '192.0.2.7'), { everyMs: 10, deadlineMs: 5000 });
    assert.ok(display.lines.some((l) => /^\[192\.0\.2\.7:50000\] PROXY v1 header from 127\.0\.0\.1:\d+$/.test(l)), display.lines.join('\n'));
    assert.ok(display.lines.includes('[192.0.2.7:50000] connected'));
  });

  it('v1 TCP6: an IPv6 client, as an address literal in the Received: header', async () => {
    const names = { server: '2001:db8::25', client: '2001:db8::7' };
    await play(server.port, {
      first: proxyV1('TCP6 2001:db8:0:0:0:0:0:7 2001:db8::25 40000 25'),
      names,
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        C: EHLO six.test
        ${ehlo(names)}
        C: MAIL FROM:<a@x.test>
        S: 250 2.1.0 Sender OK
        C: RCPT TO:<b@y.test>
        S: 250 2.1.5 Recipient OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: .
        S~ 250 2.0.0 OK: queued as
        C: QUIT
        S: 221 2.0.0 ${SERVER} closing connection
      `,
    });
    const m = sink.messages.at(-1);
    assert.equal(m?.connection.clientAddress, '2001:db8::7');
    assert.match(m?.raw.toString('latin1') ?? '', /^Received: from six\.test \(\[IPv6:2001:db8::7\]\)\r\n\tby \[IPv6:2001:db8::25\] with ESMTP id /);
  });

  it('v1 UNKNOWN: served with the connection\'s own addresses', async () => {
    await play(server.port, {
      first: Buffer.from('PROXY UNKNOWN\r\nHELO u.test\r\n'),
      names: { server: '127.0.0.1', client: '127.0.0.1' },
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        S: 250 ${SERVER} Hello ${CLIENT}
        C: QUIT
        S: 221 2.0.0 ${SERVER} closing connection
      `,
    });
  });

  it('v2 PROXY with TLVs, the header arriving a byte at a time', async () => {
    const names = { server: '198.51.100.1', client: '203.0.113.9' };
    const header = proxyV2({ source: { address: '203.0.113.9', port: 61000 }, destination: { address: '198.51.100.1', port: 587 }, tlvs: Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb]) });
    await play(server.port, {
      trickle: header,
      names,
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        C: HELO v2.test
        S: 250 ${SERVER} Hello ${CLIENT}
        C: QUIT
        S: 221 2.0.0 ${SERVER} closing connection
      `,
    });
    await waitFor('the session from 203.0.113.9 to be recorded', () => sink.sessions.some((s) => s.connection.clientAddress === '203.0.113.9'), { everyMs: 10, deadlineMs: 5000 });
    const session = sink.sessions.find((s) => s.connection.clientAddress === '203.0.113.9');
    assert.deepEqual(session?.connection, { clientAddress: '203.0.113.9', clientPort: 61000, serverAddress: '198.51.100.1', serverPort: 587, dialect: 'smtp', tls: false });
  });

  it('v2 LOCAL (a health check): served with the connection\'s own addresses, and its QUIT answered', async () => {
    await play(server.port, {
      first: Buffer.concat([proxyV2({ command: 'LOCAL' }), Buffer.from('QUIT\r\n')]),
      names: { server: '127.0.0.1', client: '127.0.0.1' },
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        S: 221 2.0.0 ${SERVER} closing connection
      `,
    });
  });

  it('refuses a v1 header from an address that is not a trusted proxy, after the greeting it already had', async () => {
    await play(server.port, {
      from: '127.0.0.2',
      names: { server: '127.0.0.1', client: '127.0.0.2' },
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        C: PROXY TCP4 192.0.2.66 127.0.0.1 1 25
        S: 421 4.7.0 ${SERVER} PROXY protocol header from an untrusted address, closing connection
      `,
    });
    await waitFor('the refusal to be displayed', () => display.lines.some((l) => /^\[127\.0\.0\.2:\d+\] refused: a PROXY protocol header from an address not in --trusted-proxies$/.test(l)), { everyMs: 10, deadlineMs: 5000 });
    await waitFor('the refused session to be recorded', () => sink.sessions.some((s) => s.end === 'refused' && s.connection.clientAddress === '127.0.0.2'), { everyMs: 10, deadlineMs: 5000 });
    assert.equal(sink.sessions.some((s) => s.connection.clientAddress === '192.0.2.66'), false);
  });

  it('refuses a v2 header from an untrusted address, split before its signature ends, without running the QUIT inside the signature', async () => {
    const header = proxyV2({ source: { address: '192.0.2.66', port: 1 }, destination: { address: '127.0.0.1', port: 25 } });
    await play(server.port, {
      from: '127.0.0.2',
      trickle: header,
      names: { server: '127.0.0.1', client: '127.0.0.2' },
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        S: 421 4.7.0 ${SERVER} PROXY protocol header from an untrusted address, closing connection
      `,
    });
  });

  it('serves a client that connects directly from an untrusted address and sends no header', async () => {
    await play(server.port, {
      from: '127.0.0.2',
      names: { server: '127.0.0.1', client: '127.0.0.2' },
      steps: transcript`
        S: 220 ${SERVER} ESMTP mailwire ready
        C: HELO direct.test
        S: 250 ${SERVER} Hello ${CLIENT}
        C: QUIT
        S: 221 2.0.0 ${SERVER} closing connection
      `,
    });
  });

  it('refuses a trusted proxy\'s connection that starts without a header, before any greeting', async () => {
    await play(server.port, {
      names: { server: '127.0.0.1', client: '127.0.0.1' },
      steps: transcript`
        C: EHLO a.test
        S: 421 4.7.0 ${SERVER} PROXY protocol header expected, closing connection
      `,
    });
    await waitFor('the refusal to be displayed', () => display.lines.some((l) => /^\[127\.0\.0\.1:\d+\] refused: no PROXY protocol header from a trusted proxy$/.test(l)), { everyMs: 10, deadlineMs: 5000 });
  });

  it('refuses a malformed header, saying why in the log', async () => {
    await play(server.port, {
      first: proxyV1('TCP4 192.0.2.7 127.0.0.1 50000 99999'),
      names: { server: '127.0.0.1', client: '127.0.0.1' },
      steps: transcript`
        S: 421 4.7.0 ${SERVER} Invalid PROXY protocol header, closing connection
      `,
    });
    await waitFor('the refusal to be displayed', () => display.lines.some((l) => l.endsWith('refused: invalid PROXY protocol header: v1 destination port "99999" is not a port number')), { everyMs: 10, deadlineMs: 5000 });
  });

  it('refuses a header that does not come whole within its own timeout', async () => {
    await play(server.port, {
      first: Buffer.from('PROXY TCP4 192.0.2.7 '),
      names: { server: '127.0.0.1', client: '127.0.0.1' },
      steps: transcript`
        S: 421 4.4.2 ${SERVER} PROXY protocol header timeout, closing connection
      `,
    });
    await waitFor('the refusal to be displayed', () => display.lines.some((l) => /^\[127\.0\.0\.1:\d+\] refused: no PROXY protocol header within 300 ms$/.test(l)), { everyMs: 10, deadlineMs: 5000 });
  });

  it('counts --max-clients-per-ip by the client the header names, not by the proxy', async () => {
    const open = async (client: string): Promise<SocketLines> => {
      const socket = connect({ host: '127.0.0.1', port: server.port });
      const conn = SocketLines.wrap(socket);
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      conn.write(proxyV1(`TCP4 ${client} 127.0.0.1 1000 25`));
      return conn;
    };
    const first = await open('192.0.2.50');
    assert.equal(await first.next(), '220 127.0.0.1 ESMTP mailwire ready');
    const second = await open('192.0.2.50');
    assert.equal(await second.next(), '421 4.7.0 127.0.0.1 Too many connections from your address, try again later');
    assert.equal(await second.closedByServer(), true);
    const other = await open('192.0.2.51');
    assert.equal(await other.next(), '220 127.0.0.1 ESMTP mailwire ready');
    for (const c of [first, other]) {
      c.write('QUIT\r\n');
      assert.equal(await c.next(), '221 2.0.0 127.0.0.1 closing connection');
    }
  });
});

describe('PROXY protocol and fault injection', () => {
  it('matches a fault rule\'s client against the address the header names, not the proxy\'s', async () => {
    const faults = new FaultController({ dialect: 'smtp' });
    assert.equal(faults.load({ rules: [{ on: 'mail', client: '192.0.2.0/24', reply: '550 5.7.1 Not from that network' }] }).ok, true);
    const server = await startServer({
      host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), sink: createCaptureSink(), display: recordingDisplay(),
      recordSessions: false, faults, proxyProtocol: { trusted: parseAddressList('127.0.0.1') },
    });
    try {
      for (const [client, want] of [['192.0.2.7', '550 5.7.1 Not from that network'], ['198.51.100.7', '250 2.1.0 Sender OK']] as const) {
        await play(server.port, {
          first: Buffer.concat([proxyV1(`TCP4 ${client} 127.0.0.1 1000 25`), Buffer.from('HELO f.test\r\nMAIL FROM:<a@x.test>\r\nQUIT\r\n')]),
          names: { server: '127.0.0.1', client },
          steps: transcript`
            S: 220 ${SERVER} ESMTP mailwire ready
            S: 250 ${SERVER} Hello ${CLIENT}
            S: ${want}
            S: 221 2.0.0 ${SERVER} closing connection
          `,
        });
      }
    } finally {
      await server.close(2000);
    }
  });
});

describe('PROXY protocol with the simplified dialect', () => {
  it('greets and says hello to the client the header names', async () => {
    const server = await startServer({
      host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), sink: createCaptureSink(), display: recordingDisplay(),
      recordSessions: false, proxyProtocol: { trusted: parseAddressList('127.0.0.0/8') },
    });
    try {
      const names = { server: '127.0.0.1', client: '192.0.2.7' };
      await play(server.port, {
        first: proxyV2({ source: { address: '192.0.2.7', port: 5 }, destination: { address: '127.0.0.1', port: 25 } }),
        names,
        steps: transcript`
          S: 220 ${SERVER} mailwire Simplified SMTP service ready
          C: HELO xyz.com
          S: 250 ${SERVER} Hello ${CLIENT}
          C: QUIT
          S: 221 ${SERVER} closing connection
        `,
      });
    } finally {
      await server.close(2000);
    }
  });

  it('refuses to start with an implicit-TLS port, which the header cannot precede', async () => {
    await assert.rejects(startServer({
      host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), sink: createCaptureSink(), display: recordingDisplay(),
      recordSessions: false, tlsPort: 0, proxyProtocol: { trusted: parseAddressList('127.0.0.1') },
    }), /the PROXY protocol is read on the plain port only/);
  });
});
