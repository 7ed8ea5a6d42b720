/**
 * POP3 with real clients against startMailwire(): Python's poplib and curl's pop3:// read an inbox, and what they
 * retrieve (dot-stuffing undone) equals /api/v1/messages/ID/raw byte for byte; DELE + QUIT takes a message out of
 * that inbox only, as DELETE /api/v1/inboxes/ADDRESS/messages does; STLS with a self-signed certificate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startMailwire, type Mailwire } from '../../src/testing/start.js';
import { createMailLogin } from '../../src/mailbox/login.js';
import { startPop3Server } from '../../src/pop3/server/server.js';
import { openStore } from '../../src/store/index.js';
import { selfSignedPem } from '../../src/net/tls.js';
import { runChild } from '../helpers/child.js';

const FIRST = Buffer.from('From: a@x.test\r\nTo: qa@x.test\r\nSubject: first\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n', 'latin1');
const SECOND = Buffer.from('From: a@x.test\r\nTo: qa@x.test\r\nSubject: =?UTF-8?Q?zw=C3=B6lf?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 日本語\r\n', 'utf8');

async function py(code: string): Promise<string> {
  const r = await runChild('python3', ['-c', code]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('POP3 with real clients', () => {
  let mw: Mailwire;
  let ids: string[] = [];
  const raw = async (id: string): Promise<Buffer> => Buffer.from(await (await fetch(`${mw.url}/api/v1/messages/${id}/raw`)).arrayBuffer());

  before(async () => {
    mw = await startMailwire();
    const transport = nodemailer.createTransport({ host: mw.smtp.host, port: mw.smtp.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: 'a@x.test', to: ['qa@x.test', 'other@x.test'] }, raw: FIRST });
    await transport.sendMail({ envelope: { from: 'a@x.test', to: ['qa@x.test'] }, raw: SECOND });
    transport.close();
    await mw.waitForMessage({ query: 'subject:zwölf' });
    ids = (await mw.messages('inbox:qa@x.test')).map((m) => m.id).reverse(); // oldest first, as POP3 numbers them
    assert.equal(ids.length, 2);
  });
  after(() => mw.close());

  it('poplib retrieves each message byte for byte as /api/v1/messages/ID/raw, with UIDL and LIST', async () => {
    const out = JSON.parse(await py(`
import poplib, json, base64
p = poplib.POP3('127.0.0.1', ${mw.pop3.port}, timeout=10)
p.user('QA@x.test'); p.pass_('anything')
count, size = p.stat()
msgs = [base64.b64encode(b'\\r\\n'.join(p.retr(i)[1]) + b'\\r\\n').decode() for i in range(1, count + 1)]
uidl = [l.decode() for l in p.uidl()[1]]
lst = [l.decode() for l in p.list()[1]]
p.quit()
print(json.dumps({'count': count, 'size': size, 'msgs': msgs, 'uidl': uidl, 'list': lst}))
`)) as { count: number; size: number; msgs: string[]; uidl: string[]; list: string[] };
    const stored = await Promise.all(ids.map(raw));
    assert.equal(out.count, 2);
    assert.equal(out.size, stored.reduce((a, b) => a + b.length, 0));
    out.msgs.forEach((b64, i) => assert.ok(Buffer.from(b64, 'base64').equals(stored[i] ?? Buffer.alloc(0)), `message ${i + 1} differs`));
    assert.deepEqual(out.list, stored.map((b, i) => `${i + 1} ${b.length}`));
    const uids = out.uidl.map((l) => Number(l.split(' ')[1]));
    assert.ok(uids.every((u) => Number.isSafeInteger(u) && u > 0) && (uids[0] ?? 0) < (uids[1] ?? 0), out.uidl.join(', '));
  });

  it("curl's pop3:// lists the inbox and retrieves a message byte for byte", async () => {
    const base = `pop3://127.0.0.1:${mw.pop3.port}`;
    const list = await runChild('curl', ['-sS', '--max-time', '10', '--user', 'qa@x.test:pw', `${base}/`]);
    assert.equal(list.code, 0, list.stderr);
    const stored = await Promise.all(ids.map(raw));
    assert.equal(list.stdout, stored.map((b, i) => `${i + 1} ${b.length}\r\n`).join(''));
    const one = await runChild('curl', ['-sS', '--max-time', '10', '--user', 'qa@x.test:pw', `${base}/2`]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, stored[1]?.toString('utf8'));
  });

  it('refuses a login that is not an inbox address, and goes on', async () => {
    const out = await py(`
import poplib
p = poplib.POP3('127.0.0.1', ${mw.pop3.port}, timeout=10)
p.user('nobody')
try:
    p.pass_('x')
except poplib.error_proto as e:
    print(e)
print('UIDL' in p.capa())
p.quit()
`);
    assert.match(out, /^b'-ERR \[AUTH\] the user name is an inbox address \(an envelope recipient\), e\.g\. qa@example\.test'\nTrue\n$/);
  });

  it('DELE + QUIT takes the message out of that inbox only; RSET and a dropped connection delete nothing', async () => {
    await py(`
import poplib
p = poplib.POP3('127.0.0.1', ${mw.pop3.port}, timeout=10)
p.user('qa@x.test'); p.pass_('x'); p.dele(1); p.rset(); p.dele(2); p.sock.close()
`);
    assert.equal((await mw.messages('inbox:qa@x.test')).length, 2, 'no QUIT, no deletion');
    await py(`
import poplib
p = poplib.POP3('127.0.0.1', ${mw.pop3.port}, timeout=10)
p.user('qa@x.test'); p.pass_('x'); p.dele(1); print(p.quit())
`);
    assert.deepEqual((await mw.messages('inbox:qa@x.test')).map((m) => m.id), [ids[1]]);
    assert.deepEqual((await mw.messages('inbox:other@x.test')).map((m) => m.id), [ids[0]], 'still in its other inbox');
    await py(`
import poplib
p = poplib.POP3('127.0.0.1', ${mw.pop3.port}, timeout=10)
p.user('qa@x.test'); p.pass_('x'); p.dele(1); print(p.quit())
`);
    assert.equal((await mw.messages('inbox:qa@x.test')).length, 0);
    assert.equal(await (await fetch(`${mw.url}/api/v1/messages/${ids[1]}/raw`)).status, 404, 'in no inbox any more: deleted');
    assert.deepEqual((await mw.messages('inbox:other@x.test')).map((m) => m.id), [ids[0]], 'the other inbox untouched');
  });
});

describe('POP3 STLS', () => {
  it('poplib upgrades with STLS and reads the inbox', async () => {
    const store = await openStore({ kind: 'memory' });
    const pem = await selfSignedPem(['localhost', '127.0.0.1']);
    const server = await startPop3Server({ host: '127.0.0.1', port: 0, store, events: null, tls: pem, login: createMailLogin({ credentials: [] }) });
    try {
      const out = await py(`
import poplib, ssl
p = poplib.POP3('127.0.0.1', ${server.port}, timeout=10)
print('STLS' in p.capa())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p.stls(ctx)
print('STLS' in p.capa(), p.sock.version() is not None)
p.user('qa@x.test'); print(p.pass_('x').decode()); p.quit()
`);
      assert.equal(out, 'True\nFalse True\n+OK qa@x.test has 0 messages (0 octets)\n');
    } finally {
      await server.close();
      await store.close();
    }
  });
});
