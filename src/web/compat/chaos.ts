/**
 * Mailpit's Chaos triggers and MailHog's Jim, both as mailwire fault documents (src/faults), and read back from the
 * document in force: the fault rules are the one truth, so GET shows what the SMTP server actually does, whichever
 * API set it. Pure: no I/O. What has no clean equivalent is refused with a ChaosError saying why, never pretended.
 */
import type { FaultView } from '../../faults/controller.js';

export class ChaosError extends Error {}

// ---- Mailpit Chaos ---------------------------------------------------------------------------------------------

export type ChaosTrigger = Readonly<{ ErrorCode: number; Probability: number }>;
export type ChaosTriggers = Readonly<{ Sender: ChaosTrigger; Recipient: ChaosTrigger; Authentication: ChaosTrigger }>;

/** Mailpit's trigger names, the SMTP stage each fires at, its default code and the text its server sends. */
const TRIGGERS = [
  { name: 'Sender', on: 'mail', code: 451, text: 'Chaos sender error' },
  { name: 'Recipient', on: 'rcpt', code: 451, text: 'Chaos recipient error' },
  { name: 'Authentication', on: 'auth', code: 535, text: 'Chaos authentication error' },
] as const;

export const CHAOS_DEFAULTS: ChaosTriggers = {
  Sender: { ErrorCode: 451, Probability: 0 }, Recipient: { ErrorCode: 451, Probability: 0 }, Authentication: { ErrorCode: 535, Probability: 0 },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Mailpit's chaos.SetFromStruct: an omitted trigger resets to its default code at 0 %; codes 400-599, 0-100 %. */
export function chaosFromBody(body: unknown): ChaosTriggers {
  if (!isObject(body)) throw new ChaosError('the body must be a JSON object such as {"Sender": {"ErrorCode": 451, "Probability": 5}}');
  const out: Record<string, ChaosTrigger> = {};
  for (const t of TRIGGERS) {
    const v = body[t.name] ?? {};
    if (!isObject(v)) throw new ChaosError(`${t.name} must be an object such as {"ErrorCode": ${t.code}, "Probability": 5}`);
    const code = v['ErrorCode'] === undefined || v['ErrorCode'] === 0 ? t.code : v['ErrorCode'];
    const p = v['Probability'] ?? 0;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) throw new ChaosError('error code must be between 400 and 599');
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 100) throw new ChaosError('probability must be between 0 and 100');
    out[t.name] = { ErrorCode: code, Probability: p };
  }
  return out as ChaosTriggers;
}

/** The fault document for the triggers; null (clear the rules) when nothing would ever fire with a default code. */
export function chaosDocument(c: ChaosTriggers): { seed: number; rules: Record<string, unknown>[] } | null {
  const idle = TRIGGERS.every((t) => c[t.name].Probability === 0 && c[t.name].ErrorCode === t.code);
  if (idle) return null;
  return {
    seed: 0,
    rules: TRIGGERS.map((t) => ({ on: t.on, probability: c[t.name].Probability / 100, reply: `${c[t.name].ErrorCode} ${t.text}` })),
  };
}

/** The triggers the rules in force amount to; a ChaosError when they are rules Mailpit's Chaos cannot express. */
export function chaosFromView(view: FaultView): ChaosTriggers {
  if (view.rules.length === 0) return CHAOS_DEFAULTS;
  const out: Record<string, ChaosTrigger> = { ...CHAOS_DEFAULTS };
  const seen = new Set<string>();
  for (const rule of view.rules) {
    const { matched: _m, fired: _f, ...source } = rule;
    const t = TRIGGERS.find((x) => x.on === source['on']);
    const keys = Object.keys(source).sort().join(',');
    const m = typeof source['reply'] === 'string' ? /^(\d{3}) /.exec(source['reply']) : null;
    const p = source['probability'];
    if (t === undefined || seen.has(t.on) || keys !== 'on,probability,reply' || m === null || typeof p !== 'number') {
      throw new ChaosError(`the ${view.rules.length} fault rules in force are not Mailpit Chaos triggers (only a probability and a reply ` +
        'on mail, rcpt or auth are): read them at /api/v1/faults, or PUT /api/v1/chaos to replace them');
    }
    seen.add(t.on);
    out[t.name] = { ErrorCode: Number(m[1]), Probability: Math.round(p * 100) };
  }
  return out as ChaosTriggers;
}

