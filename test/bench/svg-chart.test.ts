/** The bench's SVG bar chart (bench/svg-chart.ts, issue 32 item 9): bars to scale, labels escaped, missing cells shown. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barChartSvg } from '../../bench/svg-chart.js';

const rects = (svg: string): { width: number; fill: string }[] =>
  [...svg.matchAll(/<rect x="300" y="\d+" width="(\d+)" height="\d+" fill="(#[0-9a-f]+)"\/>/g)].map((m) => ({ width: Number(m[1]), fill: m[2]! }));

describe('bench chart (SVG)', () => {
  it('draws each value as a bar to scale, the largest across the plot, ours in blue', () => {
    const svg = barChartSvg('20 × 1 KB', 'msg/s', [
      { label: 'mailwire --store none', value: 6000, ours: true },
      { label: 'smtp-server (nodemailer)', value: 3000, ours: false },
      { label: 'Postfix smtp-sink', value: 1500, ours: false },
    ]);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="760" height="108" /);
    assert.deepEqual(rects(svg), [{ width: 380, fill: '#2563eb' }, { width: 190, fill: '#9ca3af' }, { width: 95, fill: '#9ca3af' }]);
    assert.ok(svg.includes('>6,000</text>') && svg.includes('>1,500</text>'));
    assert.ok(svg.includes('>20 × 1 KB (msg/s)</text>'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
  });

  it('escapes labels and shows a cell that did not run as a dash with no bar', () => {
    const svg = barChartSvg('a <b> & "c"', 'msg/s', [{ label: '<script>x</script>', value: Number.NaN, ours: false }, { label: 'y', value: 10, ours: true }]);
    assert.ok(!svg.includes('<script>') && !svg.includes('<b>'));
    assert.ok(svg.includes('&#60;script&#62;x&#60;/script&#62;'));
    assert.ok(svg.includes('a &#60;b&#62; &#38; &#34;c&#34; (msg/s)'));
    assert.deepEqual(rects(svg).map((r) => r.width), [0, 380]);
    assert.ok(svg.includes('>—</text>'));
  });
});
