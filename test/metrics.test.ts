import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../src/metrics.js';

describe('metrics', () => {
  it('exposes command response times as a Prometheus histogram per verb: cumulative buckets, sum and count', async () => {
    const m = createMetrics({ processMetrics: false });
    m.commandResponse('helo', 0.0003);
    m.commandResponse('HELO', 0.0003);
    m.commandResponse('HELO', 3);
    const lines = (await m.text()).split('\n').filter((l) => l.startsWith('mailwire_command_response_seconds'));
    assert.deepEqual(lines.filter((l) => /le="(0\.00025|0\.0005|2\.5|\+Inf)"|_sum|_count/.test(l)), [
      'mailwire_command_response_seconds_bucket{le="0.00025",verb="HELO"} 0',
      'mailwire_command_response_seconds_bucket{le="0.0005",verb="HELO"} 2',
      'mailwire_command_response_seconds_bucket{le="2.5",verb="HELO"} 2',
      'mailwire_command_response_seconds_bucket{le="+Inf",verb="HELO"} 3',
      'mailwire_command_response_seconds_sum{verb="HELO"} 3.0006',
      'mailwire_command_response_seconds_count{verb="HELO"} 3',
    ]);
  });

  it('leaves the traffic metrics out of a cluster primary and appends the workers\' text', async () => {
    const m = createMetrics({ processMetrics: false, traffic: false, more: () => Promise.resolve('from_workers 1\n') });
    const text = await m.text();
    assert.doesNotMatch(text, /mailwire_messages_stored_total|mailwire_command_response_seconds/);
    assert.match(text, /from_workers 1\n$/);
  });
});
