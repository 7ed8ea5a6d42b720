import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFaultDocument } from '../../src/faults/document.js';

const ISSUE_EXAMPLE = {
  seed: 42,
  rules: [
    { on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' },
    { on: 'mail', every: 3, reply: '451 4.3.0 Try again later' },
    { on: 'data-end', delay: '2s' },
    { on: 'connect', rate: { max: 10, per: '1m', key: 'client' }, reply: '421 4.7.0 Too many connections, slow down' },
    { on: 'rcpt', greylist: { attempts: 1, for: '5m' } },
    { on: 'helo', helo: 'drop.test', disconnect: true },
    { on: 'data-end', probability: 0.1, reply: '452 4.3.1 Insufficient system storage' },
  ],
};

const errorOf = (doc: unknown, dialect: 'smtp' | 'simplified' = 'smtp'): string => {
  const r = parseFaultDocument(doc, dialect);
  assert.equal(r.ok, false, 'the document should be refused');
  return r.ok ? '' : r.error;
};
const rules = (...r: unknown[]) => ({ rules: r });

describe('fault document checks', () => {
  it('takes the issue\'s example whole, with durations in milliseconds and replies as values', () => {
    const r = parseFaultDocument(ISSUE_EXAMPLE, 'smtp');
    assert.ok(r.ok);
    const d = r.document;
    assert.equal(d.seed, 42);
    assert.equal(d.rules.length, 7);
    assert.deepEqual(d.rules[0]?.reply, { code: 550, lines: ['5.1.1 No such user here'] });
    assert.deepEqual(d.rules[1]?.when, { kind: 'every', n: 3 });
    assert.equal(d.rules[2]?.delayMs, 2000);
    assert.deepEqual(d.rules[3]?.when, { kind: 'rate', max: 10, perMs: 60_000, key: 'client' });
    assert.deepEqual(d.rules[4]?.when, { kind: 'greylist', attempts: 1, forMs: 300_000 });
    assert.equal(d.rules[5]?.disconnect, true);
    assert.deepEqual(d.rules[6]?.when, { kind: 'probability', p: 0.1 });
  });

  it('defaults the seed to 0 and reads each duration form', () => {
    const r = parseFaultDocument(rules({ on: 'mail', delay: '1500ms' }, { on: 'mail', delay: '5m' }, { on: 'mail', delay: '1h' }), 'smtp');
    assert.ok(r.ok);
    assert.equal(r.document.seed, 0);
    assert.deepEqual(r.document.rules.map((x) => x.delayMs), [1500, 300_000, 3_600_000]);
  });

  const bad: [string, unknown, string][] = [
    ['not an object', [], 'document: must be a JSON object such as {"seed": 42, "rules": [...]}'],
    ['an unknown top field', { rules: [], sed: 1 }, 'sed: unknown field (a document has "seed" and "rules")'],
    ['no rules list', { seed: 1 }, 'rules: must be a list of rules'],
    ['a fractional seed', { seed: 1.5, rules: [] }, 'seed: must be a whole number'],
    ['an unknown stage', rules({ on: 'quit', delay: '1s' }), 'rules[0].on: must be one of "connect", "helo", "mail", "rcpt", "data", "data-end", "auth", "starttls"'],
    ['an unknown rule field', rules({ on: 'mail', delay: '1s', frm: 'a' }), 'rules[0].frm: unknown field'],
    ['every 0', rules({ on: 'mail', delay: '1s' }, { on: 'mail', delay: '1s' }, { on: 'mail', every: 0, reply: '451 4.3.0 x' }), 'rules[2].every: must be a whole number ≥ 1'],
    ['every 1.5', rules({ on: 'mail', every: 1.5, reply: '451 4.3.0 x' }), 'rules[0].every: must be a whole number ≥ 1'],
    ['first as a string', rules({ on: 'mail', first: '2', reply: '451 4.3.0 x' }), 'rules[0].first: must be a whole number ≥ 1'],
    ['after -1', rules({ on: 'mail', after: -1, reply: '451 4.3.0 x' }), 'rules[0].after: must be a whole number ≥ 0'],
    ['probability 2', rules({ on: 'mail', probability: 2, reply: '451 4.3.0 x' }), 'rules[0].probability: must be a number from 0 to 1'],
    ['two whens', rules({ on: 'mail', every: 2, first: 1, reply: '451 4.3.0 x' }), 'rules[0].first: a rule has one "when": every and first exclude each other'],
    ['a rate without per', rules({ on: 'connect', rate: { max: 1 }, reply: '421 4.7.0 x' }), 'rules[0].rate.per: must be a duration such as "1500ms", "2s", "5m" or "1h"'],
    ['a rate keyed by an unknown field', rules({ on: 'connect', rate: { max: 1, per: '1m', key: 'to' }, reply: '421 4.7.0 x' }), 'rules[0].rate.key: the recipient is not known at "connect"'],
    ['a rate key that is no key', rules({ on: 'connect', rate: { max: 1, per: '1m', key: 'ip' }, reply: '421 4.7.0 x' }), 'rules[0].rate.key: must be "client", "from", "to" or "all"'],
    ['a greylist at helo', rules({ on: 'helo', greylist: { attempts: 1, for: '5m' } }), 'rules[0].greylist: needs the sender (the triplet is client, sender, recipient): use "on": "rcpt" (or mail, data, data-end), not "helo"'],
    ['a greylist without for', rules({ on: 'rcpt', greylist: { attempts: 1 } }), 'rules[0].greylist.for: must be a duration such as "1500ms", "2s", "5m" or "1h"'],
    ['a sender at connect', rules({ on: 'connect', from: '*@x', delay: '1s' }), 'rules[0].from: the sender is not known at "connect"'],
    ['a recipient at mail', rules({ on: 'mail', to: '*@x', delay: '1s' }), 'rules[0].to: the recipient is not known at "mail"'],
    ['a bad client', rules({ on: 'connect', client: '10.0.0.0/33', delay: '1s' }), 'rules[0].client: "10.0.0.0/33": the prefix length must be 0 to 32'],
    ['a client that is no address', rules({ on: 'connect', client: 'localhost', delay: '1s' }), 'rules[0].client: "localhost" is not an IPv4 or IPv6 address or CIDR range'],
    ['a 2xx reply', rules({ on: 'mail', reply: '250 2.0.0 OK' }), 'rules[0].reply: must be a 4xx or 5xx code, a space and a text, such as "451 4.3.0 Try again later"'],
    ['a reply with a line break', rules({ on: 'mail', reply: '451 4.3.0 a\r\n250 ok' }), 'rules[0].reply: must be one line without control characters'],
    ['a bad delay', rules({ on: 'mail', delay: 'soon' }), 'rules[0].delay: must be a duration such as "1500ms", "2s", "5m" or "1h"'],
    ['a delay as a number', rules({ on: 'mail', delay: 2000 }), 'rules[0].delay: must be a duration such as "1500ms", "2s", "5m" or "1h"'],
    ['reply and disconnect', rules({ on: 'mail', reply: '451 4.3.0 x', disconnect: true }), 'rules[0].disconnect: reply and disconnect exclude each other (delay may go with either)'],
    ['nothing to do', rules({ on: 'mail', every: 2 }), 'rules[0]: says nothing to do: give "reply", "delay" or "disconnect": true'],
  ];
  for (const [what, doc, want] of bad) it(`refuses ${what}: ${want}`, () => assert.equal(errorOf(doc), want));

  it('refuses a reply rule for the simplified dialect, saying why, and takes delay and disconnect there', () => {
    assert.equal(errorOf(rules({ on: 'mail', delay: '1s' }, { on: 'rcpt', reply: '550 5.1.1 No such user' }), 'simplified'),
      'rules[1].reply: the simplified dialect\'s replies are fixed by its text, so it takes only "delay" and "disconnect" rules (use --dialect smtp for replies)');
    assert.match(errorOf(rules({ on: 'rcpt', greylist: { attempts: 1, for: '5m' } }), 'simplified'), /^rules\[0\]\.greylist: greylisting answers 451/);
    const ok = parseFaultDocument(rules({ on: 'mail', delay: '1s' }, { on: 'helo', helo: 'drop.test', disconnect: true }), 'simplified');
    assert.equal(ok.ok, true);
  });
});
