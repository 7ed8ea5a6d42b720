/**
 * The fault document: what a test suite asks the server to get wrong, given as JSON (`--faults FILE`, or
 * `PUT /api/v1/faults`). This file turns that JSON into checked, typed rules, or into one error naming the field and
 * why (`rules[2].every: must be a whole number ≥ 1`). Nothing here reads a clock or does I/O.
 *
 * A rule is three parts: where it applies (`on` plus the match fields), when it fires (at most one of every, first,
 * after, probability, rate, greylist; default always), and what it does (reply, delay, disconnect).
 */
import { assertNever } from '../assert-never.js';
import { parseDurationText } from '../duration.js';
import { parseAddressList, type AddressList } from '../net/ip-address.js';
import type { Reply } from '../smtp/core/reply.js';

export const FAULT_STAGES = ['connect', 'helo', 'mail', 'rcpt', 'data', 'data-end', 'auth', 'starttls'] as const;
export type FaultStage = (typeof FAULT_STAGES)[number];

export const RATE_KEYS = ['client', 'from', 'to', 'all'] as const;
export type RateKey = (typeof RATE_KEYS)[number];

export type FaultWhen =
  | Readonly<{ kind: 'always' }>
  | Readonly<{ kind: 'every'; n: number }>
  | Readonly<{ kind: 'first'; n: number }>
  | Readonly<{ kind: 'after'; n: number }>
  | Readonly<{ kind: 'probability'; p: number }>
  | Readonly<{ kind: 'rate'; max: number; perMs: number; key: RateKey }>
  | Readonly<{ kind: 'greylist'; attempts: number; forMs: number }>;

/** A glob (`*`, `?`), compiled; matched case-insensitively against the whole text. */
export type Glob = Readonly<{ text: string; re: RegExp }>;

export type FaultMatch = Readonly<{
  from?: Glob;
  to?: Glob;
  helo?: Glob;
  /** Addresses and CIDR blocks. */
  client?: AddressList;
  /** The authenticated user, exactly (case-sensitive, as AUTH compares it). */
  user?: string;
}>;

export type FaultRule = Readonly<{
  on: FaultStage;
  match: FaultMatch;
  when: FaultWhen;
  reply?: Reply;
  delayMs?: number;
  disconnect: boolean;
  /** The rule as it was given, shown back by GET. */
  source: Readonly<Record<string, unknown>>;
}>;

export type FaultDocument = Readonly<{ seed: number; rules: readonly FaultRule[] }>;

export type DialectName = 'simplified' | 'smtp';

export type ParseResult = Readonly<{ ok: true; document: FaultDocument }> | Readonly<{ ok: false; error: string }>;

/** The greylist answer when a greylist rule gives no `reply` (RFC 3463 4.7.1: delivery not authorized, temporary). */
export const GREYLIST_REPLY: Reply = { code: 451, lines: ['4.7.1 Greylisted, please try again later'] };

/** Which envelope fields are known when an event happens (the match fields and rate keys may only name those). */
const KNOWS: Readonly<Record<FaultStage, ReadonlySet<string>>> = {
  connect: new Set(['client']),
  helo: new Set(['client', 'helo']),
  auth: new Set(['client', 'helo']),
  starttls: new Set(['client', 'helo', 'user']),
  mail: new Set(['client', 'helo', 'user', 'from']),
  rcpt: new Set(['client', 'helo', 'user', 'from', 'to']),
  data: new Set(['client', 'helo', 'user', 'from', 'to']),
  'data-end': new Set(['client', 'helo', 'user', 'from', 'to']),
};
const FIELD_WORD: Readonly<Record<string, string>> = {
  client: 'the client address', helo: 'the HELO name', user: 'the AUTH user', from: 'the sender', to: 'the recipient',
};

const WHEN_KEYS = ['every', 'first', 'after', 'probability', 'rate', 'greylist'] as const;
const RULE_KEYS = new Set(['on', 'from', 'to', 'helo', 'client', 'user', ...WHEN_KEYS, 'reply', 'delay', 'disconnect']);
/** Bounds that keep one rule's memory and a session's wait finite. */
const MAX_RULES = 1000;
const MAX_COUNT = 1_000_000_000;
const MAX_RATE = 100_000;
const MAX_DELAY_MS = 24 * 3_600_000;

