import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey, LoginBusyError, LoginLimiter, type LoginVerdict } from '../../src/net/login-limiter.js';

/** A limiter on a clock the test moves. */
function limiterAt(limits: ConstructorParameters<typeof LoginLimiter>[0] = {}): { limiter: LoginLimiter; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { limiter: new LoginLimiter(limits, () => clock.now), clock };
}
const wrong = (): boolean => false;
const right = (): boolean => true;

describe('LoginLimiter: failures per client address, across connections', () => {
  it('lets the free failures through, then closes the address for a growing time, refusing unchecked', async () => {
    const { limiter, clock } = limiterAt({ freeFailures: 3, firstDelayMs: 1000, maxDelayMs: 8000 });
    for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.attempt('192.0.2.7', wrong), { kind: 'wrong' });
    // The third failure closed it for 1 s: a check asked meanwhile is not run, not even a right password.
    let ran = false;
    assert.deepEqual(await limiter.attempt('192.0.2.7', () => (ran = true)), { kind: 'throttled', retryAfterSeconds: 1 });
    assert.equal(ran, false);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.now += 60_000;
      assert.deepEqual(await limiter.attempt('192.0.2.7', wrong), { kind: 'wrong' });
      waits.push(limiter.retryAfterSeconds('192.0.2.7'));
    }
    assert.deepEqual(waits, [2, 4, 8, 8, 8]); // doubled each failure, up to maxDelayMs
    // Another address is not touched.
    assert.deepEqual(await limiter.attempt('192.0.2.8', right), { kind: 'ok' });
    assert.equal(limiter.retryAfterSeconds('127.0.0.1'), 0);
  });

  it('keeps the count whatever the connection, forgets it after forgetAfterMs; a success does not reset it', async () => {
    const { limiter, clock } = limiterAt({ freeFailures: 2, firstDelayMs: 1000, forgetAfterMs: 600_000 });
    await limiter.attempt('127.0.0.67', wrong);
    assert.deepEqual(await limiter.attempt('127.0.0.67', right), { kind: 'ok' });
    await limiter.attempt('::ffff:127.0.0.67', wrong); // the same peer on a dual-stack socket
    assert.equal(limiter.retryAfterSeconds('127.0.0.67'), 1);
    clock.now += 600_000;
    assert.equal(limiter.retryAfterSeconds('127.0.0.67'), 0);
    assert.deepEqual(await limiter.attempt('127.0.0.67', wrong), { kind: 'wrong' });
    assert.equal(limiter.retryAfterSeconds('127.0.0.67'), 0, 'the old count was forgotten: one failure is free again');
  });

  it('counts IPv6 clients by /64', async () => {
    assert.equal(clientKey('2001:db8:1:2::5'), clientKey('2001:db8:1:2:ffff::9'));
    assert.notEqual(clientKey('2001:db8:1:2::5'), clientKey('2001:db8:1:3::5'));
    const { limiter } = limiterAt({ freeFailures: 1 });
    await limiter.attempt('2001:db8:1:2::5', wrong);
    assert.equal((await limiter.attempt('2001:db8:1:2::6', right)).kind, 'throttled');
  });

  it('refuses a burst of checks at once from one address, and says busy (uncounted) when the checker is', async () => {
    const { limiter } = limiterAt({ maxInFlight: 2 });
    const gates: Array<(ok: boolean) => void> = [];
    const slow = (): Promise<boolean> => new Promise((resolve) => gates.push(resolve));
    const first = limiter.attempt('198.51.100.1', slow);
    const second = limiter.attempt('198.51.100.1', slow);
    assert.deepEqual(await limiter.attempt('198.51.100.1', slow), { kind: 'throttled', retryAfterSeconds: 1 });
    assert.equal((await limiter.attempt('198.51.100.2', right)).kind, 'ok');
    for (const g of gates) g(true);
    assert.deepEqual([await first, await second], [{ kind: 'ok' }, { kind: 'ok' }]);
    const busy: LoginVerdict = await limiter.attempt('198.51.100.1', () => { throw new LoginBusyError('full'); });
    assert.deepEqual(busy, { kind: 'busy', retryAfterSeconds: 1 });
    assert.equal(limiter.size, 0, 'nothing failed: nothing remembered');
  });

  it('remembers at most maxClients addresses', async () => {
    const { limiter } = limiterAt({ maxClients: 100 });
    for (let i = 0; i < 1000; i++) await limiter.attempt(`10.0.${i >> 8}.${i & 255}`, wrong);
    assert.equal(limiter.size, 100);
  });
});
