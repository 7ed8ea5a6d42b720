/**
 * The login rule of IMAP and POP3 with credentials configured, against the real service on ephemeral ports: a
 * configured user sees all mail, an inbox address with a configured password sees its inbox, anything else is
 * refused (NO [AUTHENTICATIONFAILED] / -ERR [AUTH]); refusals are counted in /metrics and slowed by the one limiter
 * shared with SMTP AUTH and HTTP Basic, across protocols; implicit-TLS ports serve imaplib's IMAP4_SSL and poplib's
 * POP3_SSL. Also the unit rules: no credentials = any password for an inbox address; off loopback without
 * credentials refuses to start unless insecure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startService, type RunningService } from '../../src/service.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { LoginLimiter } from '../../src/net/login-limiter.js';
import { selfSignedPem } from '../../src/net/tls.js';
import { createMailLogin } from '../../src/mailbox/login.js';
import { readerExposureProblem } from '../../src/mailbox/listeners.js';
import { runChild } from '../helpers/child.js';
import { waitFor } from '../helpers/wait.js';

async function py(code: string): Promise<string> {
  const r = await runChild('python3', ['-c', code]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('mail-client login rule (unit)', () => {
  it('without credentials: an inbox address with any password sees its inbox; other names are refused', async () => {
    const login = createMailLogin({ credentials: [] });
    assert.deepEqual(await login('QA@x.test', 'anything', '127.0.0.1', 'imap'), { ok: true, access: { kind: 'inbox', address: 'qa@x.test' } });
    const r = await login('admin', 'x', '127.0.0.1', 'pop3');
    assert.equal(r.ok, false);
  });

  it('with credentials: a configured user sees all mail, an inbox address needs a configured password; failures are limited across protocols', async () => {
    const limiter = new LoginLimiter({ freeFailures: 3 });
    const login = createMailLogin({ credentials: [{ user: 'admin', password: 's3cret' }, { user: 'ci', password: 'other' }], limiter });
    assert.deepEqual(await login('admin', 's3cret', '127.0.0.2', 'imap'), { ok: true, access: { kind: 'all', user: 'admin' } });
    assert.deepEqual(await login('qa@x.test', 'other', '127.0.0.2', 'pop3'), { ok: true, access: { kind: 'inbox', address: 'qa@x.test' } });
    for (const [user, pass] of [['qa@x.test', 'any'], ['admin', 'wrong'], ['nobody', 's3cret']] as const) {
      const r = await login(user, pass, '127.0.0.3', 'imap');
      assert.ok(!r.ok && r.refusal.kind === 'wrong', `${user}/${pass}: ${JSON.stringify(r)}`);
    }
    const throttled = await login('admin', 's3cret', '127.0.0.3', 'pop3');
    assert.ok(!throttled.ok && throttled.refusal.kind === 'throttled', 'the right password from an address that failed too often is refused unchecked');
    assert.equal((await login('admin', 's3cret', '127.0.0.4', 'pop3')).ok, true, 'another address is not slowed');
  });

  it('off loopback without credentials refuses to start unless insecure', () => {
    assert.match(readerExposureProblem({ imap: { host: '0.0.0.0', port: 0 } }) ?? '', /^IMAP on 0\.0\.0\.0 would let anyone .* --imap-insecure$/);
    assert.equal(readerExposureProblem({ imap: { host: '0.0.0.0', port: 0 }, insecure: true }), null);
    assert.equal(readerExposureProblem({ pop3: { host: '0.0.0.0', port: 0 }, credentials: [{ user: 'a', password: 'b' }] }), null);
    assert.equal(readerExposureProblem({ pop3: { host: '127.0.0.1', port: 0 } }), null);
  });
});

describe('IMAP and POP3 with credentials configured', () => {
  let svc: RunningService;
  const limiter = new LoginLimiter({ freeFailures: 3 });
  let imapPort = 0;
  let pop3Port = 0;
  let imapTls = 0;
  let pop3Tls = 0;
  let httpUrl = '';

  before(async () => {
    const pem = await selfSignedPem(['localhost', '127.0.0.1']);
    svc = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits({}), display: quietDisplay },
      store: { kind: 'memory' },
      http: { host: '127.0.0.1', port: 0 },
      readers: {
        imap: { host: '127.0.0.1', port: 0, tls: pem, tlsPort: 0 },
        pop3: { host: '127.0.0.1', port: 0, tls: pem, tlsPort: 0 },
        credentials: [{ user: 'admin', password: 's3cret' }],
        loginLimiter: limiter,
      },
    });
    imapPort = svc.readers.imap?.port ?? 0;
    pop3Port = svc.readers.pop3?.port ?? 0;
    imapTls = svc.readers.imap?.tlsPort ?? 0;
    pop3Tls = svc.readers.pop3?.tlsPort ?? 0;
    httpUrl = `http://127.0.0.1:${svc.http?.port ?? 0}`;
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: svc.smtp.port, secure: false, ignoreTLS: true });
    await t.sendMail({ envelope: { from: 'a@x.test', to: ['qa@x.test'] }, raw: 'Subject: for qa\r\n\r\nhi\r\n' });
    await t.sendMail({ envelope: { from: 'a@x.test', to: ['other@x.test'] }, raw: 'Subject: for other\r\n\r\nhi\r\n' });
    t.close();
    await waitFor('both messages indexed', async () => {
      const page = await (await fetch(`${httpUrl}/api/v1/messages?query=${encodeURIComponent('subject:"for other"')}`)).json() as { messages?: unknown[] };
      return (page.messages ?? []).length === 1;
    });
  });
  after(() => svc.close(0));

  it('a configured user sees all mail; an inbox address with a configured password sees its inbox (imapflow)', async () => {
    const count = async (user: string, pass: string): Promise<string[]> => {
      const c = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user, pass }, logger: false, tls: { rejectUnauthorized: false } });
      await c.connect();
      const subjects: string[] = [];
      const lock = await c.getMailboxLock('INBOX');
      try {
        for await (const m of c.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
      } finally {
        lock.release();
        await c.logout();
      }
      return subjects.sort();
    };
    assert.deepEqual(await count('admin', 's3cret'), ['for other', 'for qa']);
    assert.deepEqual(await count('qa@x.test', 's3cret'), ['for qa']);
  });

  it('refuses a wrong password with NO [AUTHENTICATIONFAILED] and -ERR [AUTH], counts them, and the shared limiter then refuses across protocols', async () => {
    const out = await py(`
import imaplib, poplib
M = imaplib.IMAP4('127.0.0.1', ${imapPort})
for pw in ['nope', 'nope2']:
    try: M.login('qa@x.test', pw)
    except imaplib.IMAP4.error as e: print(e)
p = poplib.POP3('127.0.0.1', ${pop3Port})
p.user('admin')
try: p.pass_('wrong')
except poplib.error_proto as e: print(e)
p.user('admin')
try: p.pass_('s3cret')
except poplib.error_proto as e: print(e)
try: M.login('admin', 's3cret')
except imaplib.IMAP4.error as e: print(e)
`);
    const lines = out.trim().split('\n');
    assert.match(lines[0] ?? '', /^b'\[AUTHENTICATIONFAILED\] wrong user name or password/);
    assert.match(lines[1] ?? '', /^b'\[AUTHENTICATIONFAILED\] wrong user name or password/);
    assert.match(lines[2] ?? '', /^b'-ERR \[AUTH\] wrong user name or password/);
    assert.match(lines[3] ?? '', /^b'-ERR \[SYS\/TEMP\] too many failed logins from your address; try again in \d+ s'$/);
    assert.match(lines[4] ?? '', /^b'\[UNAVAILABLE\] too many failed logins from your address; try again in \d+ s'$/);
    const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
    assert.match(metrics, /mailwire_reader_logins_total\{protocol="imap",outcome="wrong"\} 2\b/);
    assert.match(metrics, /mailwire_reader_logins_total\{protocol="pop3",outcome="throttled"\} 1\b/);
    assert.match(metrics, /mailwire_reader_commands_total\{protocol="pop3",command="USER"\} 2\b/);
  });

  it('serves implicit TLS on --imap-tls-port and --pop3-tls-port (imaplib IMAP4_SSL, poplib POP3_SSL)', async () => {
    await waitFor('the limiter to let 127.0.0.1 try again', () => limiter.retryAfterSeconds('127.0.0.1') === 0, { deadlineMs: 70_000 });
    const out = await py(`
import imaplib, poplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
M = imaplib.IMAP4_SSL('127.0.0.1', ${imapTls}, ssl_context=ctx)
print('STARTTLS' in M.capabilities, 'AUTH=PLAIN' in M.capabilities)
M.login('admin', 's3cret'); print(M.select('INBOX')[1][0].decode()); M.logout()
p = poplib.POP3_SSL('127.0.0.1', ${pop3Tls}, context=ctx)
print('STLS' in p.capa()); p.user('admin'); print(p.pass_('s3cret').decode()); p.quit()
`);
    assert.match(out, /^False True\n2\nFalse\n\+OK admin has 2 messages \(\d+ octets\)\n$/);
  });
});