class DocumentError extends Error {}
const fail = (path: string, why: string): never => {
  throw new DocumentError(`${path}: ${why}`);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a document for the given dialect. The simplified dialect's replies are the user's text, word for word, so
 * there a rule may only delay or disconnect.
 */
export function parseFaultDocument(input: unknown, dialect: DialectName): ParseResult {
  try {
    return { ok: true, document: documentOf(input, dialect) };
  } catch (e) {
    if (e instanceof DocumentError) return { ok: false, error: e.message };
    throw e;
  }
}

function documentOf(input: unknown, dialect: DialectName): FaultDocument {
  if (!isObject(input)) return fail('document', 'must be a JSON object such as {"seed": 42, "rules": [...]}');
  for (const key of Object.keys(input)) if (key !== 'seed' && key !== 'rules') fail(key, 'unknown field (a document has "seed" and "rules")');
  const seed = input['seed'] ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) fail('seed', 'must be a whole number');
  const rules = input['rules'];
  if (!Array.isArray(rules)) return fail('rules', 'must be a list of rules');
  if (rules.length > MAX_RULES) fail('rules', `at most ${MAX_RULES} rules`);
  return { seed: seed as number, rules: rules.map((r: unknown, i) => ruleOf(r, `rules[${i}]`, dialect)) };
}

function ruleOf(input: unknown, path: string, dialect: DialectName): FaultRule {
  if (!isObject(input)) return fail(path, 'must be an object such as {"on": "rcpt", "reply": "550 5.1.1 No such user"}');
  for (const key of Object.keys(input)) if (!RULE_KEYS.has(key)) fail(`${path}.${key}`, 'unknown field');
  const on = input['on'];
  if (typeof on !== 'string' || !(FAULT_STAGES as readonly string[]).includes(on)) {
    fail(`${path}.on`, `must be one of ${FAULT_STAGES.map((s) => `"${s}"`).join(', ')}`);
  }
  const stage = on as FaultStage;
  const knows = (field: string, at: string): void => {
    if (!KNOWS[stage].has(field)) fail(at, `${FIELD_WORD[field] ?? field} is not known at "${stage}"`);
  };

  const match: { -readonly [K in keyof FaultMatch]: FaultMatch[K] } = {};
  for (const field of ['from', 'to', 'helo'] as const) {
    const v = input[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') fail(`${path}.${field}`, 'must be a glob such as "*@bounce.test"');
    knows(field, `${path}.${field}`);
    match[field] = globOf(v as string);
  }
  if (input['client'] !== undefined) match.client = clientOf(input['client'], `${path}.client`);
  if (input['user'] !== undefined) {
    if (typeof input['user'] !== 'string' || input['user'] === '') fail(`${path}.user`, 'must be a user name');
    knows('user', `${path}.user`);
    match.user = input['user'] as string;
  }

  const whens = WHEN_KEYS.filter((k) => input[k] !== undefined);
  if (whens.length > 1) fail(`${path}.${whens[1]}`, `a rule has one "when": ${whens.join(' and ')} exclude each other`);
  const when = whenOf(input, whens[0], path, stage, knows);

  const reply = input['reply'] === undefined ? undefined : replyOf(input['reply'], `${path}.reply`);
  const delayMs = input['delay'] === undefined ? undefined : delayOf(input['delay'], `${path}.delay`);
  const disconnect = input['disconnect'];
  if (disconnect !== undefined && typeof disconnect !== 'boolean') fail(`${path}.disconnect`, 'must be true or false');
  if (reply !== undefined && disconnect === true) fail(`${path}.disconnect`, 'reply and disconnect exclude each other (delay may go with either)');
  if (reply === undefined && delayMs === undefined && disconnect !== true && when.kind !== 'greylist') {
    fail(path, 'says nothing to do: give "reply", "delay" or "disconnect": true');
  }
  if (dialect === 'simplified' && reply !== undefined) {
    fail(`${path}.reply`, 'the simplified dialect\'s replies are fixed by its text, so it takes only "delay" and "disconnect" rules (use --dialect smtp for replies)');
  }
  if (dialect === 'simplified' && when.kind === 'greylist' && disconnect !== true) {
    fail(`${path}.greylist`, 'greylisting answers 451, and the simplified dialect\'s replies are fixed by its text (use --dialect smtp, or add "disconnect": true)');
  }
  return {
    on: stage, match, when, disconnect: disconnect === true, source: input,
    ...(reply === undefined ? {} : { reply }), ...(delayMs === undefined ? {} : { delayMs }),
  };
}

function whenOf(input: Record<string, unknown>, key: (typeof WHEN_KEYS)[number] | undefined, path: string, stage: FaultStage,
  knows: (field: string, at: string) => void): FaultWhen {
  const at = `${path}.${key ?? ''}`;
  switch (key) {
    case undefined:
      return { kind: 'always' };
    case 'every':
      return { kind: 'every', n: countOf(input[key], at, 1) };
    case 'first':
      return { kind: 'first', n: countOf(input[key], at, 1) };
    case 'after':
      return { kind: 'after', n: countOf(input[key], at, 0) };
    case 'probability': {
      const p = input[key];
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) return fail(at, 'must be a number from 0 to 1');
      return { kind: 'probability', p };
    }
    case 'rate': {
      const r = input[key];
      if (!isObject(r)) return fail(at, 'must be {"max": N, "per": "1m", "key": "client"}');
      for (const k of Object.keys(r)) if (!['max', 'per', 'key'].includes(k)) fail(`${at}.${k}`, 'unknown field');
      const max = countOf(r['max'], `${at}.max`, 0, MAX_RATE);
      const perMs = durationOf(r['per'], `${at}.per`, 1);
      const k = r['key'] ?? 'client';
      if (typeof k !== 'string' || !(RATE_KEYS as readonly string[]).includes(k)) fail(`${at}.key`, 'must be "client", "from", "to" or "all"');
      if (k !== 'all') knows(k as string, `${at}.key`);
      return { kind: 'rate', max, perMs, key: k as RateKey };
    }
    case 'greylist': {
      const g = input[key];
      if (!isObject(g)) return fail(at, 'must be {"attempts": N, "for": "5m"}');
      for (const k of Object.keys(g)) if (!['attempts', 'for'].includes(k)) fail(`${at}.${k}`, 'unknown field');
      if (!KNOWS[stage].has('from')) fail(at, `needs the sender (the triplet is client, sender, recipient): use "on": "rcpt" (or mail, data, data-end), not "${stage}"`);
      return { kind: 'greylist', attempts: countOf(g['attempts'] ?? 1, `${at}.attempts`, 1), forMs: durationOf(g['for'], `${at}.for`, 1) };
    }
    default:
      return assertNever(key);
  }
}

