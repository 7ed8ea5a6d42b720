/** Opaque paging cursors: a position in insertion order, base64url so callers don't build them by hand. */
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../config.js';
import { StoreInputError } from './errors.js';

export type CursorKind = 'm' | 's';

export function encodeCursor(kind: CursorKind, position: number): string {
  return Buffer.from(`${kind}${position}`, 'latin1').toString('base64url');
}

/** The position a cursor names; null/empty means "from the start". Anything else malformed throws (the API's 400). */
export function decodeCursor(kind: CursorKind, cursor: string | null | undefined): number | null {
  if (cursor === null || cursor === undefined || cursor === '') return null;
  const text = /^[A-Za-z0-9_-]{1,24}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('latin1') : '';
  const m = /^([ms])(\d{1,15})$/.exec(text);
  if (m === null || m[1] !== kind) throw new StoreInputError('ERR_BAD_CURSOR', 'malformed cursor');
  return Number(m[2]);
}

/** An inbox listing's cursor: the last address of the page (addresses sort as strings, so the next page starts after it). */
export function encodeInboxCursor(address: string): string {
  return Buffer.from(`i${address}`, 'utf8').toString('base64url');
}

export function decodeInboxCursor(cursor: string | null | undefined): string | null {
  if (cursor === null || cursor === undefined || cursor === '') return null;
  const text = /^[A-Za-z0-9_-]{1,1400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!text.startsWith('i')) throw new StoreInputError('ERR_BAD_CURSOR', 'malformed cursor');
  return text.slice(1);
}

/** Text matched literally by LIKE: its wildcards and the escape character escaped (ESCAPE '\\', the default). */
export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A prefix for LIKE with its wildcards escaped, lowercased as addresses are compared. */
export function likePrefix(prefix: string): string {
  return `${likeEscape(prefix.toLowerCase())}%`;
}

/** Page sizes the stores accept: 1..1000, default 50 (the API rejects out-of-range values before this). */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_SIZE;
  return Math.min(Math.max(Math.trunc(limit), 1), MAX_PAGE_SIZE);
}
