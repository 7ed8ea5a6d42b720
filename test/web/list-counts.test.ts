/**
 * Issue 32 items 5 and 8 over HTTP, on each store (SQLite, memory, PostgreSQL): the exact total of a query
 * (GET /api/v1/messages/count), "mark all read" (PATCH /api/v1/messages?query=), and what each session's client said
 * on the session list (helo, mailFrom, rcptTo).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createEvents } from '../../src/events.js';
import { createMetrics } from '../../src/metrics.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { BACKENDS, CONN, MULTIPART, SIMPLE, UTF8_TEXT, incoming, saveIndexed, type Opened } from '../helpers/mail.js';

const BASE = 'http://mailwire.test';
const JSON_TYPE = { 'content-type': 'application/json' };

for (const backend of BACKENDS) {
  describe(`list counts and session fields over HTTP (${backend.name})`, () => {
    let o: Opened;
    let app: WebApp;
    const json = async (path: string, init?: RequestInit): Promise<[number, unknown]> => {
      const r = await app.fetch(new Request(BASE + path, init));
      return [r.status, await r.json()];
    };
    const ids: Record<string, string> = {};
    before(async () => {
      o = await backend.open();
      app = createWebApp({ store: o.store, events: createEvents(), metrics: createMetrics({ processMetrics: false }) });
      ids.simple = await saveIndexed(o.store, incoming(SIMPLE, { to: ['qa@x.test'] }));
      ids.multi = await saveIndexed(o.store, incoming(MULTIPART, { to: ['qa@x.test', 'ops@x.test'] }));
      ids.utf8 = await saveIndexed(o.store, incoming(UTF8_TEXT, { to: ['ops@x.test'] }));
    });
    after(async () => {
      await o.cleanup();
    });

    it('counts exactly what a query matches', async () => {
      assert.deepEqual(await json('/api/v1/messages/count'), [200, { total: 3, unread: 3 }]);
      assert.deepEqual(await json('/api/v1/messages/count?query=inbox%3Aqa%40x.test'), [200, { total: 2, unread: 2 }]);
      assert.deepEqual(await json('/api/v1/messages/count?query=has%3Aattachment'), [200, { total: 1, unread: 1 }]);
      const [status, body] = await json('/api/v1/messages/count?query=before%3Asomeday');
      assert.equal(status, 400);
      assert.equal((body as { error: { code: string } }).error.code, 'bad_query');
    });

    it('marks every message a query matches read, then all unread, and says how many changed', async () => {
      const patch = (query: string, body: string): Promise<[number, unknown]> =>
        json(`/api/v1/messages${query === '' ? '' : `?query=${encodeURIComponent(query)}`}`, { method: 'PATCH', body, headers: JSON_TYPE });
      assert.deepEqual(await patch('inbox:qa@x.test', '{"read":true}'), [200, { updated: 2, read: true }]);
      assert.deepEqual(await json('/api/v1/messages/count?query=is%3Aunread'), [200, { total: 1, unread: 1 }]);
      assert.deepEqual(await json('/api/v1/inboxes'), [200, {
        inboxes: [{ address: 'ops@x.test', total: 2, unread: 1 }, { address: 'qa@x.test', total: 2, unread: 0 }], nextCursor: null,
      }]);
      assert.deepEqual(await patch('', '{"read":true}'), [200, { updated: 1, read: true }]);
      assert.deepEqual(await patch('', '{"read":false}'), [200, { updated: 3, read: false }]);
      assert.deepEqual(await patch('', '{"read":"all"}'), [400, { error: { code: 'bad_request', message: 'body must be {"read": true|false}' } }]);
      const [status] = await patch('before:someday', '{"read":true}');
      assert.equal(status, 400);
      assert.deepEqual(await json('/api/v1/messages/count?query=is%3Aread'), [200, { total: 0, unread: 0 }]);
    });

    it('lists each session with its HELO name, MAIL FROM and RCPT TOs', async () => {
      const c = (text: string) => ({ at: 1714557600000, dir: 'client' as const, text });
      const id = await o.store.saveSession({
        connection: CONN, startedAt: new Date('2024-05-01T10:00:00Z'), endedAt: new Date('2024-05-01T10:00:01Z'), end: 'quit',
        messageIds: [], truncated: false, transcript: [c('EHLO app.test'), c('MAIL FROM:<app@a.test>'), c('RCPT TO:<x@b.test>'), c('RCPT TO:<y@b.test>')],
      });
      const [status, body] = await json('/api/v1/sessions');
      assert.equal(status, 200);
      const s = (body as { sessions: { id: string; helo: unknown; mailFrom: unknown; rcptTo: unknown }[] }).sessions.find((x) => x.id === id);
      assert.deepEqual([s?.helo, s?.mailFrom, s?.rcptTo], ['app.test', 'app@a.test', ['x@b.test', 'y@b.test']]);
      const [, detail] = await json(`/api/v1/sessions/${id}`);
      assert.deepEqual((detail as { rcptTo: unknown }).rcptTo, ['x@b.test', 'y@b.test']);
    });
  });
}
