/**
 * Real clients against the real server: nodemailer, Python's smtplib, curl and swaks each send plain, multi-recipient,
 * 8-bit/UTF-8, pipelined (where the client pipelines) and STARTTLS+AUTH mail, and the test asserts the stored bytes are
 * exactly the bytes sent, after the Received: header the server adds. A test named "pipelined" also checks, in the
 * session the server recorded, that the commands arrived together.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { createAuthenticator } from '../../src/smtp/server/auth.js';
import { selfSignedPem } from '../../src/net/tls.js';
import type { IncomingMessage } from '../../src/store/types.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { runChild } from '../helpers/child.js';
import { startTestServer } from '../helpers/socket-driver.js';
import { waitFor } from '../helpers/wait.js';

const RECEIVED = /^Received: from (\S+) \(\[127\.0\.0\.1\]\)\r\n\tby \[127\.0\.0\.1\] with (\S+) id [0-9a-f]{16};\r\n\t\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/;

/** The stored message split into its Received: header's facts and the bytes that followed it. */
function unwrap(m: IncomingMessage | undefined): { helo: string; protocol: string; body: Buffer } {
  assert.ok(m, 'no message was stored');
  const text = m.raw.toString('latin1');
  const match = RECEIVED.exec(text);
  assert.ok(match, `no Received: header first in ${JSON.stringify(text.slice(0, 200))}`);
  return { helo: match[1] ?? '', protocol: match[2] ?? '', body: m.raw.subarray(match[0].length) };
}

const PLAIN = Buffer.from('From: a@x.test\r\nTo: b@y.test, c@y.test\r\nSubject: plain\r\n\r\nHello.\r\n.leading dot\r\n..two dots\r\n', 'latin1');
const EIGHT_BIT = Buffer.from('From: a@x.test\r\nTo: b@y.test\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln, 日本語.\r\n', 'utf8');
const SECRET = Buffer.from('From: alice@x.test\r\nTo: b@y.test\r\nSubject: over TLS\r\n\r\nAuthenticated.\r\n', 'latin1');

