/**
 * The PostgreSQL store as several instances on one database: cursors that neither skip nor repeat while two
 * instances commit at once, every message announced on every instance exactly once, indexing taken over from an
 * instance that died mid-batch, migrations run once when instances start together, and global retention.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import { SCHEMA_VERSION } from '../../src/store/postgres/schema.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import type { MessageStore, MessageSummary } from '../../src/store/types.js';
import { crlf, incoming, saveIndexed } from '../helpers/mail.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const open = (db: TestDatabase, o: { maxMessages?: number } = {}): Promise<MessageStore> =>
  openStore({ kind: 'postgres', databaseUrl: db.url, maxMessages: o.maxMessages ?? 0, maxAgeMs: 0 });

const numbered = (tag: string, i: number): ReturnType<typeof incoming> => incoming(crlf([`Subject: ${tag} ${i}`, '', `body ${tag} ${i}`]));

/** Resolves once `check()` holds; fails loudly at the deadline with what `describe()` says. */
async function until(check: () => boolean | Promise<boolean>, what: () => string, deadlineMs = 20_000): Promise<void> {
  await waitFor('the condition', check, { deadlineMs, seen: what });
}

/** `count` stores opened at once on `db`; when one fails to open, those that opened are closed and it throws. */
async function openAll(db: TestDatabase, count: number, o: { maxMessages?: number } = {}): Promise<MessageStore[]> {
  const settled = await Promise.allSettled(Array.from({ length: count }, () => open(db, o)));
  const opened = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.allSettled(opened.map((store) => store.close()));
    throw failed.reason;
  }
  return opened;
}

/** `count` saves through `store`, `parallel` at a time; resolves with the ids in no particular order. */
async function saveMany(store: MessageStore, tag: string, count: number, parallel: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let i = next++; i < count; i = next++) ids.push(await store.save(numbered(tag, i)));
  }));
  return ids;
}

