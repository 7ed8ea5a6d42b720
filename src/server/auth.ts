/**
 * Password checks for AUTH PLAIN/LOGIN. The core asks `verify(user, password)`; this answers in time that does not
 * depend on which user was named or how much of the password was right: both are hashed (so the lengths compared are
 * equal) and compared with timingSafeEqual against every entry, without stopping at the first match.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Authenticator } from '../protocol/types.js';

export type Credential = Readonly<{ user: string; password: string }>;

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function createAuthenticator(credentials: readonly Credential[], allowInsecure: boolean): Authenticator {
  const table = credentials.map((c) => ({ user: sha256(c.user), password: sha256(c.password) }));
  return {
    allowInsecure,
    verify(user, password) {
      const u = sha256(user);
      const p = sha256(password);
      let ok = false;
      for (const entry of table) {
        const match = timingSafeEqual(entry.user, u) && timingSafeEqual(entry.password, p);
        ok = match || ok; // no early exit
      }
      return ok;
    },
  };
}

/** "user:password" (the password may hold colons); null when there is no colon or no user. */
export function parseCredential(text: string): Credential | null {
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** An --auth-file: one "user:password" a line; blank lines and lines starting with "#" are skipped. */
export function parseCredentialFile(text: string): Credential[] {
  const out: Credential[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const c = parseCredential(line);
    if (c === null) throw new Error(`line ${i + 1}: expected user:password`);
    out.push(c);
  }
  return out;
}
