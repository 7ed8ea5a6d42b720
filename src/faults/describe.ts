/**
 * A fault rule in words, from the rule as given (the `source` GET /api/v1/faults shows back): "at RCPT TO, to
 * *@bounce.test, every 3rd time: reply 550 5.1.1 No such user". For the start-up banner and the UI's faults table.
 * Pure (no I/O, no Node modules), so the UI bundle can use it as it is.
 */

const STAGE_WORD: Readonly<Record<string, string>> = {
  connect: 'on connect', helo: 'at HELO/EHLO', auth: 'at AUTH', starttls: 'at STARTTLS', mail: 'at MAIL FROM',
  rcpt: 'at RCPT TO', data: 'at DATA', 'data-end': 'at the end of DATA',
};

const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

function whenWords(rule: Readonly<Record<string, unknown>>): string | null {
  const n = (k: string): number => Number(rule[k]);
  if (rule['every'] !== undefined) return n('every') === 1 ? 'every time' : `every ${ordinal(n('every'))} time`;
  if (rule['first'] !== undefined) return n('first') === 1 ? 'the first time' : `the first ${n('first')} times`;
  if (rule['after'] !== undefined) return `after the first ${n('after')} times`;
  if (rule['probability'] !== undefined) return `${Math.round(n('probability') * 1000) / 10}% of the time`;
  const rate = rule['rate'];
  if (typeof rate === 'object' && rate !== null) {
    const r = rate as Record<string, unknown>;
    const key = r['key'] ?? 'client';
    return `beyond ${text(r['max'])} per ${text(r['per'])}${key === 'all' ? '' : ` per ${text(key)}`}`;
  }
  const grey = rule['greylist'];
  if (typeof grey === 'object' && grey !== null) {
    const g = grey as Record<string, unknown>;
    const attempts = Number(g['attempts'] ?? 1);
    return `greylisting: the first ${attempts === 1 ? 'attempt' : `${attempts} attempts`} of each client, sender and recipient within ${text(g['for'])}`;
  }
  return null;
}

export function describeFaultRule(rule: Readonly<Record<string, unknown>>): string {
  const where = [STAGE_WORD[text(rule['on'])] ?? `at ${text(rule['on'])}`];
  for (const [field, word] of [['client', 'from client'], ['helo', 'HELO'], ['user', 'user'], ['from', 'from'], ['to', 'to']] as const) {
    if (rule[field] !== undefined) where.push(`${word} ${text(rule[field])}`);
  }
  const when = whenWords(rule);
  if (when !== null) where.push(when);
  const does: string[] = [];
  if (rule['delay'] !== undefined) does.push(`wait ${text(rule['delay'])}`);
  if (rule['reply'] !== undefined) does.push(`reply ${text(rule['reply'])}`);
  else if (rule['greylist'] !== undefined && rule['disconnect'] !== true) does.push('reply 451 4.7.1 Greylisted, please try again later');
  if (rule['disconnect'] === true) does.push('disconnect');
  return `${where.join(', ')}: ${does.join(', then ')}`;
}
