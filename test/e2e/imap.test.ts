/**
 * IMAP with real clients against startMailwire(): imapflow (npm), Python's imaplib and curl's imap:// read an inbox;
 * BODY[] equals /api/v1/messages/ID/raw byte for byte; BODY[] sets the API's read flag, BODY.PEEK[] does not;
 * \Deleted + EXPUNGE takes a message out of that inbox only; IDLE announces new mail; bad input gets a tagged BAD
 * and the connection goes on.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startMailwire, type Mailwire } from '../../src/testing/start.js';
import { runChild } from '../helpers/child.js';
import { waitFor } from '../helpers/wait.js';

const FIRST = Buffer.from('From: A <a@x.test>\r\nTo: qa@x.test\r\nSubject: first\r\n\r\n.leading dot\r\nneedle here\r\n', 'latin1');
const SECOND = Buffer.from('From: b@x.test\r\nTo: qa@x.test\r\nSubject: =?UTF-8?Q?zw=C3=B6lf?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 日本語\r\n', 'utf8');

async function py(code: string): Promise<string> {
  const r = await runChild('python3', ['-c', code]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** A raw IMAP dialogue: sends each line after the previous command's tagged reply, returns everything read. */
async function dialogue(port: number, lines: readonly string[]): Promise<string> {
  const s = connect(port, '127.0.0.1');
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  await waitFor('greeting', () => got.includes('\r\n'));
  for (const line of lines) {
    s.write(`${line}\r\n`);
    const tag = line.split(' ')[0] ?? '';
    await waitFor(`reply to ${line.slice(0, 40)}`, () => new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n$`).test(got), { seen: () => got });
  }
  s.destroy();
  return got;
}

describe('IMAP with real clients', () => {
  let mw: Mailwire;
  let ids: string[] = [];
  const raw = async (id: string): Promise<Buffer> => Buffer.from(await (await fetch(`${mw.url}/api/v1/messages/${id}/raw`)).arrayBuffer());
  const send = async (to: string[], message: Buffer): Promise<void> => {
    const transport = nodemailer.createTransport({ host: mw.smtp.host, port: mw.smtp.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: 'a@x.test', to }, raw: message });
    transport.close();
  };

  before(async () => {
    mw = await startMailwire();
    await send(['qa@x.test', 'other@x.test'], FIRST);
    await send(['qa@x.test'], SECOND);
    await mw.waitForMessage({ query: 'subject:zwölf' });
    ids = (await mw.messages('inbox:qa@x.test')).map((m) => m.id).reverse();
  });
  after(() => mw.close());

  it('imapflow fetches BODY[] byte for byte as /raw; PEEK leaves the read flag, BODY[] sets it', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: mw.imap.port, secure: false, auth: { user: 'qa@x.test', pass: 'any' }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      const got: { uid: number; source: Buffer }[] = [];
      for await (const m of client.fetch('1:*', { uid: true, source: true })) got.push({ uid: m.uid, source: m.source ?? Buffer.alloc(0) });
      assert.equal(got.length, 2);
      for (const [i, m] of got.entries()) assert.ok(m.source.equals(await raw(ids[i] ?? '')), `message ${i + 1} differs`);
      assert.ok((got[0]?.uid ?? 0) < (got[1]?.uid ?? 0));
      assert.deepEqual((await mw.messages('inbox:qa@x.test is:read')).length, 0, 'imapflow fetches with BODY.PEEK[]');
    } finally {
      lock.release();
      await client.logout();
    }
    const out = await py(`
import imaplib
M = imaplib.IMAP4('127.0.0.1', ${mw.imap.port})
M.login('qa@x.test', 'x'); M.select('INBOX')
typ, data = M.fetch('1', '(BODY[])')
import sys; sys.stdout.buffer.write(data[0][1]); M.logout()
`);
    assert.equal(out, (await raw(ids[0] ?? '')).toString('utf8'));
    assert.deepEqual((await mw.messages('inbox:qa@x.test is:read')).map((m) => m.id), [ids[0]], 'BODY[] set \\Seen = the read flag');
  });

  it('imaplib searches, sees the API read flag as \\Seen, and STORE -FLAGS \\Seen clears it', async () => {
    const out = await py(`
import imaplib
M = imaplib.IMAP4('127.0.0.1', ${mw.imap.port})
M.login('qa@x.test', 'x'); M.select('INBOX')
print(M.search(None, 'SEEN')[1][0].decode(), '|', M.search(None, 'UNSEEN')[1][0].decode(), '|', M.search(None, 'TEXT', 'needle')[1][0].decode(),
      '|', M.search(None, 'OR', 'FROM', 'b@x', 'SUBJECT', 'first')[1][0].decode(), '|', M.search(None, 'NOT', '1')[1][0].decode(),
      '|', M.search(None, 'SINCE', '1-Jan-2000', 'BEFORE', '1-Jan-2000')[1][0].decode())
M.store('1', '-FLAGS', '(\\\\Seen)')
M.logout()
`);
    assert.equal(out, '1 | 2 | 1 | 1 2 | 2 | \n');
    assert.equal((await mw.messages('inbox:qa@x.test is:read')).length, 0);
  });

  it("curl's imap:// reads a message by UID byte for byte", async () => {
    const r = await runChild('curl', ['-sS', '--max-time', '10', '--user', 'qa@x.test:pw', `imap://127.0.0.1:${mw.imap.port}/INBOX/;MAILINDEX=2`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, (await raw(ids[1] ?? '')).toString('utf8'));
  });

  it('answers bad input with a tagged BAD and the reason, and the connection lives', async () => {
    const got = await dialogue(mw.imap.port, [
      'a0 LOGIN qa@x.test x', 'a1 SELECT INBOX', 'a2 FETCH 1 (FLAGS', 'a3 FETCH 0 FLAGS', 'a4 FETCH 1:*:* FLAGS', 'a5 UID FETCH 4294967296 FLAGS',
      'a6 APPEND INBOX {4294967295}', 'a7 FROB', 'a8 FETCH 9 FLAGS', 'a9 COPY 1 Trash', 'b1 NOOP',
    ]);
    const lines = got.split('\r\n');
    const reply = (tag: string): string => lines.find((l) => l.startsWith(`${tag} `)) ?? '';
    assert.equal(reply('a2'), 'a2 BAD unbalanced parentheses: a ( is never closed');
    assert.equal(reply('a3'), 'a3 BAD bad sequence set: sequence numbers start at 1, not 0');
    assert.equal(reply('a4'), 'a4 BAD "1:*:*": a range has one colon (a:b)');
    assert.equal(reply('a5'), 'a5 BAD bad sequence set: 4294967296 is larger than 4294967295');
    assert.equal(reply('a6'), 'a6 BAD literal of 4294967295 octets is larger than the limit of 65536');
    assert.equal(reply('a7'), 'a7 BAD unknown command "FROB"');
    assert.equal(reply('a8'), 'a8 BAD no message 9: the mailbox has 2');
    assert.equal(reply('a9'), 'a9 NO [TRYCREATE] there is one mailbox per login: nowhere to copy or move to');
    assert.equal(reply('b1'), 'b1 OK NOOP completed');
    const before = await dialogue(mw.imap.port, ['c1 FETCH 1 FLAGS', 'c2 LOGIN nobody x']);
    assert.match(before, /c1 BAD FETCH: log in first \(LOGIN inbox@address password\)\r\n/);
    assert.match(before, /c2 NO \[AUTHENTICATIONFAILED\] the user name is an inbox address/);
  });

  it('IDLE announces new mail as EXISTS; \\Deleted + EXPUNGE takes the message out of that inbox only', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: mw.imap.port, secure: false, auth: { user: 'qa@x.test', pass: 'any' }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      let exists = 0;
      client.on('exists', (e: { count: number }) => (exists = e.count));
      const idle = client.idle();
      await send(['qa@x.test'], Buffer.from('Subject: third\r\n\r\nnew\r\n'));
      await waitFor('EXISTS 3 during IDLE', () => exists === 3);
      await client.messageFlagsAdd('1', ['\\Deleted']);
      await client.messageDelete('1'); // \Deleted + EXPUNGE
      void idle;
    } finally {
      lock.release();
      await client.logout();
    }
    const left = (await mw.messages('inbox:qa@x.test')).map((m) => m.id);
    assert.equal(left.length, 2);
    assert.ok(!left.includes(ids[0] ?? ''), 'the first message left the inbox');
    assert.deepEqual((await mw.messages('inbox:other@x.test')).map((m) => m.id), [ids[0]], 'and stays in its other inbox');
  });
});

