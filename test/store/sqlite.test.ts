/** What only the SQLite store has: a schema history, a writer thread with group commit, and a file that outlives it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/open.js';
import { migrate, SCHEMA_VERSION } from '../../src/store/sqlite/schema.js';
import { OUTBOX_FILE_NAME } from '../../src/store/sqlite/outbox.js';
import { searchSelection } from '../../src/store/sqlite/search.js';
import { parseQuery } from '../../src/store/query.js';
import { SEGMENTS_DIR_NAME, SQLITE_FILE_NAME } from '../../src/store/sqlite/store.js';
import { StoreFullError, StoreUnavailableError, StoreWriteError } from '../../src/store/errors.js';
import type { WriterReply } from '../../src/store/sqlite/protocol.js';
import type { Worker } from 'node:worker_threads';
import { parseMessage, readAttachment } from '../../src/store/parse.js';
import { waitFor } from '../helpers/wait.js';
import { CONN, MULTIPART, PDF_BYTES, PNG_BYTES, SIMPLE, crlf, incoming, saveIndexed, tempDir, untilIndexed } from '../helpers/mail.js';

/** The longest the event loop stood still while `work` ran, in ms (a loop that never ticked stood still all along). */
async function longestPause(work: () => Promise<void>): Promise<number> {
  let longest = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(tick);
  }
  return Math.max(longest, performance.now() - last);
}