function countOf(v: unknown, at: string, min: number, max = MAX_COUNT): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return fail(at, `must be a whole number ≥ ${min}${max === MAX_COUNT ? '' : ` and ≤ ${max}`}`);
  }
  return v;
}

function durationOf(v: unknown, at: string, minMs: number): number {
  const ms = typeof v === 'string' ? parseDurationText(v) : null;
  if (ms === null) return fail(at, 'must be a duration such as "1500ms", "2s", "5m" or "1h"');
  if (ms < minMs) fail(at, `must be at least ${minMs} ms`);
  return ms;
}

function delayOf(v: unknown, at: string): number {
  const ms = durationOf(v, at, 0);
  if (ms > MAX_DELAY_MS) fail(at, 'must be at most 24h (and is cut to the session\'s idle timeout anyway)');
  return ms;
}

/** A complete 4xx/5xx reply line: "550 5.1.1 No such user here". Only failures: a fault never says yes. */
function replyOf(v: unknown, at: string): Reply {
  if (typeof v !== 'string') return fail(at, 'must be a reply line such as "451 4.3.0 Try again later"');
  // RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its CRLF; no line breaks inside (one line).
  if (/[\x00-\x1f\x7f]/.test(v)) fail(at, 'must be one line without control characters');
  const m = /^([45][0-9][0-9]) (\S.*)$/.exec(v);
  if (!m) return fail(at, 'must be a 4xx or 5xx code, a space and a text, such as "451 4.3.0 Try again later"');
  if (Buffer.byteLength(v, 'utf8') > 510) fail(at, 'must be at most 510 octets (RFC 5321 §4.5.3.1.5)');
  return { code: Number(m[1]), lines: [m[2] as string] };
}

/** `*` is any run of characters, `?` one character; everything else stands for itself. */
function globOf(text: string): Glob {
  const body = [...text].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'))).join('');
  return { text, re: new RegExp(`^${body}$`, 'is') };
}

function clientOf(v: unknown, at: string): AddressList {
  if (typeof v !== 'string') return fail(at, 'must be an address or a CIDR block such as "127.0.0.0/8"');
  try {
    return parseAddressList(v);
  } catch (e) {
    return fail(at, (e as Error).message);
  }
}
