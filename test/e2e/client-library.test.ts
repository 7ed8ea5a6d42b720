import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { relayMessage, sendOnce, SmtpClient, type ClientOptions, type SessionOutcome } from '../../src/smtp/client/client.js';
import { runInteractiveClient } from '../../src/smtp/client/interactive.js';
import { SmtpCapabilityError, SmtpConnectionError, SmtpReplyError, SmtpTlsError } from '../../src/errors.js';
import { selfSignedCert } from '../helpers/cert.js';
import { script, startScriptedServer, type ScriptResult, type ScriptStep } from '../helpers/scripted-server.js';

const RAW = 'Subject: hi\r\n\r\nhello\r\n.starts with a dot\r\n';
const MAIL = { from: 'a@x.test', to: ['b@y.test'], raw: RAW } as const;

/** Plays `steps`, runs `fn` against the server, and returns both results; the server is always closed. */
async function withServer<T>(steps: ScriptStep[], fn: (port: number) => Promise<T>, opts: Parameters<typeof startScriptedServer>[1] = {}): Promise<{ got: T; server: ScriptResult }> {
  const s = await startScriptedServer(steps, opts);
  try {
    const got = await fn(s.port);
    return { got, server: await s.done };
  } finally {
    await s.close();
  }
}

const base = (port: number, over: Partial<ClientOptions> = {}): ClientOptions => ({ host: '127.0.0.1', port, clientName: 'client.test', timeoutMs: 5000, ...over });

function failure(outcome: SessionOutcome): Error {
  assert.equal(outcome.ok, false, 'expected the session to fail');
  return (outcome as { error: Error }).error;
}

const GREET_EHLO = (extensions: string[]): string =>
  ['S: 220 mx.test ESMTP', 'C: EHLO client.test', ...['mx.test', ...extensions].map((e, i, all) => `S: 250${i === all.length - 1 ? ' ' : '-'}${e}`)].join('\n');

