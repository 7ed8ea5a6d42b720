/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com/): the secret is `whsec_` and base64 key bytes; the
 * signature of one attempt is base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.` + body)), sent as
 * `webhook-signature: v1,<signature>`. Written with node:crypto rather than the `standardwebhooks` package: its
 * sign() takes the payload as a string and UTF-8 encodes it, and a raw payload (the .eml) need not be UTF-8, so the
 * bytes it signed would not be the bytes sent.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';
/** Keys between 24 and 64 bytes, as the specification advises. */
const MIN_KEY = 24;
const MAX_KEY = 64;

/** The key bytes of a `whsec_…` secret, or why it is not one. */
export function parseSecret(secret: string): { ok: true; key: Buffer } | { ok: false; reason: string } {
  if (!secret.startsWith(PREFIX)) return { ok: false, reason: 'a webhook secret has the Standard Webhooks form whsec_<base64 of 24 to 64 bytes>' };
  const b64 = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return { ok: false, reason: 'the part after whsec_ must be base64 (A-Z a-z 0-9 + /, padded with =)' };
  const key = Buffer.from(b64, 'base64');
  if (key.length < MIN_KEY || key.length > MAX_KEY) return { ok: false, reason: `the secret's key is ${key.length} bytes; it must be ${MIN_KEY} to ${MAX_KEY}` };
  return { ok: true, key };
}

export const generateSecret = (): string => `${PREFIX}${randomBytes(32).toString('base64')}`;

/** The `webhook-signature` header's value for one attempt; `timestamp` in seconds since the epoch. */
export function signatureHeader(key: Buffer, id: string, timestamp: number, body: Buffer): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}