describe('sqlite store', () => {
  it('keeps messages across close and reopen', async () => {
    const dir = tempDir();
    try {
      const s1 = await openStore({ kind: 'sqlite', dataDir: dir });
      const id = await s1.save(incoming(MULTIPART));
      await s1.close();
      const s2 = await openStore({ kind: 'sqlite', dataDir: dir });
      assert.deepEqual(await s2.getRaw(id), MULTIPART);
      assert.equal((await s2.getMessage(id))?.subject, 'Quarterly report');
      await s2.close();
      // Closed cleanly, after reads: the metadata is in the database files (the messages' rows, the webhook outbox), no
      // write-ahead log is left beside them; the bytes are in the segment log, once.
      assert.deepEqual(readdirSync(dir).sort(), [SQLITE_FILE_NAME, OUTBOX_FILE_NAME, SEGMENTS_DIR_NAME].sort());
      assert.deepEqual(readdirSync(join(dir, SEGMENTS_DIR_NAME)), ['000001.log']);
      assert.ok(readFileSync(join(dir, SEGMENTS_DIR_NAME, '000001.log')).includes(MULTIPART));
      assert.ok(!readFileSync(join(dir, SQLITE_FILE_NAME)).includes(MULTIPART.subarray(0, 200)), 'no message bytes in SQLite');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('batches concurrent saves into fewer transactions (group commit)', async () => {
    const dir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
    try {
      const raws = Array.from({ length: 50 }, (_, i) => crlf([`Subject: m${i}`, '', `body number${i}`]));
      const ids = await Promise.all(raws.map((raw) => store.save(incoming(raw))));
      // Made in one tick, so sent in one message and committed in one transaction.
      assert.deepEqual(store.stats(), { saved: 50, failed: 0, transactions: 1 });
      assert.equal(new Set(ids).size, 50);
      for (const [i, id] of ids.entries()) assert.deepEqual(await store.getRaw(id), raws[i]);
      await untilIndexed(store);
      assert.equal((await store.listMessages({ query: 'number17' })).items[0]?.id, ids[17]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a save whose write fails and leaves nothing of it, while the rest of its batch commits', async () => {
    const dir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
    // A busy timeout like the store's own: the writer may hold the lock for a moment when this connection changes the schema.
    const side = new Database(join(dir, SQLITE_FILE_NAME), { timeout: 5000 });
    try {
      const good = crlf(['Subject: fine', '', 'all good']);
      const bad = crlf(['Subject: doomed', '', 'boom']);
      // Fails after the pending row went in, in the middle of the message's writes (its size tells it from the others).
      side.exec(`CREATE TRIGGER fail_boom BEFORE INSERT ON message_segment WHEN (SELECT size FROM message_pending WHERE seq = NEW.seq) = ${bad.byteLength}
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
      const results = await Promise.allSettled([store.save(incoming(good)), store.save(incoming(bad)), store.save(incoming(good))]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      const reason = (results[1] as PromiseRejectedResult).reason as unknown;
      assert.ok(reason instanceof StoreWriteError);
      assert.match(reason.message, /injected failure/);
      // One transaction: the batch failed, was replayed op by op, and committed without the bad one.
      assert.deepEqual(store.stats(), { saved: 2, failed: 1, transactions: 1 });
      await untilIndexed(store);
      assert.deepEqual(side.prepare('SELECT count(*) AS n FROM messages').get(), { n: 2 });
      assert.deepEqual(side.prepare('SELECT count(*) AS n FROM message_pending').get(), { n: 0 });
      assert.deepEqual(side.prepare('SELECT count(*) AS n FROM message_segment').get(), { n: 2 });
      assert.deepEqual(side.prepare('SELECT count(*) AS n FROM message_raw').get(), { n: 0 });
      assert.deepEqual(side.prepare("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'doomed OR boom'").all(), []);

      // Every write failing: every save rejects, nothing is stored, and the store carries on once the fault is gone.
      side.exec(`CREATE TRIGGER fail_all BEFORE INSERT ON message_pending BEGIN SELECT RAISE(ABORT, 'disk says no'); END`);
      const all = await Promise.allSettled([1, 2, 3].map(() => store.save(incoming(good))));
      assert.deepEqual(all.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
      assert.deepEqual(side.prepare('SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM message_pending) AS n').get(), { n: 2 });
      side.exec('DROP TRIGGER fail_all; DROP TRIGGER fail_boom');
      const id = await store.save(incoming(bad));
      assert.deepEqual(await store.getRaw(id), bad);
    } finally {
      side.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migrates a file made by schema v1, backfilling search', async () => {
    const dir = tempDir();
    try {
      const db = new Database(join(dir, SQLITE_FILE_NAME));
      assert.equal(migrate(db, 1), 1);
      // A row as v1 wrote it: everything parsed in one JSON column, the raw bytes beside it.
      const parsed = {
        from: { name: 'Ann Example', address: 'ann@a.test' }, to: [{ name: 'Bob', address: 'bob@b.test' }], cc: [], bcc: [],
        subject: 'Lunch plans', date: '2024-05-01T09:59:00.000Z', messageId: '<lunch-1@a.test>',
        headers: [{ name: 'Subject', value: 'Lunch plans' }], text: 'Shall we meet at noon?\n', html: '', attachments: [],
      };
      db.prepare(`INSERT INTO messages (id, received_at, size, read, envelope, connection, parsed, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run('legacy-1', Date.UTC(2024, 4, 1, 10), SIMPLE.byteLength, 1,
          JSON.stringify({ helo: 'client.test', from: 'ann@a.test', to: ['bob@b.test', 'bcc@x.test'] }), JSON.stringify(CONN),
          JSON.stringify(parsed), SIMPLE);
      db.close();

      const store = await openStore({ kind: 'sqlite', dataDir: dir });
      try {
        const check = new Database(join(dir, SQLITE_FILE_NAME), { readonly: true });
        assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
        assert.deepEqual(check.prepare("SELECT count(*) AS n FROM pragma_table_info('messages') WHERE name = 'parsed'").get(), { n: 0 });
        check.close();
        assert.deepEqual(await store.getRaw('legacy-1'), SIMPLE);
        const m = await store.getMessage('legacy-1');
        assert.equal(m?.subject, 'Lunch plans');
        assert.equal(m?.read, true);
        assert.equal(m?.snippet, 'Shall we meet at noon?');
        for (const q of ['noon', 'from:ann', 'to:bcc@x.test', 'subject:lunch', 'is:read']) {
          assert.deepEqual((await store.listMessages({ query: q })).items.map((x) => x.id), ['legacy-1'], q);
        }
        const id = await saveIndexed(store, incoming(MULTIPART));
        assert.deepEqual((await store.listMessages()).items.map((x) => x.id), [id, 'legacy-1']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migrates a file made by schema v6: its sessions list without what their clients said (v9 adds it for new ones)', async () => {
    const dir = tempDir();
    try {
      const db = new Database(join(dir, SQLITE_FILE_NAME));
      assert.equal(migrate(db, 6), 6);
      db.prepare(`INSERT INTO sessions (id, started_at, ended_at, end_reason, connection, message_ids, truncated, transcript) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run('old-session', Date.UTC(2024, 4, 1, 10), Date.UTC(2024, 4, 1, 10), 'quit', JSON.stringify(CONN), '[]', 0,
          JSON.stringify([{ at: 0, dir: 'client', text: 'HELO old.test' }]));
      db.close();
      const store = await openStore({ kind: 'sqlite', dataDir: dir });
      try {
        const id = await store.saveSession({
          connection: CONN, startedAt: new Date(), endedAt: new Date(), end: 'quit', messageIds: [], truncated: false,
          transcript: [{ at: 0, dir: 'client', text: 'HELO new.test' }],
        });
        const listed = (await store.listSessions()).items.map((x) => [x.id, x.helo, x.mailFrom, x.rcptTo]);
        assert.deepEqual(listed, [[id, 'new.test', null, []], ['old-session', null, null, []]]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migrates a file made by schema v2: the bytes move to message_raw and then to the segment log, bodies and attachments are then read from them', async () => {
    const dir = tempDir();
    try {
      const db = new Database(join(dir, SQLITE_FILE_NAME));
      migrate(db, 1);
      db.prepare(`INSERT INTO messages (id, received_at, size, read, envelope, connection, parsed, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run('legacy-2', Date.UTC(2024, 4, 1, 10), MULTIPART.byteLength, 0,
          JSON.stringify({ helo: 'client.test', from: 'gina@g.test', to: ['hank@h.test'] }), JSON.stringify(CONN),
          JSON.stringify({ subject: 'Quarterly report', text: 'as v2 stored it', attachments: [] }), MULTIPART);
      assert.equal(migrate(db, 2), 2); // a file as v2 made it: parsed bodies stored beside the bytes
      assert.deepEqual(db.prepare('SELECT text FROM message_body').get(), { text: 'as v2 stored it' });
      db.close();

      const store = await openStore({ kind: 'sqlite', dataDir: dir });
      try {
        const check = new Database(join(dir, SQLITE_FILE_NAME), { readonly: true });
        assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
        assert.deepEqual(check.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'message_body'").get(), { n: 0 });
        assert.deepEqual(check.prepare('SELECT count(*) AS n FROM message_raw').get(), { n: 0 });
        assert.deepEqual(check.prepare('SELECT count(*) AS n FROM message_segment').get(), { n: 1 });
        check.close();
        assert.deepEqual(await store.getRaw('legacy-2'), MULTIPART);
        const m = await store.getMessage('legacy-2');
        assert.equal(m?.text, 'See the report: https://example.test/r?id=7 and confirm with 5531.\n');
        assert.match(m?.html ?? '', /<a href="https:\/\/example.test\/r\?id=7">the report<\/a>/);
        assert.deepEqual(m?.attachments.map((a) => [a.filename, a.contentType, a.size]), [['report.pdf', 'application/pdf', PDF_BYTES.byteLength], ['logo.png', 'image/png', PNG_BYTES.byteLength]]);
        assert.deepEqual((await store.getAttachment('legacy-2', 0))?.content, PDF_BYTES);
        assert.equal(await store.getAttachment('legacy-2', 2), null);
        assert.deepEqual((await store.listMessages({ query: 'subject:quarterly' })).items.map((x) => x.id), ['legacy-2']);
        assert.deepEqual(await store.deleteMessages('subject:quarterly'), ['legacy-2']);
        assert.equal(await store.getRaw('legacy-2'), null);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a large message (bodies, attachment) on the reader thread: the calling thread stands still far less than when it parses', async () => {
    const dir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
    try {
      const blob = Buffer.alloc(12 * 1024 * 1024, 0x5a);
      const big = crlf([
        'From: big@g.test', 'To: hank@h.test', 'Subject: Large', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"', '',
        '--b1', 'Content-Type: text/plain', '', 'The data is attached.', '--b1',
        'Content-Type: application/octet-stream; name="data.bin"', 'Content-Transfer-Encoding: base64', '',
        ...(blob.toString('base64').match(/.{1,76}/g) ?? []), '--b1--',
      ]);
      const id = await store.save(incoming(big));
      // The same reads twice in one run: through the store, then parsed here. A ratio, not a time: the machine may be slow.
      const viaStore = await longestPause(async () => {
        const m = await store.getMessage(id);
        assert.equal(m?.text, 'The data is attached.\n');
        assert.deepEqual(m?.attachments.map((a) => [a.filename, a.size]), [['data.bin', blob.byteLength]]);
        assert.ok((await store.getAttachment(id, 0))?.content.equals(blob));
      });
      const here = await longestPause(async () => {
        assert.equal((await parseMessage(big)).text, 'The data is attached.\n');
        assert.ok((await readAttachment(big, 0))?.content.equals(blob));
      });
      assert.ok(viaStore * 4 < here, `the event loop stood still ${Math.round(viaStore)} ms reading through the store, ${Math.round(here)} ms parsing here`);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs its reader thread at nice 10 on Linux, below the SMTP and writer threads, which keep their priority', async (t) => {
    // A thread's nice value is field 19 of /proc/self/task/TID/stat (after the parenthesised name).
    const niceByThread = (): Map<string, number> => new Map(readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      return [tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    }));
    if (!existsSync('/proc/self/task')) {
      t.skip('no /proc: not Linux');
      return;
    }
    const dir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir: dir });
    try {
      const before = niceByThread();
      await store.listMessages({ query: 'anything' }); // the reader thread starts on the first read
      const started = [...niceByThread()].filter(([tid]) => !before.has(tid));
      // (Threads the runtime may start meanwhile, such as libuv's pool, come at nice 0.)
      assert.deepEqual(started.map(([, nice]) => nice).filter((nice) => nice !== 0), [10], 'one new thread, the reader, at nice 10');
      assert.equal(niceByThread().get(String(process.pid)), 0, 'the calling (SMTP) thread keeps nice 0');
      assert.ok([...before.values()].every((nice) => nice === 0), 'the writer and every other thread keep nice 0');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a message read again from its cached parse, and not once the message is deleted', async () => {
    const dir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir: dir });
    const side = new Database(join(dir, SQLITE_FILE_NAME), { timeout: 5000 });
    try {
      const id = await store.save(incoming(MULTIPART));
      const first = await store.getMessage(id);
      assert.equal(first?.subject, 'Quarterly report');
      // Behind the store's back, the record is made unreadable (stored bytes never change, so only a parse kept from
      // the first read still answers):
      writeFileSync(join(dir, SEGMENTS_DIR_NAME, '000001.log'), Buffer.alloc(statSync(join(dir, SEGMENTS_DIR_NAME, '000001.log')).size));
      assert.deepEqual(await store.getMessage(id), first);
      assert.equal(await store.deleteMessage(id), true);
      assert.equal(await store.getMessage(id), null);
    } finally {
      side.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers a save only after its record was fdatasync\'d in the segment log, the metadata committed in WAL with synchronous=NORMAL', async () => {
    const dir = tempDir();
    const commits: unknown[] = [];
    const store = await openStore({
      kind: 'sqlite', dataDir: dir,
      testing: { onWriter: (w) => w.on('message', (m: WriterReply) => { if (m.type === 'committed') commits.push(m.durability); }) },
    });
    try {
      await store.save(incoming(SIMPLE));
      await Promise.all([store.save(incoming(MULTIPART)), store.save(incoming(SIMPLE))]);
      assert.deepEqual(commits, [{ journalMode: 'wal', synchronous: 'normal', logSynced: true }, { journalMode: 'wal', synchronous: 'normal', logSynced: true }]);
      // Sessions are diagnostics: nothing goes to the log.
      await store.saveSession({ connection: CONN, startedAt: new Date(), endedAt: new Date(), end: 'quit', messageIds: [], transcript: [], truncated: false });
      assert.deepEqual(commits[2], { journalMode: 'wal', synchronous: 'normal', logSynced: false });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a message by id as soon as save() resolves; lists it once indexed; indexes what a run left behind at the next open, announcing each once', async () => {
    const dir = tempDir();
    try {
      const paused = await openStore({ kind: 'sqlite', dataDir: dir, testing: { pauseIndexer: true } });
      const ids: string[] = [];
      try {
        for (const raw of [SIMPLE, MULTIPART]) ids.push(await paused.save(incoming(raw)));
        assert.deepEqual(await paused.getRaw(ids[1] ?? ''), MULTIPART);
        const m = await paused.getMessage(ids[1] ?? '');
        assert.equal(m?.subject, 'Quarterly report');
        assert.equal(m?.attachmentCount, 2);
        assert.equal(m?.attachments.length, 2);
        assert.equal(await paused.setRead(ids[0] ?? '', true), true);
        assert.deepEqual((await paused.listMessages()).items, []); // durable, not yet searchable
        assert.equal(paused.health().indexBacklog, 2);
        assert.ok(paused.health().indexLagMs >= 0);
      } finally {
        await paused.close(); // paused: the close leaves them unindexed, as a crash would
      }

      const announced: string[] = [];
      const store = await openStore({ kind: 'sqlite', dataDir: dir });
      store.onIndexed((x) => announced.push(x.id)); // in the turn open() resolved: recovered messages come next
      try {
        assert.deepEqual(store.recovered, { messages: 2, ms: store.recovered?.ms });
        assert.deepEqual((await store.listMessages()).items.map((x) => [x.id, x.read]), [[ids[1], false], [ids[0], true]]);
        assert.deepEqual((await store.listMessages({ query: 'noon' })).items.map((x) => x.id), [ids[0]]);
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(announced, ids);
        assert.equal(store.health().indexBacklog, 0);
      } finally {
        await store.close();
      }
      const again = await openStore({ kind: 'sqlite', dataDir: dir });
      assert.equal(again.recovered?.messages, 0); // announced once: nothing is left to recover
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a save past its deadline with StoreUnavailableError when the writer stalls, and never stores it later', async () => {
    const dir = tempDir();
    const store = await openStore({ kind: 'sqlite', dataDir: dir, storeTimeoutMs: 200, testing: { stallCommitsMs: 1500 } });
    try {
      await assert.rejects(store.save(incoming(SIMPLE)), (e: unknown) =>
        e instanceof StoreUnavailableError && e.message === 'not stored: the store did not commit the message within 200 ms');
      assert.equal(store.stats().failed, 1);
    } finally {
      await store.close(); // the writer wakes from its stall, finds the save cut, and leaves it out of the commit
    }
    // 451 means not stored: a retry must not make a duplicate.
    const again = await openStore({ kind: 'sqlite', dataDir: dir });
    try {
      assert.deepEqual((await again.listMessages()).items, []);
      assert.equal(again.recovered?.messages, 0);
    } finally {
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the writes of a writer that dies with StoreUnavailableError, starts another, and loses nothing acknowledged', async () => {
    const dir = tempDir();
    const writers: Worker[] = [];
    const store = await openStore({ kind: 'sqlite', dataDir: dir, testing: { onWriter: (w) => writers.push(w) } });
    try {
      const kept = await store.save(incoming(SIMPLE));
      const lost = store.save(incoming(MULTIPART));
      await new Promise((resolve) => setImmediate(resolve)); // sent to the writer
      await writers[0]?.terminate();
      await assert.rejects(lost, (e: unknown) => e instanceof StoreUnavailableError && /exited/.test(e.message));
      assert.equal(store.health().ok, false);
      assert.match(store.health().reason ?? '', /restarting/);
      const next = await store.save(incoming(crlf(['Subject: after', '', 'the restart']))); // waits for the new writer
      assert.equal(writers.length, 2);
      assert.equal(store.health().ok, true);
      assert.deepEqual(await store.getRaw(kept), SIMPLE);
      assert.deepEqual(await store.getRaw(next), crlf(['Subject: after', '', 'the restart']));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a message that finds no room with StoreFullError, keeps what it had, and takes mail again once there is room', async () => {
    const dir = tempDir();
    // Two 20 KB messages per segment; a log of at most 300 KB.
    const store = await openStore({ kind: 'sqlite', dataDir: dir, segmentSize: 45_000, testing: { maxLogBytes: 300_000 } });
    try {
      const acknowledged: [string, Buffer][] = [];
      let refusal: unknown = null;
      for (let i = 0; i < 200 && refusal === null; i++) {
        const raw = crlf([`Subject: filler ${i}`, '', 'x'.repeat(20_000)]);
        try {
          acknowledged.push([await store.save(incoming(raw)), raw]);
        } catch (e) {
          refusal = e;
        }
      }
      assert.ok(refusal instanceof StoreFullError, `no StoreFullError: ${String(refusal)}`);
      assert.ok(acknowledged.length > 0);
      assert.equal(store.health().ok, false);
      assert.match(store.health().reason ?? '', /no room/);
      for (const [id, raw] of acknowledged) assert.deepEqual(await store.getRaw(id), raw);
      // Its first segment all dead, unlinked: room again.
      assert.equal(await store.deleteMessage(acknowledged[0]?.[0] ?? ''), true);
      assert.equal(await store.deleteMessage(acknowledged[1]?.[0] ?? ''), true);
      assert.ok(!existsSync(join(dir, SEGMENTS_DIR_NAME, '000001.log')));
      const small = crlf(['Subject: fits', '', 'x']);
      assert.deepEqual(await store.getRaw(await store.save(incoming(small))), small);
      assert.equal(store.health().ok, true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migrates a data directory made by 49110ac (bytes in SQLite): order, read flags and inbox membership kept, the bytes moved into the log', async () => {
    const dir = tempDir();
    try {
      cpSync(new URL('../../../test/fixtures/sqlite-49110ac', import.meta.url), dir, { recursive: true });
      type Expected = {
        listed: { id: string; read: boolean; subject: string; to: string[] }[]; inboxes: unknown[]; inboxA: string[]; inboxB: string[];
        sha256: Record<string, string>;
      };
      const expected = JSON.parse(readFileSync(new URL('../../../test/fixtures/sqlite-49110ac.expected.json', import.meta.url), 'utf8')) as Expected;
      const before = new Database(join(dir, SQLITE_FILE_NAME), { readonly: true });
      assert.equal(before.pragma('user_version', { simple: true }), 6);
      assert.deepEqual(before.prepare('SELECT count(*) AS n FROM message_pending').get(), { n: 3 }); // left unindexed by that run
      before.close();
      const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
      try {
        const listed = (await store.listMessages({ limit: 200 })).items.map((m) => ({ id: m.id, read: m.read, subject: m.subject, to: m.envelope.to }));
        assert.deepEqual(listed, expected.listed);
        assert.deepEqual((await store.listInboxes({ limit: 200 })).items, expected.inboxes);
        assert.deepEqual((await store.listMessages({ query: 'inbox:a@x.test', limit: 200 })).items.map((m) => m.id), expected.inboxA);
        assert.deepEqual((await store.listMessages({ query: 'inbox:b@x.test', limit: 200 })).items.map((m) => m.id), expected.inboxB);
        for (const m of listed) {
          const raw = await store.getRaw(m.id);
          assert.equal(createHash('sha256').update(raw ?? '').digest('hex'), expected.sha256[m.id], m.id);
        }
        const check = new Database(join(dir, SQLITE_FILE_NAME), { readonly: true });
        assert.deepEqual(check.prepare('SELECT count(*) AS n FROM message_raw').get(), { n: 0 });
        assert.deepEqual(check.prepare('SELECT count(*) AS n FROM message_segment').get(), { n: listed.length });
        check.close();
        // Cursors go on from the old seqs: a new message comes first.
        const id = await saveIndexed(store, incoming(SIMPLE));
        assert.deepEqual((await store.listMessages({ limit: 2 })).items.map((m) => m.id), [id, expected.listed[0]!.id]);
      } finally {
        await store.close();
      }
      const again = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
      try {
        assert.equal((await again.listMessages({ limit: 200 })).items.length, expected.listed.length + 1);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a segment deleted by hand: its messages answer 404 with a log line naming it, the rest are read as before, and saves go on in a new segment', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      lines.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const bodies = [1, 2, 3].map((i) => crlf([`Subject: segment ${i}`, '', `word${i} `.repeat(400)]));
      const first = await openStore({ kind: 'sqlite', dataDir: dir, segmentSize: 4096 });
      const ids: string[] = [];
      for (const b of bodies) ids.push(await saveIndexed(first, incoming(b))); // one segment each
      await first.close();
      const segments = join(dir, SEGMENTS_DIR_NAME);
      assert.deepEqual(readdirSync(segments).sort(), ['000001.log', '000002.log', '000003.log']);
      rmSync(join(segments, '000002.log'));
      rmSync(join(segments, '000003.log')); // the one appends went to
      const store = await openStore({ kind: 'sqlite', dataDir: dir, segmentSize: 4096 });
      try {
        assert.deepEqual(await store.getRaw(ids[0]!), bodies[0]);
        assert.equal(await store.getRaw(ids[1]!), null);
        assert.equal(await store.getMessage(ids[2]!), null);
        await waitFor('the log lines', () => lines.some((l) => l.includes(`message ${ids[1]}: segment 000002.log, offset 0: segment file missing; answered as not found`)) &&
          lines.some((l) => l.includes(`message ${ids[2]}: segment 000003.log, offset 0: segment file missing`)));
        const next = await saveIndexed(store, incoming(bodies[1]!));
        assert.deepEqual(await store.getRaw(next), bodies[1]);
        assert.ok(existsSync(join(segments, '000004.log')), 'no location the database holds is written again');
        assert.equal((await store.listMessages()).items.length, 4); // still listed: the index is not the log
      } finally {
        await store.close();
      }
    } finally {
      process.stderr.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restores from the log what the database lost (a power loss with synchronous=NORMAL), and cuts a torn tail with a log line', async () => {
    const dir = tempDir();
    try {
      const bodies = [1, 2, 3].map((i) => crlf([`Subject: kept ${i}`, '', `body${i}`]));
      const first = await openStore({ kind: 'sqlite', dataDir: dir });
      const ids: string[] = [];
      for (const b of bodies) ids.push(await saveIndexed(first, incoming(b)));
      assert.equal(await first.setRead(ids[0]!, true), true);
      await first.close();
      // The last two commits never reached the database file: their rows are gone, and the log's end it knows is
      // the end of the first record.
      const side = new Database(join(dir, SQLITE_FILE_NAME));
      const end = side.prepare('SELECT offset + length AS n FROM message_segment ORDER BY seq LIMIT 1').pluck().get() as number;
      const later = side.prepare('SELECT seq FROM messages WHERE id IN (?, ?)').pluck().all(ids[1], ids[2]) as number[];
      for (const seq of later) {
        side.prepare('DELETE FROM messages WHERE seq = ?').run(seq);
        side.prepare('DELETE FROM messages_fts WHERE rowid = ?').run(seq);
        side.prepare('DELETE FROM message_segment WHERE seq = ?').run(seq);
      }
      side.prepare('UPDATE log_state SET segment = 1, offset = ?').run(end);
      side.close();
      // And a record torn by the crash after them: a header whose body never came.
      const torn = Buffer.alloc(40);
      torn.writeUInt32LE(0x314c574d, 0);
      torn.writeUInt32LE(10, 4);
      torn.writeUInt32LE(5000, 8);
      const segment = join(dir, SEGMENTS_DIR_NAME, '000001.log');
      const size = statSync(segment).size;
      appendFileSync(segment, torn);

      const store = await openStore({ kind: 'sqlite', dataDir: dir });
      try {
        assert.equal(store.recovered?.messages, 2);
        assert.deepEqual((await store.listMessages()).items.map((m) => [m.id, m.read]), [[ids[2], false], [ids[1], false], [ids[0], true]]);
        for (const [i, id] of ids.entries()) assert.deepEqual(await store.getRaw(id), bodies[i]);
        assert.equal(statSync(segment).size, size); // the torn tail is cut off
        const next = await store.save(incoming(bodies[0]!));
        assert.deepEqual(await store.getRaw(next), bodies[0]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compacts a sealed segment less than half live: its live records copied forward (same order, same bytes), the segment unlinked', async () => {
    const dir = tempDir();
    try {
      const bodies = Array.from({ length: 8 }, (_, i) => crlf([`Subject: compact ${i}`, '', `body${i} `.repeat(150)]));
      const store = await openStore({ kind: 'sqlite', dataDir: dir, segmentSize: 8192, maxMessages: 0 });
      const ids: string[] = [];
      try {
        for (const b of bodies) ids.push(await saveIndexed(store, incoming(b)));
        const segments = join(dir, SEGMENTS_DIR_NAME);
        const side = new Database(join(dir, SQLITE_FILE_NAME), { readonly: true });
        const inFirst = side.prepare('SELECT count(*) FROM message_segment WHERE segment = 1').pluck().get() as number;
        side.close();
        assert.ok(inFirst >= 4, `${inFirst} records in segment 1`);
        // Delete all but one of segment 1's records: below half live.
        for (const id of ids.slice(1, inFirst)) assert.equal(await store.deleteMessage(id), true);
        await waitFor('segment 1 compacted away', () => !existsSync(join(segments, '000001.log')));
        const kept = [ids[0]!, ...ids.slice(inFirst)];
        assert.deepEqual((await store.listMessages({ limit: 50 })).items.map((m) => m.id), [...kept].reverse());
        for (const id of kept) assert.deepEqual(await store.getRaw(id), bodies[ids.indexOf(id)]);
      } finally {
        await store.close();
      }
      const again = await openStore({ kind: 'sqlite', dataDir: dir, segmentSize: 8192, maxMessages: 0 });
      try {
        assert.deepEqual(await again.getRaw(ids[0]!), bodies[0]);
        assert.equal(again.recovered?.messages, 0); // the copies are known: nothing restored twice
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file from a newer schema', async () => {
    const dir = tempDir();
    try {
      const db = new Database(join(dir, SQLITE_FILE_NAME));
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      db.close();
      await assert.rejects(openStore({ kind: 'sqlite', dataDir: dir }), /newer than this mailwire understands/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pages a from:, to: or subject: search by scanning messages_fields in seq order, reading only the rows that pass', () => {
    const db = new Database(':memory:');
    try {
      migrate(db);
      const plan = (query: string, cursor: 'before' | 'after' | null): string => {
        const sel = searchSelection(parseQuery(query));
        const order = cursor === 'after' ? `AND ${sel.seq} > ? ORDER BY ${sel.seq} ASC` : `${cursor === 'before' ? `AND ${sel.seq} < ?` : ''} ORDER BY ${sel.seq} DESC`;
        const sql = `EXPLAIN QUERY PLAN SELECT m.seq, m.summary FROM ${sel.from} WHERE ${sel.where} ${order} LIMIT 51`;
        const rows = db.prepare(sql).all(...sel.params, ...(cursor === null ? [] : [1])) as { detail: string }[];
        return rows.map((r) => r.detail).join(' | ');
      };
      for (const query of ['from:ann@a.test', 'to:bob', '-subject:lunch', 'from:ann is:unread before:2030-01-01']) {
        for (const cursor of [null, 'before', 'after'] as const) {
          const p = plan(query, cursor);
          assert.match(p, /^(SCAN|SEARCH) f USING COVERING INDEX messages_fields.* \| SEARCH m USING INTEGER PRIMARY KEY/, `${query} (${cursor}): ${p}`);
          assert.doesNotMatch(p, /TEMP B-TREE/, `${query} (${cursor}): ${p}`);
        }
      }
      // A full-text term still drives the scan, the field term then tested on the rows it finds.
      assert.match(plan('lunch from:ann', null), /^SCAN f VIRTUAL TABLE/);
    } finally {
      db.close();
    }
  });
});
