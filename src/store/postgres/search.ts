/**
 * The search language (./query.ts) for PostgreSQL, and the full-text entry it searches. Pure: no I/O.
 *
 * Full text gives the same answers as SQLite's FTS5 (unicode61, diacritics removed) and the memory store because the
 * words are cut here, by query.ts's textTokens, not by PostgreSQL's parser (which keeps e-mail addresses, URLs and
 * hyphenated words whole and would find other things): the tsvector is written as a literal of those words with
 * their positions, and a text term becomes a tsquery phrase (`'a' <-> 'b'`). Subject, addresses and body each start
 * one position past a gap after the one before, so a phrase never runs from one into the next, as in FTS5's columns.
 * PostgreSQL's own limits apply: positions stop at 16,383 and a word keeps at most 256 of them, so a phrase far into
 * a very long body (beyond about 16,000 words) is not found there, while its single words still are.
 *
 * `from:`, `to:` and `subject:` are substrings of the lowercased columns (LIKE with the user's value escaped, which
 * the pg_trgm GIN indexes serve), exactly what instr() does in SQLite and includes() in memory.
 */
import { textTokens, type SearchQuery } from '../query.js';
import type { SearchFields } from '../parse.js';
import { assertNever } from '../../assert-never.js';
import { likeEscape } from '../cursor.js';

export type PgCondition = Readonly<{
  sql: string;
  params: unknown[];
  /**
   * Every full-text term the condition requires (not negated), as one tsquery literal; null when it has none. A
   * message the condition matches is among those this matches: see postgres.ts's #fullTextCandidates.
   */
  fullText: string | null;
}>;

/** tsvector limits (PostgreSQL's tsvector.h: MAXSTRLEN, MAXENTRYPOS, MAXNUMPOS). */
const MAX_WORD_BYTES = 2047;
const MAX_POSITION = 16383;
const MAX_POSITIONS_PER_WORD = 256;

const FIELD_COLUMN = { from: 'i.from_lc', to: 'i.to_lc', subject: 'i.subject_lc' } as const;

/**
 * A parsed query as a condition over `messages m JOIN message_index i`, its values numbered from $1.
 * Every user value is a bound parameter.
 */
export function pgSearchCondition(q: SearchQuery): PgCondition {
  const parts: string[] = [];
  const params: unknown[] = [];
  const required: string[] = [];
  const param = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  for (const c of q.clauses) {
    switch (c.kind) {
      case 'text': {
        const tokens = textTokens(c.value);
        if (tokens.length === 0) break; // only punctuation: narrows nothing, as in the other stores
        // A word too long for a tsvector was never indexed: no message has it.
        if (tokens.some((t) => Buffer.byteLength(t) > MAX_WORD_BYTES)) parts.push(c.negate ? 'TRUE' : 'FALSE');
        else {
          parts.push(`${c.negate ? 'NOT ' : ''}i.fts @@ ${param(tsPhrase(tokens))}::tsquery`);
          if (!c.negate) required.push(`(${tsPhrase(tokens)})`);
        }
        break;
      }
      case 'field':
        parts.push(`${c.negate ? 'NOT ' : ''}${FIELD_COLUMN[c.field]} LIKE ${param(`%${likeEscape(noNul(c.value))}%`)}`);
        break;
      case 'before':
        parts.push(`m.received_at < ${param(c.at)}`);
        break;
      case 'after':
        parts.push(`m.received_at >= ${param(c.at)}`);
        break;
      case 'has-attachment':
        parts.push(`i.has_attachment = ${c.negate ? 'FALSE' : 'TRUE'}`);
        break;
      case 'read':
        parts.push(`m.read = ${c.read ? 'TRUE' : 'FALSE'}`);
        break;
      case 'id':
        parts.push(`m.id ${c.negate ? '<>' : '='} ${param(noNul(c.id))}`);
        break;
      case 'inbox':
      {
        // A recipient, unless the message was taken out of that inbox (message_inbox_left).
        const address = param(noNul(c.address));
        parts.push(`${c.negate ? 'NOT ' : ''}(EXISTS (SELECT 1 FROM json_array_elements_text(m.envelope->'to') r WHERE lower(r) = ${address})
          AND NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.seq = m.seq AND l.address = ${address}))`);
      }
        break;
      case 'workspace':
        parts.push(`m.workspace ${c.negate ? '<>' : '='} ${param(noNul(c.name))}`);
        break;
      default:
        assertNever(c);
    }
  }
  return { sql: parts.length === 0 ? 'TRUE' : parts.join(' AND '), params, fullText: required.length === 0 ? null : required.join(' & ') };
}

/** The full-text entry of one message as a tsvector literal (see the top of this file). */
export function tsvectorLiteral(s: SearchFields): string {
  const positions = new Map<string, number[]>();
  let at = 0;
  for (const column of [s.ftsSubject, s.ftsAddresses, s.ftsBody]) {
    for (const token of textTokens(column)) {
      at = Math.min(at + 1, MAX_POSITION);
      if (Buffer.byteLength(token) > MAX_WORD_BYTES) continue;
      const list = positions.get(token);
      if (list === undefined) positions.set(token, [at]);
      else if (list.length < MAX_POSITIONS_PER_WORD && list[list.length - 1] !== at) list.push(at);
    }
    at = Math.min(at + 1, MAX_POSITION); // the gap between columns
  }
  const out: string[] = [];
  for (const [token, list] of positions) out.push(`${quote(token)}:${list.join(',')}`);
  return out.join(' ');
}

/** Words as a tsquery phrase literal: each quoted, so nothing the user typed is tsquery syntax. */
export function tsPhrase(tokens: readonly string[]): string {
  return tokens.map(quote).join(' <-> ');
}

/** The lowercased search columns hold no NUL (PostgreSQL text cannot); queries drop it the same way. */
export function noNul(s: string): string {
  return s.includes('\0') ? s.replaceAll('\0', '') : s;
}

function quote(word: string): string {
  return `'${word.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