// ---- MailHog Jim -----------------------------------------------------------------------------------------------

export type Jim = Readonly<{
  DisconnectChance: number;
  AcceptChance: number;
  LinkSpeedAffect: number;
  LinkSpeedMin: number;
  LinkSpeedMax: number;
  RejectSenderChance: number;
  RejectRecipientChance: number;
  RejectAuthChance: number;
}>;

/**
 * MailHog's flag defaults (monkey/jim.go), except LinkSpeedAffect: mailwire's faults delay replies but do not throttle
 * a link, so the default Jim here leaves the link alone (and says so: GET shows LinkSpeedAffect 0).
 */
export const JIM_DEFAULTS: Jim = {
  DisconnectChance: 0.005, AcceptChance: 0.99, LinkSpeedAffect: 0, LinkSpeedMin: 1024, LinkSpeedMax: 10240,
  RejectSenderChance: 0.05, RejectRecipientChance: 0.05, RejectAuthChance: 0.05,
};

const JIM_KEYS = Object.keys(JIM_DEFAULTS) as (keyof Jim)[];
/** Where MailHog may drop the connection after a command (it checks after each line read): the command stages. */
const DISCONNECT_STAGES = ['helo', 'mail', 'rcpt', 'data'] as const;

/** A Jim from a request body: absent fields take MailHog's defaults (as its flags do); chances are 0 to 1. */
export function jimFromBody(body: unknown): Jim {
  if (body === undefined) return JIM_DEFAULTS;
  if (!isObject(body)) throw new ChaosError('the body must be a JSON object of Jim\'s fields, such as {"RejectSenderChance": 0.5}');
  const out: Record<string, number> = { ...JIM_DEFAULTS };
  for (const [k, v] of Object.entries(body)) {
    if (!(JIM_KEYS as string[]).includes(k)) throw new ChaosError(`unknown Jim field ${JSON.stringify(k)} (Jim has ${JIM_KEYS.join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ChaosError(`${k} must be a number`);
    out[k] = v;
  }
  for (const k of JIM_KEYS) {
    if (k.endsWith('Chance') && !((out[k] as number) >= 0 && (out[k] as number) <= 1)) throw new ChaosError(`${k} must be from 0 to 1`);
  }
  if (out['LinkSpeedAffect'] !== 0) {
    throw new ChaosError('LinkSpeedAffect must be 0: mailwire\'s fault rules delay replies but cannot throttle a link; use a "delay" rule at /api/v1/faults');
  }
  return out as Jim;
}

export function jimDocument(j: Jim): { seed: number; rules: Record<string, unknown>[] } {
  return {
    seed: 0,
    rules: [
      { on: 'connect', probability: round(1 - j.AcceptChance), disconnect: true },
      { on: 'mail', probability: j.RejectSenderChance, reply: '550 Invalid sender (Jim)' },
      { on: 'rcpt', probability: j.RejectRecipientChance, reply: '550 Invalid recipient (Jim)' },
      { on: 'auth', probability: j.RejectAuthChance, reply: '500 Unrecognised command (Jim)' },
      ...DISCONNECT_STAGES.map((on) => ({ on, probability: j.DisconnectChance, disconnect: true })),
    ],
  };
}

const round = (x: number): number => Math.round(x * 1e9) / 1e9;

/** Jim as the rules in force show it; null when they are not Jim's (no rules: Jim is off). */
export function jimFromView(view: FaultView): Jim | null {
  const want = jimDocument(JIM_DEFAULTS).rules;
  if (view.rules.length !== want.length) return null;
  const got = view.rules.map(({ matched: _m, fired: _f, ...source }) => source);
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as Record<string, unknown>;
    const g = got[i] as Record<string, unknown>;
    const sameShape = Object.keys(g).sort().join(',') === Object.keys(w).sort().join(',') && g['on'] === w['on'] &&
      (w['reply'] === undefined || g['reply'] === w['reply']) && (w['disconnect'] === undefined || g['disconnect'] === true) &&
      typeof g['probability'] === 'number';
    if (!sameShape) return null;
  }
  const p = (i: number): number => (got[i] as { probability: number }).probability;
  const d = p(4);
  if (![5, 6, 7].every((i) => p(i) === d)) return null;
  return { ...JIM_DEFAULTS, AcceptChance: round(1 - p(0)), RejectSenderChance: p(1), RejectRecipientChance: p(2), RejectAuthChance: p(3), DisconnectChance: d };
}