describe('real clients against the smtp dialect', () => {
  const sink = createCaptureSink();
  let t: Awaited<ReturnType<typeof startTestServer>>;
  let dir: string;
  let port: number;
  let tlsPort: number;
  before(async () => {
    const pem = await selfSignedPem(['localhost', '127.0.0.1']);
    t = await startTestServer({
      sink, dialect: smtpDialect, tls: pem, tlsPort: 0,
      auth: createAuthenticator([{ user: 'alice', password: 's3cret:pw' }], false),
    });
    port = t.server.port;
    tlsPort = t.server.tlsPort ?? 0;
    dir = mkdtempSync(join(tmpdir(), 'mailwire-interop-'));
  });
  after(() => t.server.close(2000));

  /** Sends with `send`, then returns the one new stored message. */
  async function deliveredBy(send: () => Promise<unknown>): Promise<IncomingMessage> {
    const before = sink.messages.length;
    await send();
    assert.equal(sink.messages.length, before + 1, 'exactly one message should be stored');
    return sink.messages[before] as IncomingMessage;
  }

  /**
   * How many commands each read of the session held, for the reads that held more than one: the server's own proof
   * that the client pipelined (RFC 2920), from the session it recorded for the message's connection.
   */
  async function pipelinedReads(m: IncomingMessage): Promise<number[]> {
    const port = m.connection.clientPort;
    const session = await waitFor(`the session of client port ${port}`, () => sink.sessionOf(port));
    return session.transcript.flatMap((l) => /^pipelined: (\d+) commands in one read$/.exec(l.text)?.[1] ?? []).map(Number);
  }

  describe('nodemailer (pipelines when PIPELINING is offered)', () => {
    const transport = (opts: Record<string, unknown>) => nodemailer.createTransport({ host: '127.0.0.1', name: 'nodemailer.test', tls: { rejectUnauthorized: false }, ...opts });

    it('plain, pipelined, to two recipients', async () => {
      const m = await deliveredBy(() => transport({ port, ignoreTLS: true }).sendMail({ envelope: { from: 'a@x.test', to: ['b@y.test', 'c@y.test'] }, raw: PLAIN }));
      const u = unwrap(m);
      assert.deepEqual([u.helo, u.protocol], ['nodemailer.test', 'ESMTP']);
      assert.deepEqual(u.body, PLAIN);
      assert.deepEqual(m.envelope, { helo: 'nodemailer.test', from: 'a@x.test', to: ['b@y.test', 'c@y.test'] });
      assert.deepEqual(await pipelinedReads(m), [4], 'MAIL, RCPT, RCPT and DATA in one read');
    });

    it('8-bit body and UTF-8 addresses (SMTPUTF8)', async () => {
      const m = await deliveredBy(() => transport({ port, ignoreTLS: true }).sendMail({ envelope: { from: 'jörg@x.test', to: ['müller@y.test'] }, raw: EIGHT_BIT }));
      const u = unwrap(m);
      assert.equal(u.protocol, 'UTF8SMTP');
      assert.deepEqual(u.body, EIGHT_BIT);
      assert.deepEqual([m.envelope.from, m.envelope.to], ['jörg@x.test', ['müller@y.test']]);
    });

    it('STARTTLS and AUTH', async () => {
      const m = await deliveredBy(() => transport({ port, requireTLS: true, auth: { user: 'alice', pass: 's3cret:pw' } }).sendMail({ envelope: { from: 'alice@x.test', to: ['b@y.test'] }, raw: SECRET }));
      const u = unwrap(m);
      assert.equal(u.protocol, 'ESMTPSA');
      assert.deepEqual(u.body, SECRET);
      assert.equal(m.connection.tls, true);
      assert.equal(m.connection.authUser, 'alice');
    });

    it('implicit TLS on the second port, and a wrong password is refused with 535', async () => {
      const m = await deliveredBy(() => transport({ port: tlsPort, secure: true, auth: { user: 'alice', pass: 's3cret:pw' } }).sendMail({ envelope: { from: 'alice@x.test', to: ['b@y.test'] }, raw: SECRET }));
      assert.equal(unwrap(m).protocol, 'ESMTPSA');
      await assert.rejects(
        transport({ port, requireTLS: true, auth: { user: 'alice', pass: 'wrong' } }).sendMail({ envelope: { from: 'a@x.test', to: ['b@y.test'] }, raw: SECRET }),
        (e: Error & { responseCode?: number }) => e.responseCode === 535,
      );
    });
  });

  describe("Python's smtplib", () => {
    const SCRIPT = String.raw`
import json, smtplib, ssl, sys, base64
c = json.load(sys.stdin)
ctx = ssl._create_unverified_context()
s = smtplib.SMTP_SSL('127.0.0.1', c['port'], local_hostname='python.test', context=ctx) if c['mode'] == 'ssl' else smtplib.SMTP('127.0.0.1', c['port'], local_hostname='python.test')
if c['mode'] == 'starttls':
    s.starttls(context=ctx)
if c.get('user'):
    s.login(c['user'], c['password'])
refused = s.sendmail(c['from'], c['to'], base64.b64decode(c['msg']), mail_options=c.get('options', []))
s.quit()
print(json.dumps(refused))
`;
    const smtplib = async (c: Record<string, unknown>, msg: Buffer) => {
      const r = await runChild('python3', ['-c', SCRIPT], { input: JSON.stringify({ ...c, msg: msg.toString('base64') }) });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), '{}');
    };

    it('plain, to two recipients', async () => {
      const m = await deliveredBy(() => smtplib({ port, mode: 'plain', from: 'a@x.test', to: ['b@y.test', 'c@y.test'] }, PLAIN));
      const u = unwrap(m);
      assert.deepEqual([u.helo, u.protocol], ['python.test', 'ESMTP']);
      assert.deepEqual(u.body, PLAIN);
      assert.deepEqual(m.envelope.to, ['b@y.test', 'c@y.test']);
    });

    it('8-bit body and UTF-8 addresses with SMTPUTF8 and BODY=8BITMIME', async () => {
      const m = await deliveredBy(() => smtplib({ port, mode: 'plain', from: 'jörg@x.test', to: ['日本@y.test'], options: ['SMTPUTF8', 'BODY=8BITMIME'] }, EIGHT_BIT));
      assert.deepEqual(unwrap(m).body, EIGHT_BIT);
      assert.deepEqual(m.envelope, { helo: 'python.test', from: 'jörg@x.test', to: ['日本@y.test'], body: '8BITMIME', smtputf8: true });
    });

    it('STARTTLS and AUTH (smtplib picks PLAIN)', async () => {
      const m = await deliveredBy(() => smtplib({ port, mode: 'starttls', user: 'alice', password: 's3cret:pw', from: 'alice@x.test', to: ['b@y.test'] }, SECRET));
      assert.equal(unwrap(m).protocol, 'ESMTPSA');
      assert.deepEqual(unwrap(m).body, SECRET);
    });

    it('implicit TLS (SMTP_SSL)', async () => {
      const m = await deliveredBy(() => smtplib({ port: tlsPort, mode: 'ssl', from: 'a@x.test', to: ['b@y.test'] }, PLAIN));
      assert.equal(unwrap(m).protocol, 'ESMTPS');
    });
  });

  describe('curl smtp://', () => {
    const curl = async (args: string[], msg: Buffer) => {
      const file = join(dir, `curl-${Date.now()}-${Math.random()}.eml`);
      writeFileSync(file, msg);
      const r = await runChild('curl', ['-sS', '--max-time', '15', ...args, '--upload-file', file]);
      assert.equal(r.code, 0, r.stderr);
    };

    it('plain, to two recipients', async () => {
      const m = await deliveredBy(() => curl([`smtp://127.0.0.1:${port}/curl.test`, '--mail-from', 'a@x.test', '--mail-rcpt', 'b@y.test', '--mail-rcpt', 'c@y.test'], PLAIN));
      const u = unwrap(m);
      assert.deepEqual([u.helo, u.protocol], ['curl.test', 'ESMTP']);
      assert.deepEqual(u.body, PLAIN);
      assert.deepEqual(m.envelope.to, ['b@y.test', 'c@y.test']);
    });

    it('8-bit body', async () => {
      const m = await deliveredBy(() => curl([`smtp://127.0.0.1:${port}/curl.test`, '--mail-from', 'a@x.test', '--mail-rcpt', 'b@y.test'], EIGHT_BIT));
      assert.deepEqual(unwrap(m).body, EIGHT_BIT);
    });

    it('STARTTLS (--ssl-reqd) and AUTH', async () => {
      const m = await deliveredBy(() => curl([`smtp://127.0.0.1:${port}/curl.test`, '--ssl-reqd', '-k', '--user', 'alice:s3cret:pw', '--mail-from', 'alice@x.test', '--mail-rcpt', 'b@y.test'], SECRET));
      assert.equal(unwrap(m).protocol, 'ESMTPSA');
      assert.deepEqual(unwrap(m).body, SECRET);
    });

    it('implicit TLS (smtps://)', async () => {
      const m = await deliveredBy(() => curl([`smtps://127.0.0.1:${tlsPort}/curl.test`, '-k', '--mail-from', 'a@x.test', '--mail-rcpt', 'b@y.test'], PLAIN));
      assert.equal(unwrap(m).protocol, 'ESMTPS');
      assert.deepEqual(unwrap(m).body, PLAIN);
    });
  });

  describe('swaks', () => {
    const swaks = async (args: string[], msg: Buffer) => {
      const file = join(dir, `swaks-${Date.now()}-${Math.random()}.eml`);
      // swaks sends the file, then CRLF "." CRLF: the message's last CRLF is the one it adds.
      assert.ok(msg.subarray(-2).equals(Buffer.from('\r\n')));
      writeFileSync(file, msg.subarray(0, -2));
      const r = await runChild('swaks', ['--server', '127.0.0.1', '--helo', 'swaks.test', '--data', file, '--timeout', '15', ...args]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };

    it('plain, pipelined (--pipeline), to two recipients', async () => {
      let out = '';
      const m = await deliveredBy(async () => (out = await swaks(['--port', String(port), '--pipeline', '--from', 'a@x.test', '--to', 'b@y.test,c@y.test'], PLAIN)));
      assert.match(out, / -> MAIL FROM:<a@x\.test>\n -> RCPT TO:<b@y\.test>\n -> RCPT TO:<c@y\.test>\n -> DATA\n<-  250 2\.1\.0/); // sent in one batch
      assert.deepEqual(await pipelinedReads(m), [4], 'and the server read MAIL, RCPT, RCPT and DATA at once');
      const u = unwrap(m);
      assert.deepEqual([u.helo, u.protocol], ['swaks.test', 'ESMTP']);
      assert.deepEqual(u.body, PLAIN);
      assert.deepEqual(m.envelope.to, ['b@y.test', 'c@y.test']);
    });

    it('8-bit body', async () => {
      const m = await deliveredBy(() => swaks(['--port', String(port), '--from', 'a@x.test', '--to', 'b@y.test'], EIGHT_BIT));
      assert.deepEqual(unwrap(m).body, EIGHT_BIT);
    });

    it('STARTTLS (--tls) and AUTH LOGIN, pipelined', async () => {
      const m = await deliveredBy(() => swaks(['--port', String(port), '--tls', '--pipeline', '--auth', 'LOGIN', '--auth-user', 'alice', '--auth-password', 's3cret:pw', '--from', 'alice@x.test', '--to', 'b@y.test'], SECRET));
      assert.equal(unwrap(m).protocol, 'ESMTPSA');
      assert.deepEqual(await pipelinedReads(m), [3], 'MAIL, RCPT and DATA in one read, inside TLS');
      assert.deepEqual(unwrap(m).body, SECRET);
    });

    it('implicit TLS (--tlsc) and AUTH PLAIN', async () => {
      const m = await deliveredBy(() => swaks(['--port', String(tlsPort), '--tlsc', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 's3cret:pw', '--from', 'alice@x.test', '--to', 'b@y.test'], SECRET));
      assert.equal(unwrap(m).protocol, 'ESMTPSA');
      assert.deepEqual(unwrap(m).body, SECRET);
    });
  });
});