describe('postgres store, several instances on one database', () => {
  let db: TestDatabase;
  const stores: MessageStore[] = [];
  before(async () => {
    db = await createTestDatabase();
    stores.push(...await openAll(db, 3)); // three at once: see the first case
  });
  after(async () => {
    try {
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await db?.drop();
    }
  });

  it('runs its migrations once when three instances start together', async () => {
    assert.equal(stores.length, 3);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      assert.deepEqual((await c.query('SELECT version FROM mailwire.schema_version')).rows, [{ version: SCHEMA_VERSION }]);
    } finally {
      await c.end();
    }
  });

  it('follows new mail from a cursor without skipping or repeating one while two instances commit at once', async () => {
    const [a, b] = stores as [MessageStore, MessageStore];
    const announced = { a: [] as MessageSummary[], b: [] as MessageSummary[] };
    const offs = [a.onIndexed((m) => announced.a.push(m)), b.onIndexed((m) => announced.b.push(m))];
    try {
      // A follower as `wait` is: from the newest message now, each next match after its cursor, oldest first.
      const followed: string[] = [];
      // (after=null means "the newest", so it starts from a message of its own.)
      const start = await saveIndexed(a, numbered('start', 0));
      let cursor = (await b.nextMatch('', null))?.cursor ?? null;
      assert.equal((await b.nextMatch('', null))?.message.id, start);
      announced.a.length = 0;
      announced.b.length = 0;
      let writing = true;
      // Each look takes every match there is after its cursor; it goes on looking while the writers write.
      const follow = waitFor('the follower to see all 800 messages', async () => {
        for (let hit = await b.nextMatch('', cursor), i = 0; hit !== null && i < 1000; hit = await b.nextMatch('', cursor), i++) {
          followed.push(hit.message.id);
          cursor = hit.cursor;
        }
        return !writing && followed.length >= 800;
      }, { everyMs: 1, deadlineMs: 120_000, seen: () => `the follower saw ${followed.length} of 800` });
      follow.catch(() => undefined); // awaited below, once the writers are done
      const [fromA, fromB] = await Promise.all([saveMany(a, 'a', 400, 20), saveMany(b, 'b', 400, 20)]);
      const all = new Set([...fromA, ...fromB]);
      assert.equal(all.size, 800);
      await until(() => announced.a.length >= 800 && announced.b.length >= 800, () => `announced on a ${announced.a.length}, b ${announced.b.length}`);
      writing = false;
      await follow;

      assert.equal(new Set(followed).size, followed.length, 'the follower saw a message twice');
      assert.deepEqual(new Set(followed), all, 'the follower missed a message');
      // Every instance announces every message once, in the order the list shows them (newest last here).
      const listed = [];
      for (let page = await a.listMessages({ limit: 1000 }); ; page = await a.listMessages({ limit: 1000, cursor: page.nextCursor })) {
        listed.push(...page.items.map((m) => m.id));
        if (page.nextCursor === null) break;
      }
      const others = (ids: string[]): string[] => ids.filter((id) => id !== start);
      assert.deepEqual(others(listed.reverse()), followed);
      assert.deepEqual(others(announced.a.map((m) => m.id)), followed);
      assert.deepEqual(others(announced.b.map((m) => m.id)), followed);
      // Each was indexed from its own bytes (saved in groups; an instance indexes its own from memory, others' read
      // back): the subject announced is the one in the message.
      for (const m of announced.a) {
        const raw = (await a.getRaw(m.id))?.toString('latin1') ?? '';
        assert.equal(/^Subject: (.*)$/m.exec(raw)?.[1]?.trimEnd(), m.subject, `message ${m.id}`);
      }
    } finally {
      for (const off of offs) off();
    }
  });

  it('indexes, and announces, what another instance committed but never indexed, once that claim is gone', async () => {
    const [a, b] = stores as [MessageStore, MessageStore];
    const announced: string[] = [];
    const off = b.onIndexed((m) => announced.push(m.id));
    // An instance that took a batch and died before its commit: its claim (row locks) goes with its connection.
    const dying = new pg.Client({ connectionString: db.url });
    await dying.connect();
    dying.on('error', () => undefined);
    try {
      await dying.query('BEGIN');
      await dying.query(`INSERT INTO mailwire.messages (id, received_at, size, envelope, connection, raw)
        SELECT 'orphan-' || n, 0, 3, '{"helo":"h","from":"x@y.test","to":["z@y.test"]}', '{}', 'a\r\n' FROM generate_series(1, 5) n`);
      await dying.query("INSERT INTO mailwire.index_queue (seq) SELECT seq FROM mailwire.messages WHERE id LIKE 'orphan-%'");
      await dying.query('COMMIT');
      await dying.query('BEGIN');
      const claimed = await dying.query('SELECT seq FROM mailwire.index_queue FOR UPDATE');
      assert.equal(claimed.rowCount, 5);
      // Proof that indexing ran past the claimed rows (they head the queue): a message saved after them through the
      // other instance is indexed and announced while the claim holds.
      const later = await a.save(numbered('after the claim', 0));
      await until(() => announced.includes(later), () => `announced ${JSON.stringify(announced)}, not ${later}`);
      assert.deepEqual(announced, [later], 'the claim holds the orphans back');
      assert.equal((await a.listMessages({ query: 'to:z@y.test' })).items.length, 0);
      await dying.end(); // the claim ends uncommitted, as when its instance dies
      const orphans = (): string[] => announced.filter((id) => id.startsWith('orphan-'));
      await until(() => orphans().length === 5, () => `announced ${orphans().length} of 5`);
      assert.deepEqual(orphans().sort(), ['orphan-1', 'orphan-2', 'orphan-3', 'orphan-4', 'orphan-5']);
      assert.equal(announced.length, 6, `each announced once: ${JSON.stringify(announced)}`);
      assert.equal((await a.listMessages({ query: 'to:z@y.test' })).items.length, 5);
    } finally {
      off();
      await dying.end().catch(() => undefined);
    }
  });

  it('announces, after its listening connection was cut, what was indexed while it was away (NOTIFY is not replayed)', async () => {
    const [a, b] = stores as [MessageStore, MessageStore];
    const announced: string[] = [];
    const onA: string[] = [];
    const offs = [b.onIndexed((m) => announced.push(m.id)), a.onIndexed((m) => onA.push(m.id))];
    // Each pool holds all its connections (six) first: during what follows only pooled ones work.
    await Promise.all([a, b].flatMap((s) => Array.from({ length: 6 }, () => s.listMessages({ query: 'slow "to fill" pool' }))));
    // New connections refused for a while (pooled ones go on): the listeners, cut, cannot come back yet.
    await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    try {
      const cut = await adminQuery<{ n: number }>(
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN mailwire_indexed'",
        [db.name]);
      assert.equal(cut[0]?.n, 3, 'each instance listens on a connection of its own');
      // Saved and indexed by A while B has no listening connection: the notifications are lost to B.
      const ids = await saveMany(a, 'while-away', 10, 10);
      await until(() => ids.every((id) => onA.includes(id)), () => `A announced ${onA.length} of 10`);
      await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      await until(() => announced.length >= 10, () => `B announced ${announced.length} of 10`);
      assert.deepEqual([...announced].sort(), [...ids].sort());
    } finally {
      await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
      for (const off of offs) off();
    }
  });

  it('answers, on close, every save it took: each one committed', async () => {
    const other = await createTestDatabase();
    try {
      const store = await open(other);
      const saving = Array.from({ length: 30 }, (_, i) => store.save(numbered('closing', i)));
      await store.close();
      const ids = await Promise.all(saving);
      const again = await open(other);
      try {
        for (const id of ids) assert.notEqual(await again.getRaw(id), null, `${id} answered but not stored`);
      } finally {
        await again.close();
      }
    } finally {
      await other.drop();
    }
  });

  it('prunes to one global limit, one instance at a time', async () => {
    const other = await createTestDatabase();
    let opened: MessageStore[] = [];
    try {
      opened = await openAll(other, 2, { maxMessages: 5 });
      const [a, b] = opened as [MessageStore, MessageStore];
      await Promise.all([saveMany(a, 'a', 20, 5), saveMany(b, 'b', 20, 5)]);
      const [ra, rb] = await Promise.all([a.prune(), b.prune()]);
      assert.ok(ra.messages + rb.messages <= 35);
      await until(async () => (await a.health()).indexBacklog === 0 && (await b.listMessages()).items.length === 5,
        () => 'five messages left');
      const c = new pg.Client({ connectionString: other.url });
      await c.connect();
      try {
        assert.deepEqual((await c.query('SELECT count(*)::int AS n FROM mailwire.messages')).rows, [{ n: 5 }]);
      } finally {
        await c.end();
      }
    } finally {
      try {
        await Promise.all(opened.map((store) => store.close()));
      } finally {
        await other.drop();
      }
    }
  });
});

