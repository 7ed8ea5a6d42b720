/**
 * Which sessions GET /api/v1/sessions lists: all, or only failed ones, one client's, or those that named an address
 * in MAIL FROM or RCPT TO. The same rules in every store: SQL in sqlite and postgres, this file's match in memory.
 */
import type { SessionEnd, TranscriptLine } from './types.js';

/** Ends that mean the session went wrong (the UI marks them red). */
export const FAILED_SESSION_ENDS = ['error', 'timeout', 'refused', 'fault'] as const satisfies readonly SessionEnd[];

export type SessionFilter = Readonly<{
  /** Only sessions that ended in one of FAILED_SESSION_ENDS. */
  failed?: boolean;
  /** Only sessions from this client address, exactly as recorded (e.g. 127.0.0.1, ::1). */
  client?: string;
  /** Only sessions whose transcript holds `<address>` (MAIL FROM, RCPT TO), ASCII case-insensitively. */
  address?: string;
  /** Only sessions of this workspace (connection.workspace; ./workspace-scope.ts sets it). */
  workspace?: string;
}>;

const asciiLower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * What the address filter looks for in the transcript as stored (JSON text, ASCII-lowercased): the address in angle
 * brackets, as MAIL FROM:<a@x> and RCPT TO:<b@y> carry it; JSON-escaped as the transcript's own text is.
 */
export function addressNeedle(address: string): string {
  return asciiLower(JSON.stringify(`<${address}>`).slice(1, -1));
}

export function sessionMatches(s: Readonly<{ end: SessionEnd; connection: { clientAddress: string; workspace?: string }; transcript: readonly TranscriptLine[] }>, f: SessionFilter): boolean {
  if (f.failed === true && !(FAILED_SESSION_ENDS as readonly SessionEnd[]).includes(s.end)) return false;
  if (f.client !== undefined && s.connection.clientAddress !== f.client) return false;
  if (f.workspace !== undefined && s.connection.workspace !== f.workspace) return false;
  if (f.address !== undefined && !asciiLower(JSON.stringify(s.transcript)).includes(addressNeedle(f.address))) return false;
  return true;
}

/** The filter as SQL conditions over the sessions table, with their parameters in order (sqlite `?` placeholders). */
export function sessionFilterSql(f: SessionFilter, dialect: 'sqlite' | 'postgres', firstParam = 1): { where: string[]; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  const p = (): string => (dialect === 'sqlite' ? '?' : `$${firstParam + params.length}`);
  if (f.failed === true) where.push(`end_reason IN (${FAILED_SESSION_ENDS.map((e) => `'${e}'`).join(', ')})`);
  if (f.client !== undefined) {
    where.push(dialect === 'sqlite' ? `json_extract(connection, '$.clientAddress') = ${p()}` : `connection->>'clientAddress' = ${p()}`);
    params.push(f.client);
  }
  if (f.workspace !== undefined) {
    where.push(`workspace = ${p()}`);
    params.push(f.workspace);
  }
  if (f.address !== undefined) {
    // ASCII-only lowering on both sides, so that sqlite and postgres (whose lower() knows more letters) agree.
    where.push(dialect === 'sqlite' ? `instr(lower(transcript), ${p()}) > 0` : `position(${p()} in translate(transcript::text, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) > 0`);
    params.push(addressNeedle(f.address));
  }
  return { where, params };
}
