import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shareOf } from '../src/cluster.js';
import { resolveLimits } from '../src/smtp/core/limits.js';

describe('--workers: each worker\'s share of the connection limits', () => {
  it('divides the totals evenly, rounding up, and keeps "no limit" (0) as no limit', () => {
    const share = shareOf(resolveLimits({ maxClients: 2001, maxClientsPerIp: 0 }), 2);
    assert.equal(share.maxClients, 1001);
    assert.equal(share.maxClientsPerIp, 0);
    assert.equal(shareOf(resolveLimits({ maxClientsPerIp: 1 }), 4).maxClientsPerIp, 1);
  });
});
