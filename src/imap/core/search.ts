/**
 * SEARCH keys (RFC 3501 §6.4.4), parsed from tokens into a tree and matched against one message's facts, pure.
 * Strings match as case-insensitive substrings; dates compare the internal date's day (UTC), as the RFC says.
 */
import { parseSequenceSet, inSet, type SequenceSet } from './sequence-set.js';
import type { Token } from './tokens.js';

export type SearchKey =
  | Readonly<{ kind: 'all' }>
  | Readonly<{ kind: 'flag'; flag: string; set: boolean }>
  | Readonly<{ kind: 'field'; field: 'from' | 'to' | 'cc' | 'bcc' | 'subject'; value: string }>
  | Readonly<{ kind: 'header'; name: string; value: string }>
  | Readonly<{ kind: 'text' | 'body'; value: string }>
  | Readonly<{ kind: 'date'; op: 'since' | 'before' | 'on'; day: number }>
  | Readonly<{ kind: 'size'; op: 'larger' | 'smaller'; n: number }>
  | Readonly<{ kind: 'seq' | 'uid'; set: SequenceSet }>
  | Readonly<{ kind: 'not'; key: SearchKey }>
  | Readonly<{ kind: 'or'; a: SearchKey; b: SearchKey }>
  | Readonly<{ kind: 'and'; keys: readonly SearchKey[] }>;

export type SearchTarget = Readonly<{
  seq: number; uid: number; size: number; flags: ReadonlySet<string>; internalDate: Date;
  from: string; to: string; cc: string; subject: string;
  /** The raw message (latin1), when the key needs it (header, text, body); null otherwise. */
  raw: string | null;
}>;

const FLAG_KEYS: Record<string, readonly [string, boolean]> = {
  SEEN: ['\\Seen', true], UNSEEN: ['\\Seen', false], DELETED: ['\\Deleted', true], UNDELETED: ['\\Deleted', false],
  FLAGGED: ['\\Flagged', true], UNFLAGGED: ['\\Flagged', false], ANSWERED: ['\\Answered', true], UNANSWERED: ['\\Answered', false],
  DRAFT: ['\\Draft', true], UNDRAFT: ['\\Draft', false], RECENT: ['\\Recent', true], OLD: ['\\Recent', false], NEW: ['\\Recent', true],
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

class Bad extends Error {}

export function parseSearch(tokens: readonly Token[]): { ok: true; key: SearchKey; charset: string | null } | { ok: false; reason: string } {
  let i = 0;
  let charset: string | null = null;
  const word = (t: Token | undefined): string => (t?.kind === 'atom' ? t.value.toUpperCase() : '');
  if (word(tokens[0]) === 'CHARSET') {
    const cs = tokens[1];
    if (cs === undefined || cs.kind === 'list') return { ok: false, reason: 'CHARSET needs a name' };
    charset = cs.value.toUpperCase();
    if (charset !== 'UTF-8' && charset !== 'US-ASCII') return { ok: false, reason: `[BADCHARSET (UTF-8 US-ASCII)] charset ${charset} is not supported` };
    i = 2;
  }
  const str = (): string => {
    const t = tokens[i++];
    if (t === undefined || t.kind === 'list') throw new Bad('a search key is missing its string argument');
    return Buffer.from(t.value, 'latin1').toString('utf8').toLowerCase();
  };
  const date = (): number => {
    const s = str();
    const m = /^"?(\d{1,2})-([a-z]{3})-(\d{4})"?$/.exec(s);
    const month = m ? MONTHS.indexOf(m[2] ?? '') : -1;
    if (m === null || month === -1) throw new Bad(`${JSON.stringify(s.slice(0, 20))} is not a date such as 1-Feb-2024`);
    return Date.UTC(Number(m[3]), month, Number(m[1]));
  };
  const key = (depth: number): SearchKey => {
    if (depth > 32) throw new Bad('search keys nested deeper than 32');
    const t = tokens[i++];
    if (t === undefined) throw new Bad('a search key is missing');
    if (t.kind === 'list') {
      const inner = parseSearch(t.items);
      if (!inner.ok) throw new Bad(inner.reason);
      return inner.key;
    }
    if (t.kind === 'string') throw new Bad(`unexpected string ${JSON.stringify(t.value.slice(0, 20))} where a search key belongs`);
    const w = t.value.toUpperCase();
    const flag = FLAG_KEYS[w];
    if (flag !== undefined) return { kind: 'flag', flag: flag[0], set: flag[1] };
    switch (w) {
      case 'ALL': return { kind: 'all' };
      case 'FROM': case 'TO': case 'CC': case 'BCC': case 'SUBJECT': return { kind: 'field', field: w.toLowerCase() as 'from', value: str() };
      case 'TEXT': case 'BODY': return { kind: w === 'TEXT' ? 'text' : 'body', value: str() };
      case 'HEADER': { const name = str(); return { kind: 'header', name, value: str() }; }
      case 'SINCE': case 'SENTSINCE': return { kind: 'date', op: 'since', day: date() };
      case 'BEFORE': case 'SENTBEFORE': return { kind: 'date', op: 'before', day: date() };
      case 'ON': case 'SENTON': return { kind: 'date', op: 'on', day: date() };
      case 'LARGER': case 'SMALLER': {
        const n = str();
        if (!/^\d{1,10}$/.test(n)) throw new Bad(`${w} needs a number`);
        return { kind: 'size', op: w === 'LARGER' ? 'larger' : 'smaller', n: Number(n) };
      }
      case 'UID': {
        const s = parseSequenceSet(str());
        if (!s.ok) throw new Bad(s.reason);
        return { kind: 'uid', set: s.set };
      }
      case 'NOT': return { kind: 'not', key: key(depth + 1) };
      case 'OR': { const a = key(depth + 1); return { kind: 'or', a, b: key(depth + 1) }; }
      default: {
        if (/^[0-9*]/.test(w)) {
          const s = parseSequenceSet(w);
          if (!s.ok) throw new Bad(s.reason);
          return { kind: 'seq', set: s.set };
        }
        throw new Bad(`unknown search key ${JSON.stringify(w.slice(0, 20))}`);
      }
    }
  };
  try {
    const keys: SearchKey[] = [];
    for (let guard = 0; i < tokens.length && guard < 10_000; guard++) keys.push(key(0));
    if (keys.length === 0) return { ok: false, reason: 'SEARCH needs at least one key, e.g. SEARCH UNSEEN' };
    return { ok: true, key: keys.length === 1 && keys[0] ? keys[0] : { kind: 'and', keys }, charset };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, reason: e.message };
    throw e;
  }
}

