/**
 * The SMTP AUTH verifier: the logins of --auth and --auth-file (plain passwords or bcrypt hashes, see
 * ../credentials.ts for how they are compared). The session core never calls it: it asks the shell with a
 * 'verify' action, and the shell feeds the answer back, so a slow check (bcrypt, an outside service) blocks nothing.
 * Failures are counted per client address by the limiter (../../net/login-limiter.ts), shared with HTTP Basic when
 * the same one is given to both: past its allowance a client is refused unchecked (421, then the connection closes).
 */
import { createPasswordCheck, type Credential } from '../../credentials.js';
import { LoginLimiter } from '../../net/login-limiter.js';
import type { Authenticator } from '../core/types.js';

export { parseCredential, parseCredentialFile, type Credential } from '../../credentials.js';

export function createAuthenticator(credentials: readonly Credential[], allowInsecure: boolean, limiter: LoginLimiter = new LoginLimiter()): Authenticator {
  const check = createPasswordCheck(credentials);
  return {
    allowInsecure,
    verify: async (user, password, client) => {
      const v = await limiter.attempt(client, () => check(user, password));
      switch (v.kind) {
        case 'ok': return true;
        case 'wrong': return false;
        case 'throttled':
        case 'busy': return { refused: v.kind, retryAfterSeconds: v.retryAfterSeconds };
      }
    },
  };
}
