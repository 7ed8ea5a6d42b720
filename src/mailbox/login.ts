/**
 * The login rule of the mail-client protocols (IMAP, POP3), one home for both: "Login = an inbox".
 *
 *  - No credentials configured: the user name is an inbox address and any password is accepted (a catcher on
 *    loopback; off loopback the CLI refuses to start this way unless --imap-insecure).
 *  - Credentials configured (--http-auth-file, or under --dialect smtp the SMTP --auth/--auth-file users): a
 *    configured user with its password sees all mail; an inbox address logs in with the password of a configured user
 *    and sees that inbox. Anything else is refused.
 *
 * Every checked attempt goes through the process's LoginLimiter (the one SMTP AUTH and HTTP Basic use), so failures
 * count across connections and protocols and an address that failed too often is refused unchecked. Passwords are
 * checked by src/credentials.ts, bcrypt on the pool's threads, never on the event loop.
 */
import { createPasswordCheck, type Credential, type PasswordCheck } from '../credentials.js';
import { LoginLimiter } from '../net/login-limiter.js';
import type { LoginOutcome, MailLogin, MailboxAccess } from './access.js';
import { isInboxAddress } from './inbox-view.js';

export type MailLoginConfig = Readonly<{
  /** The configured users; empty: any password for an inbox address. */
  credentials: readonly Credential[];
  limiter?: LoginLimiter;
}>;

const NOT_AN_ADDRESS = 'the user name is an inbox address (an envelope recipient), e.g. qa@example.test';

export function createMailLogin(config: MailLoginConfig): MailLogin {
  const limiter = config.limiter ?? new LoginLimiter();
  const refuse = (_protocol: 'imap' | 'pop3', kind: 'wrong' | 'throttled', reason: string): LoginOutcome => ({ ok: false, refusal: { kind, reason } });
  if (config.credentials.length === 0) {
    return async (user, _password, _client, protocol) => {
      const address = user.trim().toLowerCase();
      return isInboxAddress(address) ? { ok: true, access: { kind: 'inbox', address } } : refuse(protocol, 'wrong', NOT_AN_ADDRESS);
    };
  }
  const checkUser = createPasswordCheck(config.credentials);
  // One check per configured user, for "is this the password of any configured user" (an inbox address's login).
  const perUser: { user: string; check: PasswordCheck }[] = config.credentials.map((c) => ({ user: c.user, check: createPasswordCheck([c]) }));
  const configured = new Set(config.credentials.map((c) => c.user));
  return async (user, password, client, protocol) => {
    const got: { access: MailboxAccess | null } = { access: null };
    const verdict = await limiter.attempt(client, async () => {
      if (configured.has(user)) {
        if (!(await checkUser(user, password))) return false;
        got.access = { kind: 'all', user };
        return true;
      }
      const address = user.trim().toLowerCase();
      if (!isInboxAddress(address)) {
        await checkUser(user, password); // the same time as a wrong password: an unknown name is not answered faster
        return false;
      }
      let ok = false;
      for (const u of perUser) ok = (await u.check(u.user, password)) || ok; // every one: the time tells nothing
      if (ok) got.access = { kind: 'inbox', address };
      return ok;
    });
    switch (verdict.kind) {
      case 'ok': return got.access === null ? refuse(protocol, 'wrong', 'wrong user name or password') : { ok: true, access: got.access };
      case 'wrong': return refuse(protocol, 'wrong', 'wrong user name or password (a configured user, or an inbox address with a configured password)');
      case 'throttled': return refuse(protocol, 'throttled', `too many failed logins from your address; try again in ${verdict.retryAfterSeconds} s`);
      case 'busy': return refuse(protocol, 'throttled', `the password checks are busy; try again in ${verdict.retryAfterSeconds} s`);
    }
  };
}
