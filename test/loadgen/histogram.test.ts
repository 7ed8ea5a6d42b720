/** The load generator's latency histogram (src/loadgen/histogram.ts) as bars, and the bars as `mailwire bench` draws them (issue 32 item 9). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram } from '../../src/loadgen/histogram.js';
import { histogramLines } from '../../src/cli/bench-command.js';

describe('latency histogram bars', () => {
  it('puts each value in the bar of its log-scale range, and the counts add up', () => {
    const h = new Histogram();
    for (let i = 0; i < 10; i++) h.record(1);
    for (let i = 0; i < 5; i++) h.record(20);
    h.record(100);
    const r3 = (ms: number): number => Math.round(ms * 1000) / 1000;
    assert.deepEqual(h.bins(2).map((b) => [r3(b.fromMs), r3(b.toMs), b.count]), [[1, 10, 10], [10, 100, 6]]);
    const four = h.bins(4);
    assert.deepEqual(four.map((b) => b.count), [10, 0, 5, 1]);
    assert.equal(four.reduce((n, b) => n + b.count, 0), h.count);
    assert.deepEqual([four[0]!.fromMs, four[3]!.toMs], [1, 100], 'from the smallest value to the largest');
  });

  it('has no bars when empty and one when every value is the same', () => {
    assert.deepEqual(new Histogram().bins(), []);
    const h = new Histogram();
    h.record(2.5);
    h.record(2.5);
    assert.deepEqual(h.bins(), [{ fromMs: 2.5, toMs: 2.5, count: 2 }]);
  });

  it('keeps a zero (a value under 1 µs) in the first bar', () => {
    const h = new Histogram();
    h.record(0);
    h.record(0.5);
    h.record(50);
    const bins = h.bins(3);
    assert.equal(bins[0]!.count, 1 + 0);
    assert.equal(bins.reduce((n, b) => n + b.count, 0), 3);
  });

  it('draws each bar scaled to the fullest, in eighths of a character, with its range and count', () => {
    assert.deepEqual(histogramLines([
      { fromMs: 0.5, toMs: 1, count: 4 },
      { fromMs: 1, toMs: 2, count: 8 },
      { fromMs: 2, toMs: 4, count: 0 },
      { fromMs: 4, toMs: 12.5, count: 1 },
    ]), [
      `  0.50 – 1.00  │${'█'.repeat(20)}${' '.repeat(20)} 4`,
      `  1.00 – 2.00  │${'█'.repeat(40)} 8`,
      `  2.00 – 4.00  │${' '.repeat(40)} 0`,
      `  4.00 – 12.50 │${'█'.repeat(5)}${' '.repeat(35)} 1`,
    ]);
    assert.equal(histogramLines([{ fromMs: 1, toMs: 2, count: 1 }, { fromMs: 2, toMs: 3, count: 1000 }])[0], `  1.00 – 2.00 │▏${' '.repeat(39)} 1`, 'a bar that holds anything shows');
  });
});
