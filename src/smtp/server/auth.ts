/**
 * The SMTP AUTH verifier: the logins of --auth and --auth-file (plain passwords or bcrypt hashes, see
 * ../credentials.ts for how they are compared). The session core never calls it: it asks the shell with a
 * 'verify' action, and the shell feeds the answer back, so a slow check (bcrypt, an outside service) blocks nothing.
 */
import { createPasswordCheck, type Credential } from '../../credentials.js';
import type { Authenticator } from '../core/types.js';

export { parseCredential, parseCredentialFile, type Credential } from '../../credentials.js';

export function createAuthenticator(credentials: readonly Credential[], allowInsecure: boolean): Authenticator {
  return { allowInsecure, verify: createPasswordCheck(credentials) };
}
