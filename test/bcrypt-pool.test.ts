import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { BcryptPool } from '../src/bcrypt-pool.js';
import { LoginBusyError } from '../src/net/login-limiter.js';
import { createPasswordCheck } from '../src/credentials.js';

// "s3cret" at cost 4, as `htpasswd -nbB -C 4 alice s3cret` writes it.
const HASH = '$2y$04$6Dn/mkzn1k/WBVFt3cE7pOHtIXAAEglhfxAfIGDBtgLDDViUITHgy';

describe('bcrypt off the event loop', () => {
  const pool = new BcryptPool({ threads: 2, maxQueued: 3 });
  after(() => pool.close());

  it('compares and hashes on worker threads', async () => {
    assert.equal(await pool.compare('s3cret', HASH), true);
    assert.equal(await pool.compare('s3creT', HASH), false);
    const made = await pool.hash('pw', 4);
    assert.equal(bcrypt.compareSync('pw', made), true);
  });

  it('runs at most `threads` at once, queues up to maxQueued, and refuses the rest at once', async () => {
    const slow = bcrypt.hashSync('x', 8); // ~20 ms each
    const jobs = Array.from({ length: 7 }, () => pool.compare('y', slow).then((ok) => ({ ok }), (e: unknown) => ({ e })));
    assert.deepEqual(pool.load, { running: 2, queued: 3 });
    const results = await Promise.all(jobs);
    assert.deepEqual(results.slice(0, 5), Array(5).fill({ ok: false }));
    for (const r of results.slice(5)) assert.ok('e' in r && r.e instanceof LoginBusyError, JSON.stringify(r));
    assert.deepEqual(pool.load, { running: 0, queued: 0 });
  });

  it('leaves the event loop free while a check runs', async () => {
    const costly = bcrypt.hashSync('x', 11); // ~150-200 ms of CPU
    // The longest the event loop went without running a 5 ms timer, while the check ran.
    let last = performance.now();
    let longestGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    await pool.compare('y', costly);
    const tookMs = performance.now() - started;
    clearInterval(timer);
    // On the event loop, the gap would be the whole check.
    assert.ok(longestGap < tookMs / 2, `the loop stood still ${longestGap.toFixed(0)} ms of the check's ${tookMs.toFixed(0)} ms`);
  });

  it('checks an unknown user as long as a known one (against a dummy hash of the same cost)', async () => {
    const check = createPasswordCheck([{ user: 'alice', bcryptHash: HASH }], pool);
    assert.equal(await check('alice', 's3cret'), true);
    assert.equal(await check('alice', 'nope'), false);
    assert.equal(await check('mallory', 's3cret'), false);
  });
});
