/** Inboxes in the HTTP API: the listing, one inbox's messages and its long-poll, exactly that address and no other. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEvents } from '../../src/events.js';
import { openStore, type MessageStore } from '../../src/store/index.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { MULTIPART, SIMPLE, UTF8_TEXT, incoming, saveIndexed } from '../helpers/mail.js';

const BASE = 'http://mailwire.test';

describe('inboxes in the API', () => {
  let store: MessageStore;
  let app: WebApp;
  const ids = { a: '', b: '', c: '' };
  const deletedEvents: string[] = [];
  const json = async (path: string): Promise<[number, unknown]> => {
    const r = await app.fetch(new Request(BASE + path));
    return [r.status, await r.json()];
  };
  const messageIds = async (path: string): Promise<string[]> => {
    const [status, body] = await json(path);
    assert.equal(status, 200, JSON.stringify(body));
    return (body as { messages: { id: string }[] }).messages.map((m) => m.id);
  };

  before(async () => {
    store = await openStore({ kind: 'memory' });
    const events = createEvents();
    store.onIndexed((m) => events.emit('message-stored', { id: m.id }));
    events.on('message-deleted', ({ id }) => deletedEvents.push(id));
    app = createWebApp({ store, events, uiDir: null });
    ids.a = await saveIndexed(store, incoming(SIMPLE, { to: ['qa+run42@x.test', 'boss@x.test'] }));
    ids.b = await saveIndexed(store, incoming(MULTIPART, { to: ['qa@x.test'] }));
    ids.c = await saveIndexed(store, incoming(UTF8_TEXT, { to: ['qa+run42@x.test'] }));
  });
  after(() => store.close());

  it('lists the inboxes with their counts, filtered by prefix and paged', async () => {
    assert.deepEqual(await json('/api/v1/inboxes'), [200, {
      inboxes: [
        { address: 'boss@x.test', total: 1, unread: 1 }, { address: 'qa+run42@x.test', total: 2, unread: 2 }, { address: 'qa@x.test', total: 1, unread: 1 },
      ],
      nextCursor: null,
    }]);
    const [, first] = await json('/api/v1/inboxes?prefix=qa&limit=1') as [number, { inboxes: unknown[]; nextCursor: string }];
    assert.deepEqual(first.inboxes, [{ address: 'qa+run42@x.test', total: 2, unread: 2 }]);
    assert.deepEqual(await json(`/api/v1/inboxes?prefix=qa&limit=1&cursor=${first.nextCursor}`), [200, { inboxes: [{ address: 'qa@x.test', total: 1, unread: 1 }], nextCursor: null }]);
    assert.deepEqual(await json('/api/v1/inboxes?limit=0'), [400, { error: { code: 'bad_request', message: 'limit must be an integer from 1 to 1000' } }]);
    assert.deepEqual(await json('/api/v1/inboxes?cursor=@@'), [400, { error: { code: 'bad_cursor', message: 'malformed cursor' } }]);
  });

  it('lists one inbox\'s messages, with the query narrowing further; a plus-address is its own inbox', async () => {
    assert.deepEqual(await messageIds('/api/v1/inboxes/qa%2Brun42%40x.test/messages'), [ids.c, ids.a]);
    assert.deepEqual(await messageIds('/api/v1/inboxes/QA@x.test/messages'), [ids.b]);
    assert.deepEqual(await messageIds('/api/v1/inboxes/qa+run42@x.test/messages?query=noon'), [ids.a]);
    assert.deepEqual(await messageIds('/api/v1/inboxes/nobody@x.test/messages'), []);
  });

  it('long-polls one inbox: answers with a message of that inbox only, and 408 when none comes', async () => {
    const waiting = json('/api/v1/inboxes/new+1@x.test/wait?timeout=20');
    await saveIndexed(store, incoming(SIMPLE, { to: ['new@x.test'] })); // not that inbox
    const id = await saveIndexed(store, incoming(UTF8_TEXT, { to: ['new+1@x.test'] }));
    const [status, body] = await waiting;
    assert.equal(status, 200);
    assert.equal((body as { message: { id: string } }).message.id, id);
    const [late] = await json('/api/v1/inboxes/none@x.test/wait?timeout=0.1');
    assert.equal(late, 408);
  });

  it('deletes an inbox\'s messages from that inbox only: a message also sent elsewhere stays there, the rest is deleted', async () => {
    const del = async (path: string): Promise<[number, unknown]> => {
      const r = await app.fetch(new Request(BASE + path, { method: 'DELETE' }));
      return [r.status, await r.json()];
    };
    assert.deepEqual(await del('/api/v1/inboxes/qa+run42@x.test/messages?query=is:maybe'), [400, { error: { code: 'bad_query', message: 'is: knows only "read" and "unread", not "maybe"' } }]);
    // a is also in boss@x.test: it leaves qa+run42 and stays; c was only there: deleted.
    assert.deepEqual(await del('/api/v1/inboxes/QA%2Brun42%40x.test/messages'), [200, { removed: 2, deleted: 1, ids: [ids.c] }]);
    assert.deepEqual(deletedEvents, [ids.c]);
    assert.deepEqual(await messageIds('/api/v1/inboxes/qa+run42@x.test/messages'), []);
    assert.deepEqual(await messageIds('/api/v1/inboxes/boss@x.test/messages'), [ids.a]);
    assert.equal((await app.fetch(new Request(`${BASE}/api/v1/messages/${ids.a}`))).status, 200);
    const [, listed] = await json('/api/v1/inboxes?prefix=qa') as [number, { inboxes: unknown[] }];
    assert.deepEqual(listed.inboxes, [{ address: 'qa@x.test', total: 1, unread: 1 }]);
    assert.deepEqual(await del('/api/v1/inboxes/boss@x.test/messages'), [200, { removed: 1, deleted: 1, ids: [ids.a] }]);
    assert.deepEqual(deletedEvents, [ids.c, ids.a]);
    assert.equal((await app.fetch(new Request(`${BASE}/api/v1/messages/${ids.a}`))).status, 404);
  });
});
