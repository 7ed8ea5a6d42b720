/**
 * Logins: parsing "user:secret" lines and checking a password against them, for SMTP AUTH (--auth, --auth-file) and
 * HTTP Basic (--http-auth-file). A secret is a plain password or a bcrypt hash ("$2y$…", as `htpasswd -B` and Mailpit
 * write them; bcryptjs is pure JS, so no native build).
 *
 * The check takes the same time whichever user was named and however much of the password was right: user and
 * password are compared together (sha256 of both, timingSafeEqual) against every plain entry without stopping at a
 * match, and exactly one bcrypt comparison runs when the file holds hashes (against the named user's hash, or a
 * dummy one of the same cost for an unknown user), so an unknown user is not answered faster.
 *
 * bcrypt runs on the worker threads of ./bcrypt-pool.ts, never on the event loop (~85 ms of CPU a check at cost 10):
 * a check that finds that pool's queue full rejects with LoginBusyError. How often one client may try is
 * ./net/login-limiter.ts's business.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { sharedBcryptPool, type BcryptPool } from './bcrypt-pool.js';

export type Credential =
  | Readonly<{ user: string; password: string }>
  | Readonly<{ user: string; bcryptHash: string }>;

/** Answers at once for plain passwords; a Promise when bcrypt hashes are involved (rejected with LoginBusyError when no thread is free soon). */
export type PasswordCheck = (user: string, password: string) => boolean | Promise<boolean>;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const sha256 = (...parts: string[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p, 'utf8').update('\0');
  return h.digest();
};

/** "user:secret" (the secret may hold colons); null when there is no colon or no user. A bcrypt-shaped secret is a hash. */
export function parseCredential(text: string): Credential | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  const user = text.slice(0, colon);
  const secret = text.slice(colon + 1);
  return BCRYPT.test(secret) ? { user, bcryptHash: secret } : { user, password: secret };
}

/**
 * A file of logins, one "user:secret" a line; blank lines and lines starting with "#" are skipped. `bcryptOnly`
 * (htpasswd files) refuses plain passwords and other hash schemes, naming the line.
 */
export function parseCredentialFile(text: string, opts: { bcryptOnly?: boolean } = {}): Credential[] {
  const out: Credential[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const c = parseCredential(line);
    if (c === null) throw new Error(`line ${i + 1}: expected user:${opts.bcryptOnly === true ? 'bcrypt-hash' : 'password'}`);
    if (opts.bcryptOnly === true && !('bcryptHash' in c)) {
      throw new Error(`line ${i + 1}: user ${JSON.stringify(c.user)} has no bcrypt hash ($2y$…); only bcrypt is supported: make one with "htpasswd -nbB user password"`);
    }
    out.push(c);
  }
  return out;
}

export function createPasswordCheck(credentials: readonly Credential[], pool: BcryptPool = sharedBcryptPool()): PasswordCheck {
  const plain = credentials.flatMap((c) => ('password' in c ? [sha256(c.user, c.password)] : []));
  const hashed = credentials.flatMap((c) => ('bcryptHash' in c ? [{ user: sha256(c.user), hash: c.bcryptHash }] : []));
  const cost = Number(BCRYPT.exec(hashed[0]?.hash ?? '')?.[1] ?? 10);
  // Made on a pool thread at the first check, once.
  let dummyHash: Promise<string> | null = null;
  const dummy = (): Promise<string> => (dummyHash ??= pool.hash('mailwire: no such user', cost).catch((e: unknown) => {
    dummyHash = null;
    throw e;
  }));

  const plainMatch = (user: string, password: string): boolean => {
    const both = sha256(user, password);
    let ok = false;
    for (const entry of plain) ok = timingSafeEqual(entry, both) || ok; // no early exit
    return ok;
  };
  if (hashed.length === 0) return plainMatch;
  return async (user, password) => {
    const u = sha256(user);
    let hash: string | null = null;
    for (const entry of hashed) if (timingSafeEqual(entry.user, u)) hash = entry.hash; // every entry looked at
    const bcryptOk = await pool.compare(password, hash ?? (await dummy()));
    return (bcryptOk && hash !== null) || plainMatch(user, password);
  };
}