describe('IMAP EXPUNGE of one message', () => {
  it('takes out exactly the message marked, beside another of that inbox received in the same millisecond', async () => {
    const { openStore } = await import('../../src/store/index.js');
    const { startImapServer } = await import('../../src/imap/server/server.js');
    const { createMailLogin } = await import('../../src/mailbox/login.js');
    const store = await openStore({ kind: 'memory' });
    const at = new Date('2026-01-01T00:00:00.000Z');
    const conn = { clientAddress: '127.0.0.1', clientPort: 1, serverAddress: '127.0.0.1', serverPort: 2, dialect: 'smtp' as const, tls: false };
    const save = (subject: string): Promise<string> => store.save({ envelope: { helo: 'h', from: 'a@x.test', to: ['qa@x.test'] }, connection: conn, receivedAt: at, raw: Buffer.from(`Subject: ${subject}\r\n\r\nx\r\n`) });
    const first = await save('first');
    const second = await save('second');
    await waitFor('both indexed', async () => (await store.listMessages({ query: 'inbox:qa@x.test' })).items.length === 2);
    const server = await startImapServer({ host: '127.0.0.1', port: 0, store, events: null, login: createMailLogin({ credentials: [] }) });
    try {
      const out = await dialogue(server.port, ['a LOGIN qa@x.test x', 'b SELECT INBOX', 'c STORE 1 +FLAGS (\\Deleted)', 'd EXPUNGE']);
      assert.match(out, /\r\n\* 1 EXPUNGE\r\nd OK EXPUNGE completed\r\n$/);
      assert.deepEqual((await store.listMessages({ query: 'inbox:qa@x.test' })).items.map((m) => m.id), [second]);
      assert.equal(await store.getRaw(first), null, 'in no inbox any more: deleted');
    } finally {
      await server.close();
      await store.close();
    }
  });
});