/** Does the key need the raw message? */
export function needsText(k: SearchKey): boolean {
  switch (k.kind) {
    case 'header': case 'text': case 'body': return true;
    case 'not': return needsText(k.key);
    case 'or': return needsText(k.a) || needsText(k.b);
    case 'and': return k.keys.some(needsText);
    default: return false;
  }
}

export function matches(k: SearchKey, m: SearchTarget, maxSeq: number, maxUid: number): boolean {
  switch (k.kind) {
    case 'all': return true;
    case 'flag': return m.flags.has(k.flag) === k.set;
    case 'field': return (k.field === 'bcc' ? '' : m[k.field]).toLowerCase().includes(k.value);
    case 'header': {
      if (m.raw === null) return false;
      const re = new RegExp(`^${k.name.replace(/[^a-z0-9-]/g, '')}:([^\\n]*(?:\\n[ \\t][^\\n]*)*)`, 'im');
      const header = m.raw.slice(0, Math.max(0, m.raw.search(/\r?\n\r?\n/)) || m.raw.length);
      const hit = re.exec(header);
      return hit !== null && Buffer.from(hit[1] ?? '', 'latin1').toString('utf8').toLowerCase().includes(k.value);
    }
    case 'text': case 'body': {
      if (m.raw === null) return false;
      const text = Buffer.from(m.raw, 'latin1').toString('utf8').toLowerCase();
      return text.includes(k.value);
    }
    case 'date': {
      const d = new Date(m.internalDate);
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      return k.op === 'since' ? day >= k.day : k.op === 'before' ? day < k.day : day === k.day;
    }
    case 'size': return k.op === 'larger' ? m.size > k.n : m.size < k.n;
    case 'seq': return inSet(k.set, m.seq, maxSeq);
    case 'uid': return inSet(k.set, m.uid, maxUid);
    case 'not': return !matches(k.key, m, maxSeq, maxUid);
    case 'or': return matches(k.a, m, maxSeq, maxUid) || matches(k.b, m, maxSeq, maxUid);
    case 'and': return k.keys.every((x) => matches(x, m, maxSeq, maxUid));
  }
}