describe('the client library against a scripted server', () => {
  it('reads a multi-line EHLO, pipelines MAIL/RCPT/DATA in one write, and sends the exact dot-stuffed message', async () => {
    const writes: string[] = [];
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['PIPELINING', 'SIZE 1000', '8BITMIME'])}
      C: MAIL FROM:<a@x.test> SIZE=42
      C: RCPT TO:<b@y.test>
      C: RCPT TO:<c@y.test>
      C: DATA
      S: 250 2.1.0 ok
      S: 250 2.1.5 ok
      S: 251 2.1.5 will forward
      S: 354 go ahead
      D:
      S: 250 2.0.0 queued as 7
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { onWrite: (b) => writes.push(b.toString('latin1')) }), { ...MAIL, to: ['b@y.test', 'c@y.test'] }));
    assert.equal(server.error, undefined);
    assert.ok(got.ok, String((got as { error?: Error }).error));
    assert.deepEqual(writes, [
      'EHLO client.test\r\n',
      'MAIL FROM:<a@x.test> SIZE=42\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n',
      'Subject: hi\r\n\r\nhello\r\n..starts with a dot\r\n.\r\n',
      'QUIT\r\n',
    ]);
    assert.deepEqual(server.messages, [RAW]);
    assert.deepEqual(got.timings.map((t) => t.phase), ['connect', 'greeting', 'EHLO', 'MAIL', 'RCPT', 'RCPT 2', 'DATA', 'message', 'QUIT']);
    for (const t of got.timings) assert.ok(Number.isFinite(t.ms) && t.ms >= 0, t.phase);
    assert.deepEqual(got.transcript.filter((e) => e.type === 'received').map((e) => e.type === 'received' && e.reply.code), [220, 250, 250, 250, 251, 354, 250, 221]);
  });

  it('without PIPELINING waits for each reply before the next command (the server never sees early talk)', async () => {
    const writes: string[] = [];
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['8BITMIME'])}
      C: MAIL FROM:<a@x.test>
      S: 250 ok
      C: RCPT TO:<b@y.test>
      S: 250 ok
      C: DATA
      S: 354 go ahead
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { onWrite: (b) => writes.push(b.toString('latin1')) }), MAIL));
    assert.equal(server.error, undefined);
    assert.ok(got.ok);
    assert.deepEqual(server.earlyTalk, []);
    assert.deepEqual(writes.slice(1, 4), ['MAIL FROM:<a@x.test>\r\n', 'RCPT TO:<b@y.test>\r\n', 'DATA\r\n']);
  });

  it('--pipelining off keeps separate writes even when PIPELINING is offered', async () => {
    const writes: string[] = [];
    const { got } = await withServer(script`
      ${GREET_EHLO(['PIPELINING'])}
      C: MAIL FROM:<a@x.test>
      S: 250 ok
      C: RCPT TO:<b@y.test>
      S: 250 ok
      C: DATA
      S: 354 go ahead
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { pipelining: 'off', onWrite: (b) => writes.push(b.toString('latin1')) }), MAIL));
    assert.ok(got.ok);
    assert.equal(writes[1], 'MAIL FROM:<a@x.test>\r\n');
  });

  it('reads replies that arrive one byte per TCP write, multi-line ones included', async () => {
    const { got, server } = await withServer(script`
      S/ 220 mx.test ESMTP
      C: EHLO client.test
      S/ 250-mx.test
      S/ 250-PIPELINING
      S/ 250 SIZE 0
      C: MAIL FROM:<a@x.test> SIZE=42
      C: RCPT TO:<b@y.test>
      C: DATA
      S/ 250 ok
      S/ 250 ok
      S/ 354 go
      D:
      S/ 250 queued
      C: QUIT
      S/ 221 bye
    `, (port) => sendOnce(base(port), MAIL));
    assert.equal(server.error, undefined);
    assert.ok(got.ok);
    const ehlo = got.transcript.find((e) => e.type === 'received' && e.reply.lines.length === 3);
    assert.deepEqual(ehlo?.type === 'received' && ehlo.reply, { code: 250, lines: ['mx.test', 'PIPELINING', 'SIZE 0'] });
  });

  const refusals: [string, string, string][] = [
    // stage         the script from MAIL on                                                          the command in the error
    ['MAIL', 'C: MAIL FROM:<a@x.test>\nS: 550 5.7.1 sender refused\nC: QUIT\nS: 221 bye', 'MAIL FROM:<a@x.test>'],
    ['RCPT', 'C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@y.test>\nS: 550 5.1.1 no such user\nC: QUIT\nS: 221 bye', 'RCPT TO:<b@y.test>'],
    ['DATA', 'C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@y.test>\nS: 250 ok\nC: DATA\nS: 554 5.5.1 no valid recipients\nC: QUIT\nS: 221 bye', 'DATA'],
    ['message', 'C: MAIL FROM:<a@x.test>\nS: 250 ok\nC: RCPT TO:<b@y.test>\nS: 250 ok\nC: DATA\nS: 354 go\nD:\nS: 552 5.3.4 too big\nC: QUIT\nS: 221 bye', '(message)'],
  ];
  for (const [stage, rest, command] of refusals) {
    it(`a refusal at ${stage} is an SmtpReplyError carrying the command and the reply, then QUIT`, async () => {
      const steps = [...script`${GREET_EHLO([])}`, ...script`${rest}`];
      const { got, server } = await withServer(steps, (port) => sendOnce(base(port), MAIL));
      assert.equal(server.error, undefined);
      const error = failure(got);
      assert.ok(error instanceof SmtpReplyError, String(error));
      assert.equal(error.command, command);
      assert.equal(error.reply.code, Number(/S: (\d{3}) [^\n]*\nC: QUIT/.exec(rest)?.[1]));
      assert.equal(error.temporary, false);
    });
  }

  it('a pipelined refusal of RCPT after DATA got 354 drops the connection instead of sending a message', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['PIPELINING'])}
      C: MAIL FROM:<a@x.test>
      C: RCPT TO:<b@y.test>
      C: DATA
      S: 250 ok
      S: 450 4.2.1 try later
      S: 354 go
      D:
    `, (port) => sendOnce(base(port), MAIL));
    const error = failure(got);
    assert.ok(error instanceof SmtpReplyError && error.command === 'RCPT TO:<b@y.test>' && error.temporary);
    assert.match(server.error ?? '', /closed the connection/);
    assert.deepEqual(server.messages, []);
  });

  it('a server that stops answering times out with a typed error', async () => {
    const { got } = await withServer(script`
      ${GREET_EHLO([])}
      C: MAIL FROM:<a@x.test>
      HANG
    `, (port) => sendOnce(base(port, { timeoutMs: 300 }), MAIL));
    const error = failure(got);
    assert.ok(error instanceof SmtpConnectionError);
    assert.equal(error.code, 'ERR_TIMEOUT');
  });

  it('a server that closes early is a typed connection error', async () => {
    const { got } = await withServer(script`
      ${GREET_EHLO([])}
      C: MAIL FROM:<a@x.test>
      CLOSE
    `, (port) => sendOnce(base(port), MAIL));
    const error = failure(got);
    assert.ok(error instanceof SmtpConnectionError);
    assert.equal(error.code, 'ERR_CLOSED');
  });

  it('a closed port is a typed connect error', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = failure(await sendOnce(base(port), MAIL));
    assert.ok(error instanceof SmtpConnectionError && error.code === 'ERR_CONNECT', String(error));
  });

  it('falls back to HELO when EHLO is refused (our simplified server says 503) and says HELO again before the next message', async () => {
    const writes: string[] = [];
    const { got, server } = await withServer(script`
      S: 220 127.0.0.1 mailwire Simplified SMTP service ready
      C: EHLO client.test
      S: 503 5.5.2 Send hello first
      C: HELO client.test
      S: 250 127.0.0.1 Hello 127.0.0.1
      C: MAIL FROM:<a@x.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<b@y.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      D:
      S: 250 Message received and to be delivered
      C: HELO client.test
      S: 250 127.0.0.1 Hello 127.0.0.1
      C: MAIL FROM:<a@x.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO:<b@y.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      D:
      S: 250 Message received and to be delivered
      C: QUIT
      S: 221 bye
    `, async (port) => {
      const client = await SmtpClient.open(base(port, { onWrite: (b) => writes.push(b.toString('latin1')) }));
      const first = await client.send(MAIL);
      const second = await client.send(MAIL);
      await client.quit();
      return { first, second, caps: client.capabilities };
    });
    assert.equal(server.error, undefined);
    assert.equal(got.caps.esmtp, false);
    assert.deepEqual(got.first.timings.map((t) => t.phase), ['MAIL', 'RCPT', 'DATA', 'message']);
    assert.deepEqual(got.second.timings.map((t) => t.phase), ['HELO', 'MAIL', 'RCPT', 'DATA', 'message']);
    assert.deepEqual(server.messages, [RAW, RAW]);
  });

  it('sends many messages over one ESMTP connection, resetting with RSET after a refused one', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['PIPELINING'])}
      C: MAIL FROM:<a@x.test>
      C: RCPT TO:<b@y.test>
      C: DATA
      S: 250 ok
      S: 550 no
      S: 554 no valid recipients
      C: RSET
      S: 250 reset
      C: MAIL FROM:<a@x.test>
      C: RCPT TO:<b@y.test>
      C: DATA
      S: 250 ok
      S: 250 ok
      S: 354 go
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, async (port) => {
      const client = await SmtpClient.open(base(port));
      const first = await client.send(MAIL).catch((e: unknown) => e);
      const second = await client.send(MAIL);
      await client.quit();
      return { first, second };
    });
    assert.equal(server.error, undefined);
    assert.ok(got.first instanceof SmtpReplyError && got.first.command === 'RCPT TO:<b@y.test>');
    assert.deepEqual(got.second.timings.map((t) => t.phase), ['RSET', 'MAIL', 'RCPT', 'DATA', 'message']);
    assert.equal(got.second.reply.code, 250);
  });

  it('the simplified mode says HELO <sender domain> and "MAIL FROM: <a>" before every message, one recipient only', async () => {
    const { got, server } = await withServer(script`
      S: 220 127.0.0.1 mailwire Simplified SMTP service ready
      C: HELO x.test
      S: 250 127.0.0.1 Hello 127.0.0.1
      C: MAIL FROM: <a@x.test>
      S: 250 2.1.0 Sender OK
      C: RCPT TO: <b@y.test>
      S: 250 2.1.5 Recipient OK
      C: DATA
      S: 354 Start mail input; end with <CRLF>.<CRLF>
      D:
      S: 250 Message received and to be delivered
      C: QUIT
      S: 221 127.0.0.1 closing connection
    `, async (port) => {
      const one = await sendOnce(base(port, { mode: 'simplified' }), MAIL);
      return one;
    });
    assert.equal(server.error, undefined);
    assert.ok(got.ok);
    assert.deepEqual(server.messages, [RAW]);
    const two = await sendOnce(base(1, { mode: 'simplified' }), { ...MAIL, to: ['b@y.test', 'c@y.test'] });
    assert.ok(failure(two) instanceof SmtpConnectionError); // port 1: the connect fails before the recipient check
  });

  it('refuses an 8-bit message to a server without 8BITMIME before sending MAIL', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['PIPELINING'])}
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port), { ...MAIL, raw: 'Subject: x\r\n\r\ncafé\r\n' }));
    assert.equal(server.error, undefined);
    const error = failure(got);
    assert.ok(error instanceof SmtpCapabilityError && error.code === 'ERR_NEEDS_8BITMIME');
  });

  it('declares BODY=8BITMIME and SMTPUTF8 when the message needs them and the server offers them', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['8BITMIME', 'SMTPUTF8'])}
      C: MAIL FROM:<josé@x.test> BODY=8BITMIME SMTPUTF8
      S: 250 ok
      C: RCPT TO:<b@y.test>
      S: 250 ok
      C: DATA
      S: 354 go
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port), { ...MAIL, from: 'josé@x.test', raw: Buffer.from('Subject: café\r\n\r\ncafé\r\n', 'utf8') }));
    assert.equal(server.error, undefined);
    assert.ok(got.ok, String((got as { error?: Error }).error));
    assert.equal(server.messages[0], Buffer.from('Subject: café\r\n\r\ncafé\r\n', 'utf8').toString('latin1'));
  });

  it('sends BDAT chunks, unstuffed, when CHUNKING is offered and asked for', async () => {
    const raw = 'Subject: b\r\n\r\n.dot\r\n'; // 20 octets: no dot-stuffing with BDAT
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['CHUNKING', 'PIPELINING'])}
      C: MAIL FROM:<a@x.test>
      C: RCPT TO:<b@y.test>
      S: 250 ok
      S: 250 ok
      C: BDAT 8
      B: 8
      C: BDAT 8
      B: 8
      C: BDAT 4 LAST
      B: 4
      S: 250 got 8
      S: 250 got 16
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { chunking: true, chunkSize: 8 }), { ...MAIL, raw }));
    assert.equal(server.error, undefined);
    assert.ok(got.ok, String((got as { error?: Error }).error));
    assert.equal(server.chunks.join(''), raw);
    assert.deepEqual(got.timings.map((t) => t.phase).slice(-4), ['BDAT', 'BDAT 2', 'BDAT 3', 'QUIT']);
  });

  it('AUTH PLAIN: the exact line, and the secret never in the transcript', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['AUTH LOGIN PLAIN'])}
      C: AUTH PLAIN AGFsaWNlAHMzY3JldA==
      S: 235 2.7.0 ok
      C: MAIL FROM:<a@x.test>
      S: 250 ok
      C: RCPT TO:<b@y.test>
      S: 250 ok
      C: DATA
      S: 354 go
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { auth: { user: 'alice', pass: 's3cret' } }), MAIL));
    assert.equal(server.error, undefined);
    assert.ok(got.ok);
    const shown = JSON.stringify(got.transcript);
    assert.ok(!shown.includes('AGFsaWNlAHMzY3JldA') && !shown.includes('s3cret'), shown);
    assert.ok(shown.includes('AUTH PLAIN ********'));
  });

  it('AUTH LOGIN: three exact lines; a 535 is an SmtpReplyError on AUTH', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['AUTH LOGIN'])}
      C: AUTH LOGIN
      S: 334 VXNlcm5hbWU6
      C: YWxpY2U=
      S: 334 UGFzc3dvcmQ6
      C: czNjcmV0
      S: 535 5.7.8 bad credentials
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { auth: { user: 'alice', pass: 's3cret' } }), MAIL));
    assert.equal(server.error, undefined);
    const error = failure(got);
    assert.ok(error instanceof SmtpReplyError);
    assert.equal(error.reply.code, 535);
    assert.match(error.command, /^AUTH LOGIN/);
    assert.ok(!JSON.stringify(got.transcript).includes('czNjcmV0'));
  });

  it('AUTH asked for and not offered is a capability error', async () => {
    const { got } = await withServer(script`
      ${GREET_EHLO([])}
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { auth: { user: 'a', pass: 'b' } }), MAIL));
    const error = failure(got);
    assert.ok(error instanceof SmtpCapabilityError && error.code === 'ERR_AUTH_UNAVAILABLE');
  });
});

describe('TLS', () => {
  const afterTls = `
      C: EHLO client.test
      S: 250-mx.test
      S: 250 AUTH PLAIN
      C: AUTH PLAIN AGFsaWNlAHMzY3JldA==
      S: 235 ok
      C: MAIL FROM:<a@x.test>
      S: 250 ok
      C: RCPT TO:<b@y.test>
      S: 250 ok
      C: DATA
      S: 354 go
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye`;

  it('STARTTLS with a self-signed certificate is refused by default (verification on)', async () => {
    const pems = await selfSignedCert();
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['STARTTLS'])}
      C: STARTTLS
      S: 220 go ahead
      TLS
    `, (port) => sendOnce(base(port, { tls: 'starttls' }), MAIL), { starttls: pems });
    const error = failure(got);
    assert.ok(error instanceof SmtpTlsError, String(error));
    assert.match(error.message, /self[- ]signed/i);
    assert.match(server.error ?? '', /^tls: /);
  });

  it('STARTTLS with a self-signed certificate is accepted with tlsOptions.insecure, then EHLO again and AUTH over TLS', async () => {
    const pems = await selfSignedCert();
    const { got, server } = await withServer([...script`
      ${GREET_EHLO(['STARTTLS'])}
      C: STARTTLS
      S: 220 go ahead
      TLS`, ...script`${afterTls}`],
    (port) => sendOnce(base(port, { tls: 'starttls', tlsOptions: { insecure: true }, auth: { user: 'alice', pass: 's3cret' } }), MAIL), { starttls: pems });
    assert.equal(server.error, undefined);
    assert.ok(got.ok, String((got as { error?: Error }).error));
    assert.deepEqual(server.messages, [RAW]);
    assert.equal(server.servername, null); // no SNI for an IP address
    assert.deepEqual(got.timings.map((t) => t.phase).slice(0, 6), ['connect', 'greeting', 'EHLO', 'STARTTLS', 'tls', 'EHLO (TLS)']);
    assert.ok(got.transcript.some((e) => e.type === 'info' && /^TLS TLSv1\.[23] .*NOT verified/.test(e.text)));
  });

  it('STARTTLS asked for and not offered is a TLS error, before any mail command', async () => {
    const { got } = await withServer(script`
      ${GREET_EHLO([])}
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce(base(port, { tls: 'starttls' }), MAIL));
    const error = failure(got);
    assert.ok(error instanceof SmtpTlsError && error.code === 'ERR_STARTTLS_UNAVAILABLE');
  });

  it('implicit TLS: resolves the host name (timed), sends it as SNI, and verifies against a trusted CA', async () => {
    const pems = await selfSignedCert();
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['AUTH PLAIN'])}
      ${afterTls.replace(/^\s*C: EHLO client.test\n\s*S: 250-mx.test\n\s*S: 250 AUTH PLAIN\n/, '')}
    `, (port) => sendOnce({
      host: 'mx.test', port, clientName: 'client.test', timeoutMs: 5000, tls: 'implicit', tlsOptions: { ca: pems.cert },
      lookup: (host) => Promise.resolve(host === 'mx.test' ? { address: '127.0.0.1', family: 4 } : Promise.reject(new Error('unknown host'))),
      auth: { user: 'alice', pass: 's3cret' },
    }, MAIL), { tls: pems });
    assert.equal(server.error, undefined);
    assert.ok(got.ok, String((got as { error?: Error }).error));
    assert.equal(server.servername, 'mx.test');
    assert.deepEqual(got.timings.map((t) => t.phase).slice(0, 4), ['dns', 'connect', 'tls', 'greeting']);
  });

  it('implicit TLS to a name the certificate does not carry fails verification', async () => {
    const pems = await selfSignedCert();
    const { got } = await withServer(script`S: 220 never seen`, (port) => sendOnce({
      host: 'other.test', port, timeoutMs: 5000, tls: 'implicit', tlsOptions: { ca: pems.cert },
      lookup: () => Promise.resolve({ address: '127.0.0.1', family: 4 }),
    }, MAIL), { tls: pems });
    const error = failure(got);
    assert.ok(error instanceof SmtpTlsError, String(error));
    assert.match(error.message, /other\.test/);
  });
});

