import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFaultDocument } from '../../src/faults/document.js';
import { FaultEngine, type FaultEvent } from '../../src/faults/engine.js';

function engine(doc: unknown): FaultEngine {
  const r = parseFaultDocument(doc, 'smtp');
  if (!r.ok) throw new Error(r.error);
  return new FaultEngine(r.document);
}
const ev = (on: FaultEvent['on'], more: Partial<FaultEvent> = {}): FaultEvent => ({ on, client: '127.0.0.1', ...more });
/** For each event in turn: the rules that fired ('-' for none), joined. */
const firing = (e: FaultEngine, events: FaultEvent[], times: number[] = events.map(() => 0)): string =>
  events.map((x, i) => e.decide(x, times[i] ?? 0).fired.join('+') || '-').join(' ');
const repeat = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);

describe('fault engine', () => {
  it('every: N fires on the Nth, 2Nth … matching event, counting only matches', () => {
    const e = engine({ rules: [{ on: 'mail', from: '*@x.test', every: 3, reply: '451 4.3.0 Try again later' }] });
    const events = [ev('mail', { from: 'a@x.test' }), ev('mail', { from: 'a@y.test' }), ev('mail', { from: 'b@X.TEST' }), ev('rcpt', { from: 'a@x.test', to: ['b@y'] }),
      ev('mail', { from: 'c@x.test' }), ev('mail', { from: 'd@x.test' }), ev('mail', { from: 'e@x.test' }), ev('mail', { from: 'f@x.test' }), ev('mail', { from: 'g@x.test' })];
    assert.equal(firing(e, events), '- - - - 1 - - 1 -');
    // matched: a, b, c, d, e, f, g (7); fired at the 3rd (c) and 6th (f)
    assert.deepEqual(e.counts(), [{ matched: 7, fired: 2 }]);
  });

  it('every/first/after give the exact sequences', () => {
    assert.equal(firing(engine({ rules: [{ on: 'mail', every: 2, reply: '451 4.3.0 x' }] }), repeat(6, ev('mail'))), '- 1 - 1 - 1');
    assert.equal(firing(engine({ rules: [{ on: 'mail', first: 2, reply: '451 4.3.0 x' }] }), repeat(5, ev('mail'))), '1 1 - - -');
    assert.equal(firing(engine({ rules: [{ on: 'mail', after: 3, reply: '451 4.3.0 x' }] }), repeat(5, ev('mail'))), '- - - 1 1');
    assert.equal(firing(engine({ rules: [{ on: 'mail', after: 0, reply: '451 4.3.0 x' }] }), repeat(2, ev('mail'))), '1 1');
  });

  it('returns the reply, the delay and the disconnect of the rules that fire', () => {
    const e = engine({ rules: [
      { on: 'data-end', delay: '2s' },
      { on: 'data-end', to: '*@slow.test', delay: '500ms' },
      { on: 'data-end', to: '*@full.test', reply: '452 4.3.1 Insufficient system storage' },
      { on: 'helo', helo: 'drop.test', disconnect: true, delay: '1s' },
    ] });
    assert.deepEqual(e.decide(ev('data-end', { to: ['a@slow.test', 'b@full.test'] }), 0),
      { fired: [1, 2, 3], delayMs: 2500, outcome: { type: 'reply', reply: { code: 452, lines: ['4.3.1 Insufficient system storage'] } } });
    assert.deepEqual(e.decide(ev('data-end', { to: ['a@b.test'] }), 0), { fired: [1], delayMs: 2000, outcome: { type: 'pass' } });
    assert.deepEqual(e.decide(ev('helo', { helo: 'DROP.test' }), 0), { fired: [4], delayMs: 1000, outcome: { type: 'disconnect' } });
    assert.deepEqual(e.decide(ev('helo', { helo: 'other.test' }), 0), { fired: [], delayMs: 0, outcome: { type: 'pass' } });
  });

  it('a rule that replies ends the search: later rules neither match nor fire on that event', () => {
    const e = engine({ rules: [
      { on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' },
      { on: 'rcpt', first: 1, reply: '451 4.3.0 later' },
    ] });
    assert.equal(firing(e, [ev('rcpt', { to: ['x@bounce.test'] }), ev('rcpt', { to: ['y@ok.test'] }), ev('rcpt', { to: ['z@ok.test'] })]), '1 2 -');
    assert.deepEqual(e.counts(), [{ matched: 1, fired: 1 }, { matched: 2, fired: 1 }]);
  });

  it('matches client by address and CIDR, user exactly, globs with ? and *', () => {
    const e = engine({ rules: [
      { on: 'mail', client: '10.1.0.0/16', reply: '550 5.7.1 net' },
      { on: 'mail', client: '::1', reply: '550 5.7.1 v6' },
      { on: 'mail', user: 'alice', reply: '550 5.7.1 alice' },
      { on: 'mail', from: 'b?b@*.test', reply: '550 5.7.1 glob' },
    ] });
    const first = (x: FaultEvent): string => e.decide(x, 0).fired.join('+') || '-';
    assert.equal(first(ev('mail', { client: '10.1.200.3' })), '1');
    assert.equal(first(ev('mail', { client: '10.2.0.1' })), '-');
    assert.equal(first(ev('mail', { client: '::1' })), '2');
    assert.equal(first(ev('mail', { user: 'alice' })), '3');
    assert.equal(first(ev('mail', { user: 'Alice' })), '-');
    assert.equal(first(ev('mail', { from: 'BOB@mail.test' })), '4');
    assert.equal(first(ev('mail', { from: 'boob@mail.test' })), '-');
    assert.equal(first(ev('mail', { from: 'bob@test' })), '-');
    assert.equal(first(ev('mail', { from: 'a.b+c@x' })), '-');
  });

  it('rate: more than max in the sliding window, per key, and the window slides', () => {
    const e = engine({ rules: [{ on: 'connect', rate: { max: 2, per: '1s', key: 'client' }, reply: '421 4.7.0 slow down' }] });
    const a = ev('connect', { client: '127.0.0.1' });
    const b = ev('connect', { client: '127.0.0.2' });
    // At 1150 the events at 0 and 100 have left the window: 200 and 1150 are two, not more than max.
    assert.equal(firing(e, [a, a, a, b, a, a, a], [0, 100, 200, 300, 1150, 1160, 1201]), '- - 1 - - 1 1');
  });

  it('rate keyed by all counts every client together; by from, per sender', () => {
    const all = engine({ rules: [{ on: 'mail', rate: { max: 1, per: '1m', key: 'all' }, reply: '451 4.7.0 busy' }] });
    assert.equal(firing(all, [ev('mail', { client: '127.0.0.1', from: 'a@x' }), ev('mail', { client: '127.0.0.2', from: 'b@x' })]), '- 1');
    const from = engine({ rules: [{ on: 'mail', rate: { max: 1, per: '1m', key: 'from' }, reply: '451 4.7.0 busy' }] });
    assert.equal(firing(from, [ev('mail', { from: 'a@x' }), ev('mail', { from: 'b@x' }), ev('mail', { from: 'a@x' })]), '- - 1');
  });

  it('greylist: the first attempts tries of a triplet get 451 4.7.1, then it passes; after for it starts over', () => {
    const e = engine({ rules: [{ on: 'rcpt', greylist: { attempts: 2, for: '5m' } }] });
    const t1 = ev('rcpt', { from: 'a@x.test', to: ['b@y.test'] });
    const t2 = ev('rcpt', { from: 'a@x.test', to: ['c@y.test'] });
    const out = e.decide(t1, 0);
    assert.deepEqual(out, { fired: [1], delayMs: 0, outcome: { type: 'reply', reply: { code: 451, lines: ['4.7.1 Greylisted, please try again later'] } } });
    assert.equal(firing(e, [t1, t2, t1, t1, t2, t2, t1], [1000, 2000, 3000, 4000, 5000, 6000, 300_000]), '1 1 - - 1 - 1');
  });

  it('greylist with its own reply', () => {
    const e = engine({ rules: [{ on: 'rcpt', greylist: { attempts: 1, for: '1m' }, reply: '450 4.2.0 Come back later' }] });
    assert.deepEqual(e.decide(ev('rcpt', { from: 'a@x', to: ['b@y'] }), 0).outcome, { type: 'reply', reply: { code: 450, lines: ['4.2.0 Come back later'] } });
  });

  it('probability: the same seed and the same events give the same sequence; another seed another one', () => {
    const doc = (seed: number) => ({ seed, rules: [{ on: 'mail', probability: 0.3, reply: '451 4.3.0 x' }, { on: 'rcpt', probability: 0.5, reply: '451 4.3.0 y' }] });
    const events = Array.from({ length: 200 }, (_, i) => ev(i % 3 === 0 ? 'rcpt' : 'mail', { to: ['a@b'] }));
    const a = firing(engine(doc(42)), events);
    assert.equal(firing(engine(doc(42)), events), a);
    assert.notEqual(firing(engine(doc(43)), events), a);
    const fired = a.split(' ').filter((x) => x !== '-').length;
    assert.ok(fired > 40 && fired < 120, `about a third to a half should fire, got ${fired} of 200`);
  });

  it('probability 0 never fires and 1 always does', () => {
    assert.equal(firing(engine({ rules: [{ on: 'mail', probability: 0, reply: '451 4.3.0 x' }] }), repeat(20, ev('mail'))), repeat(20, '-').join(' '));
    assert.equal(firing(engine({ rules: [{ on: 'mail', probability: 1, reply: '451 4.3.0 x' }] }), repeat(5, ev('mail'))), '1 1 1 1 1');
  });
});
