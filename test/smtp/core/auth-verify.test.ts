import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { SessionMisuseError, SmtpSession } from '../../../src/smtp/core/session.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const line = (text: string) => ({ type: 'line', line: { text, ending: 'crlf', overflow: false } }) as const;

/** A session that has said EHLO and may AUTH without TLS. */
function session(): SmtpSession {
  const s = new SmtpSession({
    dialect: smtpDialect, serverName: '192.0.2.1', clientAddress: '198.51.100.7', limits: resolveLimits(), auth: { allowInsecure: true },
  });
  s.greet();
  s.feed(line('EHLO c.test'));
  return s;
}

describe('AUTH: the core asks the shell to verify, and waits', () => {
  it('emits one verify action with the credentials, replies nothing yet, and answers 235 once told yes', () => {
    const s = session();
    assert.deepEqual(s.feed(line(`AUTH PLAIN ${b64('\0alice\0s3cret')}`)), [{ type: 'verify', user: 'alice', password: 's3cret' }]);
    assert.deepEqual(s.phase, { kind: 'verifying', helo: 'c.test', user: 'alice' });
    assert.deepEqual(s.feed({ type: 'verified', ok: true }), [{ type: 'reply', reply: { code: 235, lines: ['2.7.0 Authentication successful'] } }]);
    assert.equal(s.context.authUser, 'alice');
    assert.deepEqual(s.phase, { kind: 'await-mail', helo: 'c.test' });
  });

  it('LOGIN asks for both, then verifies; a no is 535 and counts as an error', () => {
    const s = session();
    s.feed(line('AUTH LOGIN'));
    s.feed(line(b64('bob')));
    assert.deepEqual(s.feed(line(b64('pa:ss'))), [{ type: 'verify', user: 'bob', password: 'pa:ss' }]);
    assert.deepEqual(s.feed({ type: 'verified', ok: false }), [{ type: 'reply', reply: { code: 535, lines: ['5.7.8 Authentication credentials invalid'] } }]);
    assert.equal(s.context.authUser, null);
    assert.equal(s.context.errors, 1);
  });

  it('reads no line while verifying (the shell must wait), and a timeout closes the session', () => {
    const s = session();
    s.feed(line(`AUTH PLAIN ${b64('\0alice\0s3cret')}`));
    assert.throws(() => s.feed(line('MAIL FROM:<a@b.test>')), SessionMisuseError);
    assert.deepEqual(s.feed({ type: 'timeout' }), [
      { type: 'reply', reply: { code: 421, lines: ['4.4.2 192.0.2.1 Idle timeout, closing connection'] } }, { type: 'close' },
    ]);
    assert.deepEqual(s.feed({ type: 'verified', ok: true }), []); // a late answer for a session already gone
  });

  it('a login the shell refused to check: throttled is 421 and a close, busy is 454 and the session goes on', () => {
    const throttled = session();
    throttled.feed(line(`AUTH PLAIN ${b64('\0alice\0s3cret')}`));
    assert.deepEqual(throttled.feed({ type: 'login-refused', refusal: { refused: 'throttled', retryAfterSeconds: 8 } }), [
      { type: 'reply', reply: { code: 421, lines: ['4.7.0 192.0.2.1 Too many failed logins from 198.51.100.7, try again in 8 s'] } }, { type: 'close' },
    ]);
    assert.deepEqual(throttled.phase, { kind: 'closed' });
    const busy = session();
    busy.feed(line(`AUTH PLAIN ${b64('\0alice\0s3cret')}`));
    assert.deepEqual(busy.feed({ type: 'login-refused', refusal: { refused: 'busy', retryAfterSeconds: 1 } }), [
      { type: 'reply', reply: { code: 454, lines: ['4.7.0 Temporary authentication failure, try again in 1 s'] } },
    ]);
    assert.deepEqual(busy.phase, { kind: 'await-mail', helo: 'c.test' });
    assert.equal(busy.context.errors, 0);
    assert.throws(() => busy.feed({ type: 'login-refused', refusal: { refused: 'busy', retryAfterSeconds: 1 } }), SessionMisuseError);
  });
});
