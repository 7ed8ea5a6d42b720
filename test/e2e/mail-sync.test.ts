/**
 * Real sync clients from Debian against the real server on ephemeral ports: mbsync (isync) copies an inbox into a
 * Maildir whose files equal /api/v1/messages/ID/raw after CRLF→LF and without the X-TUID: line mbsync adds; getmail6
 * retrieves the same inbox over POP3 into a Maildir, byte for byte (getmail writes LF line ends too, and adds its
 * Delivered-To:/Return-Path: lines at the top, which are taken off before comparing). Skipped where the programs are
 * not installed (scripts/test-setup.sh installs isync and getmail6).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startMailwire, type Mailwire } from '../../src/testing/start.js';
import { runChild } from '../helpers/child.js';

const has = async (cmd: string): Promise<boolean> => (await runChild('sh', ['-c', `command -v ${cmd}`])).code === 0;

const MESSAGES = [
  'From: A <a@x.test>\r\nTo: qa@x.test\r\nSubject: one\r\n\r\n.leading dot\r\nbody one\r\n',
  'From: b@x.test\r\nTo: qa@x.test\r\nSubject: two\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n',
];

describe('sync clients over IMAP and POP3', () => {
  let mw: Mailwire;
  let dir: string;
  let raws: Buffer[] = [];

  before(async () => {
    mw = await startMailwire();
    dir = mkdtempSync(join(tmpdir(), 'mailwire-sync-'));
    const t = nodemailer.createTransport({ host: mw.smtp.host, port: mw.smtp.port, secure: false, ignoreTLS: true });
    for (const m of MESSAGES) await t.sendMail({ envelope: { from: 'a@x.test', to: ['qa@x.test'] }, raw: Buffer.from(m, 'utf8') });
    t.close();
    await mw.waitForMessage({ query: 'subject:two' });
    const ids = (await mw.messages('inbox:qa@x.test')).map((m) => m.id);
    raws = await Promise.all(ids.map(async (id) => Buffer.from(await (await fetch(`${mw.url}/api/v1/messages/${id}/raw`)).arrayBuffer())));
  });
  after(async () => {
    await mw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const lf = (b: Buffer): string => b.toString('latin1').replace(/\r\n/g, '\n');
  const filesOf = (maildir: string): string[] => ['new', 'cur'].flatMap((sub) => {
    try {
      return readdirSync(join(maildir, sub)).map((f) => readFileSync(join(maildir, sub, f)).toString('latin1'));
    } catch {
      return [];
    }
  });

  it('mbsync syncs the inbox into a Maildir whose files are /raw (CRLF→LF, without X-TUID:)', async (t) => {
    if (!(await has('mbsync'))) return t.skip('mbsync (isync) is not installed: bash scripts/test-setup.sh');
    const maildir = join(dir, 'mbsync');
    mkdirSync(maildir, { recursive: true });
    const rc = join(dir, 'mbsyncrc');
    writeFileSync(rc, [
      'IMAPAccount mw', `Host ${mw.imap.host}`, `Port ${mw.imap.port}`, 'User qa@x.test', 'Pass any', 'SSLType None', 'AuthMechs LOGIN', '',
      'IMAPStore mw-remote', 'Account mw', '',
      'MaildirStore mw-local', `Path ${maildir}/`, `Inbox ${maildir}/INBOX`, '',
      'Channel mw', 'Far :mw-remote:', 'Near :mw-local:', 'Patterns INBOX', 'Create Near', 'Sync Pull', `SyncState ${dir}/`, '',
    ].join('\n'));
    const r = await runChild('mbsync', ['-c', rc, '-a']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const got = filesOf(join(maildir, 'INBOX')).map((f) => f.replace(/^X-TUID: [^\n]*\n/m, '')).sort();
    assert.deepEqual(got, raws.map(lf).sort());
  });

  it('getmail6 retrieves the inbox over POP3 into a Maildir, byte for byte', async (t) => {
    if (!(await has('getmail'))) return t.skip('getmail6 is not installed: bash scripts/test-setup.sh');
    const maildir = join(dir, 'getmail');
    for (const sub of ['new', 'cur', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true, mode: 0o777 });
    chmodSync(dir, 0o755); // getmail run as root delivers as `nobody`, who must reach the Maildir
    for (const sub of ['', 'new', 'cur', 'tmp']) chmodSync(join(maildir, sub), 0o777);
    const rcdir = join(dir, 'getmailrc.d');
    mkdirSync(rcdir, { recursive: true });
    writeFileSync(join(rcdir, 'getmailrc'), [
      '[retriever]', 'type = SimplePOP3Retriever', `server = ${mw.pop3.host}`, `port = ${mw.pop3.port}`, 'username = qa@x.test', 'password = any', '',
      '[destination]', 'type = Maildir', `path = ${maildir}/`, ...(process.getuid?.() === 0 ? ['user = nobody'] : []), '',
      '[options]', 'read_all = true', 'delete = false', 'delivered_to = false', 'received = false', 'message_log_verbose = false', '',
    ].join('\n'));
    const r = await runChild('getmail', ['--getmaildir', rcdir, '--rcfile', 'getmailrc']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const got = filesOf(maildir).map((f) => f.replace(/^Return-Path: [^\n]*\n/, '')).sort();
    assert.deepEqual(got, raws.map(lf).sort());
  });
});
