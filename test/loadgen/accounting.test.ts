import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram } from '../../src/loadgen/histogram.js';
import { Budget } from '../../src/loadgen/load.js';
import { benchMessage } from '../../src/loadgen/message.js';
import { BenchTally } from '../../src/loadgen/tally.js';
import { percentile } from '../../src/smtp/client/stats.js';

describe('the load generator histogram', () => {
  it('gives exact nearest-rank percentiles below 128 µs, as stats.percentile does on the raw values', () => {
    const h = new Histogram();
    const values = Array.from({ length: 100 }, (_, i) => (i + 1) / 1000); // 1 … 100 µs
    for (const v of [...values].reverse()) h.record(v);
    for (const p of [50, 90, 99, 100]) assert.equal(h.percentile(p), percentile(values, p), `p${p}`);
    const s = h.summary();
    assert.deepEqual([s.count, s.min, s.max], [100, 0.001, 0.1]);
    assert.ok(Math.abs(s.mean - 0.0505) < 1e-12);
  });

  it('stays within 1 % above 128 µs and never reports more than the maximum', () => {
    const h = new Histogram();
    const values = Array.from({ length: 1000 }, (_, i) => 0.2 + i * 1.7); // 0.2 ms … 1.7 s
    for (const v of values) h.record(v);
    for (const p of [50, 90, 99]) {
      const want = percentile(values, p);
      const got = h.percentile(p);
      assert.ok(got >= want * 0.99 && got <= want * 1.01, `p${p}: ${got} vs ${want}`);
    }
    assert.equal(h.percentile(100), values[999]);
  });

  it('says NaN when empty and clamps absurd values instead of failing', () => {
    const h = new Histogram();
    assert.ok(Number.isNaN(h.percentile(50)));
    h.record(1e12);
    h.record(-5);
    assert.equal(h.count, 2);
    assert.equal(h.summary().min, 0);
  });
});

describe('the load generator tally', () => {
  it('counts accepted and failed messages, bytes, errors by key and commands by verb', () => {
    const t = new BenchTally();
    for (let i = 0; i < 7; i++) t.accept(1 + i, 1000);
    t.fail('550');
    t.fail('550');
    t.fail('ERR_CLOSED');
    t.connectionOpened();
    t.command('RCPT', 0.5);
    t.command('RCPT 2', 0.7);
    t.command('EHLO (TLS)', 0.2);
    const r = t.report(2000);
    assert.deepEqual([r.attempted, r.accepted, r.failed, r.bytes, r.connectionsOpened], [10, 7, 3, 7000, 1]);
    assert.deepEqual(r.errors, { '550': 2, ERR_CLOSED: 1 });
    assert.equal(r.messagesPerSecond, 3.5);
    assert.equal(r.bytesPerSecond, 3500);
    assert.deepEqual(Object.keys(r.latencyMs.commands), ['RCPT', 'EHLO']);
    assert.equal(r.latencyMs.commands['RCPT']?.count, 2);
    assert.deepEqual([r.latencyMs.message.count, r.latencyMs.message.p50, r.latencyMs.message.max], [7, 4, 7]);
  });

  it('reports a zero rate, not Infinity, for an empty run', () => {
    const r = new BenchTally().report(0);
    assert.deepEqual([r.messagesPerSecond, r.attempted], [0, 0]);
  });
});

describe('the load generator budget', () => {
  it('hands out the warm-up tickets, then exactly the measured ones, then nothing', () => {
    const b = new Budget({ messages: 3 }, { messages: 2 }, () => 0);
    const got: (string | null)[] = [];
    for (let i = 0; i < 8; i++) got.push(b.next());
    assert.deepEqual(got, ['warmup', 'warmup', 'measure', 'measure', 'measure', null, null, null]);
  });

  it('measures by a deadline on the clock it is given, and stops when told', () => {
    let now = 0;
    const b = new Budget({ durationMs: 100 }, { durationMs: 10 }, () => now);
    assert.equal(b.next(), 'warmup');
    now = 10;
    assert.equal(b.next(), 'measure');
    assert.equal(b.measureStartedAt, 10);
    now = 109;
    assert.equal(b.next(), 'measure');
    now = 110;
    assert.equal(b.next(), null);
    const c = new Budget({ messages: 5 }, null, () => 0);
    assert.equal(c.next(), 'measure');
    c.stop();
    assert.equal(c.next(), null);
  });
});

describe('the bench message', () => {
  it('is exactly the size asked for, with CRLF lines under 78 characters', () => {
    for (const size of [400, 1024, 1025, 102_400]) {
      const m = benchMessage(size, 'a@x.test', ['b@y.test']);
      assert.equal(m.length, size);
      const text = m.toString('latin1');
      assert.ok(text.endsWith('\r\n'));
      assert.equal(/[^\r]\n|\r[^\n]/.test(text), false);
      assert.ok(text.split('\r\n').every((l) => l.length <= 78));
    }
  });
});