describe('postgres store, its indexer thread', () => {
  it('is started again after it died: what was saved meanwhile is indexed and announced, each message once', async () => {
    const db = await createTestDatabase();
    const threads: Worker[] = [];
    let store: MessageStore | null = null;
    try {
      store = await openPostgresStore({
        databaseUrl: db.url, maxMessages: 0, maxAgeMs: 0, storeTimeoutMs: 30_000, testing: { onIndexer: (w) => threads.push(w) },
      });
      const announced: string[] = [];
      store.onIndexed((m) => announced.push(m.id));
      const first = await store.save(numbered('indexer thread', 1));
      await until(() => announced.includes(first), () => `announced ${JSON.stringify(announced)}`);
      assert.equal(threads.length, 1);
      await threads[0]?.terminate();
      // Its bytes went nowhere (the thread is gone) and its wake starts a thread again, which reads them back.
      const second = await store.save(numbered('indexer thread', 2));
      await until(() => announced.includes(second), () => `announced ${JSON.stringify(announced)}, not ${second}`);
      assert.equal(threads.length, 2);
      assert.deepEqual(announced, [first, second]);
      const listed = (await store.listMessages({ query: 'subject:"indexer thread"' })).items.map((m) => [m.id, m.subject]);
      assert.deepEqual(listed, [[second, 'indexer thread 2'], [first, 'indexer thread 1']]);
    } finally {
      try {
        await store?.close();
      } finally {
        await db.drop();
      }
    }
  });
});

describe('postgres store, free-text pages', () => {
  it('pages a word many messages hold, and one few hold, newest first, the same whichever way the page is found', async () => {
    const db = await createTestDatabase();
    let store: MessageStore | null = null;
    try {
      store = await open(db);
      const s = store;
      // More messages with `common` than the GIN look-up takes as candidates (100): that page is walked in order;
      // `rare` is in three, found through the GIN index first. Saved one at a time, so their order is known.
      const ids: string[] = [];
      for (let i = 0; i < 130; i++) {
        const words = i % 50 === 7 ? 'common rare' : 'common';
        ids.push(await saveIndexed(s, incoming(crlf([`Subject: page ${i}`, '', `${words} body ${i}`]))));
      }
      const newestFirst = [...ids].reverse();
      const rare = newestFirst.filter((_, j) => (129 - j) % 50 === 7);
      assert.equal(rare.length, 3);
      const all = async (query: string): Promise<string[]> => {
        const out: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 20; page++) {
          const p = await s.listMessages({ query, limit: 40, ...(cursor === undefined ? {} : { cursor }) });
          out.push(...p.items.map((m) => m.id));
          if (p.nextCursor === null) break;
          cursor = p.nextCursor;
        }
        return out;
      };
      assert.deepEqual(await all('common'), newestFirst);
      assert.deepEqual(await all('rare'), rare);
      assert.deepEqual(await all('common rare'), rare);
      assert.deepEqual(await all('common -rare'), newestFirst.filter((id) => !rare.includes(id)));
      assert.deepEqual(await all('rare subject:"page 57"'), [ids[57]]);
      assert.deepEqual(await all('nowhere'), []);
      // The wait API's look-up: the newest match, and the next one after a cursor.
      assert.deepEqual(rare, [ids[107], ids[57], ids[7]]);
      assert.equal((await s.nextMatch('rare', null))?.message.id, ids[107]);
      assert.equal((await s.nextMatch('common', null))?.message.id, ids[129]);
      const at57 = (await s.listMessages({ query: 'rare', limit: 2 })).nextCursor; // the page ends at message 57
      assert.equal((await s.nextMatch('rare', at57))?.message.id, ids[107]);
      assert.equal((await s.nextMatch('common', at57))?.message.id, ids[58]);
      assert.equal(await s.nextMatch('rare', (await s.listMessages({ query: 'rare', limit: 1 })).nextCursor), null);
    } finally {
      try {
        await store?.close();
      } finally {
        await db.drop();
      }
    }
  });
});
