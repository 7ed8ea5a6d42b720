/**
 * Workspaces in the store (issue 26), on every backend: a message or session stamped with a workspace is seen through
 * that workspace's handle only; another workspace's handle answers its ids as missing ones; the registry keeps
 * workspaces across a reopen of the same store.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, CONN, SIMPLE, incoming, saveIndexed, type Opened } from '../helpers/mail.js';
import { scopeStore } from '../../src/store/workspace-scope.js';
import type { IncomingMessage, MessageStore } from '../../src/store/types.js';
import type { Workspace } from '../../src/store/workspace.js';

const inWs = (ws: string | undefined, to: string): IncomingMessage => {
  const m = incoming(SIMPLE, { to: [to] });
  return { ...m, connection: ws === undefined ? CONN : { ...CONN, workspace: ws } };
};

for (const backend of BACKENDS) {
  describe(`${backend.name} store: workspaces`, () => {
    let o: Opened;
    let a: MessageStore;
    let b: MessageStore;
    let d: MessageStore;
    let idA = '';
    let idB = '';
    let idD = '';
    before(async () => {
      o = await backend.open();
      a = scopeStore(o.store, 'team-a');
      b = scopeStore(o.store, 'team-b');
      d = scopeStore(o.store, 'default');
      idA = await saveIndexed(o.store, inWs('team-a', 'alice@a.test'));
      idB = await saveIndexed(o.store, inWs('team-b', 'bob@b.test'));
      idD = await saveIndexed(o.store, inWs(undefined, 'dora@d.test'));
    });
    after(async () => { await o.cleanup(); });

    it('lists, searches and waits within the handle\'s workspace only', async () => {
      assert.deepEqual((await a.listMessages()).items.map((m) => m.id), [idA]);
      assert.deepEqual((await b.listMessages()).items.map((m) => m.id), [idB]);
      assert.deepEqual((await d.listMessages()).items.map((m) => m.id), [idD], 'a message without a workspace is default\'s');
      assert.deepEqual((await o.store.listMessages()).items.map((m) => m.id).sort(), [idA, idB, idD].sort(), 'the whole store sees all');
      assert.equal(JSON.parse((await a.listMessagesJson({ query: 'inbox:bob@b.test' })).itemsJson).length, 0);
      assert.equal((await a.listMessages({ query: 'workspace:team-b' })).items.length, 0, 'a workspace: term cannot widen the handle');
      assert.equal((await a.listMessages({ query: '-workspace:team-a' })).items.length, 0);
      assert.equal(await a.nextMatch('inbox:bob@b.test', null), null);
      assert.equal((await a.nextMatch('', null))?.message.id, idA);
    });

    it('answers another workspace\'s ids as missing ones, and changes nothing of them', async () => {
      assert.equal(await a.getMessage(idB), null);
      assert.equal(await a.getRaw(idB), null);
      assert.equal(await a.getAttachment(idB, 0), null);
      assert.equal(await a.setRead(idB, true), false);
      assert.equal(await a.deleteMessage(idB), false);
      assert.equal(await a.messageWorkspace(idB), null);
      assert.deepEqual(await a.deleteMessages('inbox:bob@b.test'), []);
      assert.deepEqual(await a.deleteInboxMessages('bob@b.test'), { removed: 0, deleted: [] });
      const m = await b.getMessage(idB);
      assert.equal(m?.read, false);
      assert.equal(m?.connection.workspace, 'team-b');
      assert.equal(await o.store.messageWorkspace(idB), 'team-b');
      assert.equal(await o.store.messageWorkspace(idD), 'default');
      assert.deepEqual(await a.getRaw(idA), SIMPLE);
    });

    it('lists only the workspace\'s inboxes and sessions', async () => {
      assert.deepEqual((await a.listInboxes()).items.map((i) => i.address), ['alice@a.test']);
      assert.deepEqual((await b.listInboxes()).items.map((i) => i.address), ['bob@b.test']);
      const base = { startedAt: new Date(), endedAt: new Date(), end: 'quit' as const, transcript: [], truncated: false };
      const sA = await a.saveSession({ ...base, connection: CONN, messageIds: [idA] });
      const sB = await o.store.saveSession({ ...base, connection: { ...CONN, workspace: 'team-b' }, messageIds: [idB] });
      const sNone = await o.store.saveSession({ ...base, connection: CONN, messageIds: [] });
      assert.deepEqual((await a.listSessions()).items.map((s) => s.id), [sA]);
      assert.deepEqual((await b.listSessions()).items.map((s) => s.id), [sB]);
      assert.deepEqual((await d.listSessions()).items.map((s) => s.id), [], 'a session of no workspace is the admins\' only');
      assert.equal(await a.getSession(sB), null);
      assert.equal(await a.getSession(sNone), null);
      assert.equal((await a.getSession(sA))?.id, sA);
      assert.equal((await o.store.listSessions()).items.length, 3);
    });

    it('deletes in bulk within the workspace only', async () => {
      assert.deepEqual(await a.deleteMessages(''), [idA]);
      assert.equal((await b.listMessages()).items.length, 1);
      assert.equal((await d.listMessages()).items.length, 1);
    });

    it('keeps workspaces in its registry', async () => {
      const w: Workspace = {
        name: 'team-c', smtp: [], tokens: [{ name: 'ci', sha256: 'ab'.repeat(32), createdAt: '2026-01-01T00:00:00.000Z' }],
        recipients: ['*@c.test'], retention: { maxMessages: 5 }, source: 'api', createdAt: '2026-01-01T00:00:00.000Z',
      };
      await o.store.workspaces.put(w);
      await o.store.workspaces.put({ ...w, recipients: ['*@c2.test'] });
      assert.deepEqual(await o.store.workspaces.list(), [{ ...w, recipients: ['*@c2.test'] }]);
      assert.deepEqual(await a.workspaces.list(), []);
      await assert.rejects(a.workspaces.put(w));
      assert.equal(await o.store.workspaces.delete('team-c'), true);
      assert.equal(await o.store.workspaces.delete('team-c'), false);
    });
  });
}
