/**
 * Webhooks end to end: mail over real SMTP, events delivered to a receiver that verifies each signature in Python,
 * retries on a clock the test moves (no test waits for a back-off), the API's refusals, and the outbox surviving a
 * restart of the SQLite store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startService, type RunningService } from '../../src/service.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import type { MessageStore, StoreKind, WebhookDelivery } from '../../src/store/index.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';
import { Receiver } from './receiver.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

type Started = RunningService & { base: string; clock: ManualClock };

async function start(opts: { store?: StoreKind; dataDir?: string; configured?: string[]; timeoutMs?: number } = {}): Promise<Started> {
  const clock = new ManualClock();
  clock.advance(1_000_000_000); // a wall time far from 0
  const service = await startService({
    smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
    store: { kind: opts.store ?? 'memory', ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }) },
    http: { host: '127.0.0.1', port: 0 },
    webhooks: { clock, random: () => 0.5, secret: SECRET, configured: opts.configured ?? [], timeoutMs: opts.timeoutMs ?? 10_000 },
  });
  if (service.http === null) throw new Error('no HTTP');
  return Object.assign(service, { base: `http://127.0.0.1:${service.http.port}`, clock });
}

async function api(s: Started, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.base}${path}`, {
    method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

async function send(s: Started, subject: string, to = 'bob@example.test'): Promise<Buffer> {
  const raw = await compose({ from: 'alice@example.test', to, subject, text: `body of ${subject}` });
  await sendRaw(s.smtp.port, 'alice@example.test', to, raw);
  return raw;
}

const deliveries = async (s: Started, hook: string): Promise<WebhookDelivery[]> => (await api(s, 'GET', `/api/v1/webhooks/${hook}/deliveries`)).json.deliveries;

async function settledOne(s: Started, hook: string, state: string, attempts: number): Promise<WebhookDelivery> {
  return waitForAsync(`a delivery of ${hook} ${state} after ${attempts} attempts`, async () => {
    const list = (await deliveries(s, hook)).filter((d) => d.event === 'message-stored');
    const d = list[0];
    return d !== undefined && d.state === state && d.attempts.length === attempts ? d : null;
  });
}

describe('webhooks', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await Receiver.start(SECRET);
  });
  after(() => receiver.stop());

  test('a stored message reaches the receiver signed per Standard Webhooks (checked in Python), and is recorded as delivered', async () => {
    const s = await start();
    try {
      await receiver.answer(200);
      const made = await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message-stored'], secret: SECRET });
      assert.equal(made.status, 201);
      assert.equal(made.json.secret, SECRET);
      const hook = made.json.id as string;
      const listed = await api(s, 'GET', '/api/v1/webhooks');
      assert.deepEqual(listed.json.webhooks.map((w: { id: string }) => w.id), [hook]);
      assert.equal(listed.json.webhooks[0].secret, undefined);
      assert.equal(listed.json.webhooks[0].secretHint, `whsec_…${SECRET.slice(-4)}`);

      const seen = receiver.received.length;
      await send(s, 'hello webhook');
      const got = await waitFor('the delivery', () => receiver.received.slice(seen).find((r) => r.event === 'message-stored'));
      assert.equal(got.valid, true, 'the signature verifies with Python\'s hmac');
      assert.equal(got.contentType, 'application/json');
      const payload = JSON.parse(got.body.toString('utf8'));
      assert.equal(payload.type, 'message-stored');
      assert.equal(payload.data.subject, 'hello webhook');
      assert.deepEqual(payload.data.envelope.to, ['bob@example.test']);
      const d = await settledOne(s, hook, 'delivered', 1);
      assert.equal(d.id, got.id);
      assert.equal(d.attempts[0]?.status, 200);
      assert.equal(d.attempts[0]?.response, 'answer 200');
    } finally {
      await s.close();
    }
  });

  test('a 500 is tried again on the schedule (5 s plus jitter), with the same webhook-id, until the receiver takes it', async () => {
    const s = await start();
    try {
      const hook = (await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message-stored'], secret: SECRET })).json.id as string;
      await receiver.answer(500);
      const seen = receiver.received.length;
      await send(s, 'retry me');
      const first = await settledOne(s, hook, 'pending', 1);
      assert.equal(first.attempts[0]?.status, 500);
      // random() is 0.5: 5 s stretched by 10 %.
      assert.equal(first.nextAt, s.clock.now() + 5_500);
      await receiver.answer(200);
      s.clock.advance(5_499); // not yet due: the polls in between claim nothing
      s.clock.advance(1);
      const done = await settledOne(s, hook, 'delivered', 2);
      const ids = receiver.received.slice(seen).filter((r) => r.event === 'message-stored').map((r) => r.id);
      assert.deepEqual(ids, [done.id, done.id]);
      assert.ok(receiver.received.slice(seen).every((r) => r.valid));
    } finally {
      await s.close();
    }
  });

  test('429 honours Retry-After; a 400 fails at once; a failed delivery is retried by the API', async () => {
    const s = await start();
    try {
      const hook = (await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message-stored'], secret: SECRET })).json.id as string;
      await receiver.answer(429);
      await send(s, 'slow down');
      const limited = await settledOne(s, hook, 'pending', 1);
      assert.equal(limited.nextAt, s.clock.now() + 60_000);
      await receiver.answer(400);
      s.clock.advance(60_000);
      const failed = await settledOne(s, hook, 'failed', 2);
      assert.equal(failed.attempts[1]?.status, 400);
      await receiver.answer(200);
      const retried = await api(s, 'POST', `/api/v1/webhooks/${hook}/deliveries/${failed.id}/retry`);
      assert.equal(retried.status, 202);
      await settledOne(s, hook, 'delivered', 3);
      assert.equal((await api(s, 'POST', `/api/v1/webhooks/${hook}/deliveries/msg_nope/retry`)).status, 404);
    } finally {
      await s.close();
    }
  });

  test('no answer within the timeout is tried again', async () => {
    const s = await start({ timeoutMs: 300 });
    try {
      // A listener that accepts and never answers.
      const { createServer } = await import('node:net');
      const sockets: import('node:net').Socket[] = [];
      const silent = createServer((sock) => void sockets.push(sock));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as { port: number }).port;
      const hook = (await api(s, 'POST', '/api/v1/webhooks', { url: `http://127.0.0.1:${port}/`, events: ['message-stored'] })).json.id as string;
      await send(s, 'into the void');
      const d = await settledOne(s, hook, 'pending', 1);
      assert.equal(d.attempts[0]?.status, null);
      assert.match(d.attempts[0]?.error ?? '', /no answer within 300 ms/);
      for (const sock of sockets) sock.destroy();
      silent.close();
    } finally {
      await s.close();
    }
  });

  test('payload raw carries the .eml bytes exactly; a query picks the messages; message deletion and session end are told', async () => {
    const s = await start();
    try {
      await receiver.answer(200);
      const raw = (await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message-stored'], payload: 'raw', query: 'to:carol', secret: SECRET })).json.id as string;
      const all = (await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message-deleted', 'session-ended'], secret: SECRET })).json.id as string;
      const seen = receiver.received.length;
      await send(s, 'not for carol');
      const sent = await send(s, 'for carol', 'carol@example.test');
      const got = await waitFor('the raw delivery', () => receiver.received.slice(seen).find((r) => r.contentType === 'message/rfc822'));
      assert.equal(got.valid, true);
      const store = s.store as MessageStore;
      const page = await store.listMessages({ query: 'to:carol' });
      const id = page.items[0]?.id ?? '';
      assert.deepEqual(got.body, await store.getRaw(id));
      assert.ok(got.body.toString('latin1').endsWith(sent.toString('latin1')), 'the stored bytes end with what was sent (after the Received: line)');
      assert.equal((await deliveries(s, raw)).length, 1, 'the query left the other message out');
      assert.equal((await api(s, 'DELETE', `/api/v1/messages/${id}`)).status, 204);
      const deleted = await waitFor('message-deleted', () => receiver.received.slice(seen).find((r) => r.event === 'message-deleted'));
      assert.equal(JSON.parse(deleted.body.toString()).data.id, id);
      const ended = await waitFor('session-ended', () => receiver.received.slice(seen).find((r) => r.event === 'session-ended'));
      assert.equal(ended.valid, true);
      assert.ok(JSON.parse(ended.body.toString()).data.connection, 'the session summary');
      assert.ok((await deliveries(s, all)).length >= 2);
    } finally {
      await s.close();
    }
  });

  test('bad webhooks are refused with a 400 naming the field', async () => {
    const s = await start();
    try {
      const refused = async (body: unknown, pattern: RegExp): Promise<void> => {
        const r = await api(s, 'POST', '/api/v1/webhooks', body);
        assert.equal(r.status, 400, JSON.stringify(r.json));
        assert.match(r.json.error.message, pattern);
      };
      await refused({ url: 'ftp://x.test/' }, /"url" must be http/);
      await refused({ url: 'not a url' }, /"url" is not a URL/);
      await refused({ url: receiver.url, events: ['message-stored', 'nope'] }, /"events": unknown event "nope"/);
      await refused({ url: receiver.url, query: 'subject:"open' }, /"query": .*quote/);
      await refused({ url: receiver.url, payload: 'everything' }, /"payload" must be one of summary, message, raw/);
      await refused({ url: receiver.url, secret: 'hunter2' }, /"secret": .*whsec_/);
      await refused({ url: 'http://10.1.2.3/hook' }, /"url": 10\.1\.2\.3: private \(RFC 1918\) addresses are refused \(allow it with --webhook-allow-hosts\)/);
      await refused({ url: receiver.url, colour: 'red' }, /unknown field "colour"/);
      const made = await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url });
      assert.equal(made.status, 201);
      assert.match(made.json.secret, /^whsec_/);
      const patched = await api(s, 'PATCH', `/api/v1/webhooks/${made.json.id}`, { events: ['session-ended'], query: 'inbox:bob@example.test' });
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.json.events, ['session-ended']);
      assert.equal((await api(s, 'PATCH', `/api/v1/webhooks/${made.json.id}`, { events: [] })).status, 400);
      assert.equal((await api(s, 'DELETE', `/api/v1/webhooks/${made.json.id}`)).status, 204);
      assert.equal((await api(s, 'GET', `/api/v1/webhooks/${made.json.id}`)).status, 404);
    } finally {
      await s.close();
    }
  });

  test('--webhook: listed with source "flag", signed with --webhook-secret, not changed through the API', async () => {
    const s = await start({ configured: [receiver.url] });
    try {
      await receiver.answer(200);
      const listed = (await api(s, 'GET', '/api/v1/webhooks')).json.webhooks;
      assert.equal(listed.length, 1);
      assert.equal(listed[0].source, 'flag');
      assert.equal((await api(s, 'DELETE', `/api/v1/webhooks/${listed[0].id}`)).status, 409);
      const seen = receiver.received.length;
      await send(s, 'flagged');
      const got = await waitFor('the delivery', () => receiver.received.slice(seen).find((r) => r.event === 'message-stored'));
      assert.equal(got.valid, true);
    } finally {
      await s.close();
    }
  });

  test('SQLite: a delivery pending at shutdown is delivered after the restart, with the same webhook-id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailwire-webhooks-'));
    try {
      let s = await start({ store: 'sqlite', dataDir: dir });
      let hook: string;
      let first: WebhookDelivery;
      try {
        hook = (await api(s, 'POST', '/api/v1/webhooks', { url: receiver.url, events: ['message-stored'], secret: SECRET })).json.id as string;
        await receiver.answer(503);
        await send(s, 'survives');
        first = await settledOne(s, hook, 'pending', 1);
      } finally {
        await s.close();
      }
      await receiver.answer(200);
      s = await start({ store: 'sqlite', dataDir: dir });
      try {
        s.clock.advance(10_000);
        const done = await settledOne(s, hook, 'delivered', 2);
        assert.equal(done.id, first.id);
        assert.deepEqual(receiver.received.filter((r) => r.id === first.id).map((r) => r.status), [503, 200]);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