describe('IPv6', () => {
  it('connects to [::1] when the machine has IPv6 loopback', async (t) => {
    const probe = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => resolve(true));
    });
    if (ok) await new Promise<void>((resolve) => probe.close(() => resolve()));
    if (!ok) {
      t.skip('no IPv6 loopback here');
      return;
    }
    const { got, server } = await withServer(script`
      ${GREET_EHLO([])}
      C: MAIL FROM:<a@x.test>
      S: 250 ok
      C: RCPT TO:<b@y.test>
      S: 250 ok
      C: DATA
      S: 354 go
      D:
      S: 250 queued
      C: QUIT
      S: 221 bye
    `, (port) => sendOnce({ host: '::1', port, clientName: 'client.test', timeoutMs: 5000 }, MAIL), { host: '::1' });
    assert.equal(server.error, undefined);
    assert.ok(got.ok);
    assert.ok(got.transcript.some((e) => e.type === 'info' && e.text.startsWith('connected to [::1]:')));
  });
});

describe('library entry points', () => {
  it('relayMessage sends a stored message as it is, in the standard mode, and returns the transcript', async () => {
    const { got, server } = await withServer(script`
      ${GREET_EHLO(['PIPELINING'])}
      C: MAIL FROM:<a@x.test>
      C: RCPT TO:<b@y.test>
      C: DATA
      S: 250 ok
      S: 250 ok
      S: 354 go
      D:
      S: 250 queued as 42
      C: QUIT
      S: 221 bye
    `, (port) => relayMessage({ server: `127.0.0.1:${port}`, from: 'a@x.test', to: ['b@y.test'], raw: Buffer.from(RAW), clientName: 'client.test' }));
    assert.equal(server.error, undefined);
    assert.ok(got.ok);
    assert.deepEqual(got.reply, { code: 250, lines: ['queued as 42'] });
    assert.deepEqual(server.messages, [RAW]);
    assert.ok(got.transcript.some((e) => e.type === 'sent' && e.text === 'MAIL FROM:<a@x.test>'));
  });

  it('the interactive client reports a refusal with the step it was at, and goes on to the next question', async () => {
    const s = await startScriptedServer(script`
      S: 220 mx ready
      C: HELO x.test
      S: 250 hello
      C: MAIL FROM: <a@x.test>
      S: 250 ok
      C: RCPT TO: <b@y.test>
      S: 550 5.1.1 no such user
      C: QUIT
      S: 221 bye
    `);
    try {
      const answers = ['a@x.test', 'b@y.test', 'Hi', 'body', '.', 'n'];
      const printed: string[] = [];
      const code = await runInteractiveClient({
        readLine: () => Promise.resolve(answers.shift() ?? null),
        prompt: () => {},
        print: (line) => void printed.push(line),
      }, { host: '127.0.0.1', port: s.port, timeoutMs: 5000 });
      assert.equal(code, 0);
      assert.equal((await s.done).error, undefined);
      assert.deepEqual(printed.filter((l) => !l.startsWith('RTT = ') && !l.startsWith('Email contents')), [
        '220 mx ready', '250 hello', '250 ok', '550 5.1.1 no such user',
        'The server refused RCPT TO (expected 250); this message was not sent.', '221 bye',
      ]);
      assert.equal(printed.filter((l) => l.startsWith('RTT = ')).length, 3);
    } finally {
      await s.close();
    }
  });
});
