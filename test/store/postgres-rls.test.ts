/**
 * PostgreSQL's second wall between workspaces (issue 26): row-level security under a role of the store's own. The
 * role reads nothing with no workspace set, only that workspace's rows with one; the store's own queries, run as a
 * workspace's read, find nothing of another workspace even without the workspace handle's filter. The test database's
 * role is dropped with it (roles are cluster-wide).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { CONN, SIMPLE, incoming, saveIndexed } from '../helpers/mail.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { openStore } from '../../src/store/index.js';
import { rlsRoleOf } from '../../src/store/postgres/schema.js';
import type { MessageStore } from '../../src/store/types.js';

describe('postgres: row-level security for workspaces', () => {
  let db: TestDatabase;
  let store: MessageStore;
  let idA = '';
  let idB = '';
  before(async () => {
    db = await createTestDatabase();
    store = await openStore({ kind: 'postgres', databaseUrl: db.url });
    idA = await saveIndexed(store, { ...incoming(SIMPLE), connection: { ...CONN, workspace: 'team-a' } });
    idB = await saveIndexed(store, { ...incoming(SIMPLE), connection: { ...CONN, workspace: 'team-b' } });
  });
  after(async () => {
    await store.close();
    await db.drop();
    assert.deepEqual(await adminQuery('SELECT 1 FROM pg_roles WHERE rolname = $1', [rlsRoleOf(db.name)]), [], 'the role is dropped with the database');
  });

  it('the role reads nothing with no workspace set, and only that workspace\'s rows with one', async () => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const count = async (workspace: string | null): Promise<number[]> => {
        await c.query(`BEGIN; SET LOCAL ROLE ${rlsRoleOf(db.name)}`);
        if (workspace !== null) await c.query("SELECT set_config('mailwire.workspace', $1, true)", [workspace]);
        const n = await Promise.all(['messages', 'message_index', 'sessions'].map(async (t) => Number((await c.query(`SELECT count(*) AS n FROM mailwire.${t}`)).rows[0].n)));
        await c.query('COMMIT');
        return n;
      };
      assert.deepEqual(await count(null), [0, 0, 0]);
      assert.deepEqual(await count('team-a'), [1, 1, 0]);
      assert.deepEqual(await count('nobody'), [0, 0, 0]);
      assert.equal(Number((await c.query('SELECT count(*) AS n FROM mailwire.messages')).rows[0].n), 2, 'the owner sees all');
      await c.query(`BEGIN; SET LOCAL ROLE ${rlsRoleOf(db.name)}`);
      await assert.rejects(c.query('DELETE FROM mailwire.messages'), /permission denied/);
      await c.query('ROLLBACK');
    } finally {
      await c.end();
    }
  });

  it('the store\'s own reads as a workspace find nothing of another, with no filter of the handle', async () => {
    assert.ok(store.readAsWorkspace);
    const asA = <T>(f: () => Promise<T>): Promise<T> => store.readAsWorkspace?.('team-a', f) ?? f();
    assert.equal(await asA(() => store.getMessage(idB)), null);
    assert.equal(await asA(() => store.getRaw(idB)), null);
    assert.equal(await asA(() => store.messageWorkspace(idB)), null);
    assert.deepEqual((await asA(() => store.listMessages())).items.map((m) => m.id), [idA]);
    assert.equal((await asA(() => store.getMessage(idA)))?.id, idA);
    assert.equal((await store.listMessages()).items.length, 2, 'outside a workspace\'s read the store sees all');
  });
});
