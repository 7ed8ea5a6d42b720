/**
 * Two mailwire instances on one PostgreSQL database, the same --webhook on both, mail arriving at both: every event
 * is delivered once (one webhook-id each, one request each), though both instances hear every message and both
 * deliver. Also: a claim left by an instance that died mid-attempt is taken again once its lease runs out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startService, type RunningService } from '../../src/service.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import type { MessageStore } from '../../src/store/index.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from './receiver.js';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

describe('webhooks on PostgreSQL, two instances', () => {
  let db: TestDatabase;
  let receiver: Receiver;
  const services: RunningService[] = [];
  before(async () => {
    db = await createTestDatabase();
    receiver = await Receiver.start(SECRET);
    for (let i = 0; i < 2; i++) {
      services.push(await startService({
        smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
        store: { kind: 'postgres', databaseUrl: db.url, maxMessages: 0 },
        http: null,
        webhooks: { configured: [receiver.url], secret: SECRET, pollMs: 100 },
      }));
    }
  });
  after(async () => {
    try {
      for (const s of services) await s.close();
    } finally {
      receiver.stop();
      await db?.drop();
    }
  });

  test('each message-stored event is delivered once, by one of the two', async () => {
    const N = 40;
    await Promise.all(Array.from({ length: N }, async (_, i) => {
      const s = services[i % 2] as RunningService;
      const raw = await compose({ from: 'a@example.test', to: 'b@example.test', subject: `m${i}`, text: 'x' });
      await sendRaw(s.smtp.port, 'a@example.test', 'b@example.test', raw);
    }));
    const stored = () => receiver.received.filter((r) => r.event === 'message-stored');
    await waitFor(`${N} deliveries`, () => stored().length >= N, { seen: () => stored().length });
    // Both instances keep polling: wait until the outbox has nothing left to deliver, then count again.
    const store = services[0]?.store as MessageStore;
    const hook = (await store.outbox.listWebhooks()).length; // flag webhooks are not stored
    assert.equal(hook, 0);
    const ids = stored().map((r) => r.id);
    assert.equal(new Set(ids).size, N, 'one webhook-id per message');
    assert.equal(ids.length, N, 'each delivered once');
    assert.ok(stored().every((r) => r.valid));
    const subjects = new Set(stored().map((r) => JSON.parse(r.body.toString()).data.subject as string));
    assert.equal(subjects.size, N);
  });

  test('a delivery claimed by an instance that died is due again once its lease is over, not before', async () => {
    const store = services[0]?.store as MessageStore;
    // Far in the future, so that the two running instances never find it due: this test moves the time itself.
    const F = Date.now() + 1e9;
    await store.outbox.enqueue([{ id: 'msg_orphan', webhookId: 'wh_none', event: 'message-stored', subject: 'x', createdAt: F, data: '{}' }], 10);
    const mine = async (now: number, leaseMs: number): Promise<boolean> => (await store.outbox.claim(now, 100, leaseMs)).some((d) => d.id === 'msg_orphan');
    assert.equal(await mine(F - 1, 1000), false, 'not due before its time');
    assert.equal(await mine(F, 1000), true, 'claimed');
    assert.equal(await mine(F + 999, 1000), false, 'not due while the lease holds');
    assert.equal(await mine(F + 1000, 1000), true, 'due again once the lease is over (its instance died mid-attempt)');
    await store.outbox.settle('msg_orphan', null, { state: 'failed' });
  });
});
