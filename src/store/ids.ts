import { randomUUID } from 'node:crypto';

/**
 * Message and session ids: UUID-shaped, their first 48 bits the time in milliseconds, so that ids sort by time and a
 * new row lands at the end of the id index instead of at a random page (which would dirty a page per insert).
 * The rest is from randomUUID, which Node draws from a buffered pool.
 */
export function timeOrderedId(now = Date.now()): string {
  const t = now.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}${randomUUID().slice(13)}`;
}

const MAX_ID_LENGTH = 200;

/** Could `id` name a message or session? Text, not empty, a sane length, no NUL; anything else names none. */
export const validId = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && !id.includes('\0');
