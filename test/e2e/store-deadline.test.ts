/**
 * The store deadline (src/store/deadline.ts) over real sockets: past --store-timeout a sender gets 451 within the
 * deadline, whatever the store is doing, and a message refused 451 is never stored later (its retry makes no
 * duplicate); /healthz says degraded, with the reason, while saves wait too long.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startServer } from '../../src/smtp/server/server.js';
import { startService } from '../../src/service.js';
import { openStore } from '../../src/store/open.js';
import type { MessageSink } from '../../src/store/types.js';
import { crlf, tempDir } from '../helpers/mail.js';
import { sendSimplified } from '../helpers/send.js';
import { startProgram } from '../helpers/program.js';
import { waitForAsync } from '../helpers/wait.js';
import { createTestDatabase } from '../helpers/postgres.js';
import pg from 'pg';

const message = (subject: string): { from: string; to: string; raw: Buffer } =>
  ({ from: 'ann@a.test', to: 'bob@b.test', raw: crlf([`Subject: ${subject}`, '', 'body']) });

const timed = async <T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> => {
  const t0 = Date.now();
  const value = await f();
  return { value, ms: Date.now() - t0 };
};

describe('the store deadline', () => {
  it('answers 451 at the deadline while the store holds a save, stores nothing of it once the store goes on, and stores its retry once', async () => {
    const store = await openStore({ kind: 'memory' });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // The store is slow to get to this save (a stall before its commit): the memory store takes it only once let go.
    const slow: Omit<MessageSink, 'close'> = {
      save: async (m) => {
        await gate;
        return store.save(m);
      },
      saveSession: (s) => store.saveSession(s),
    };
    const server = await startServer({
      host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay, sink: slow, recordSessions: false,
      storeTimeoutMs: 300,
    });
    try {
      const first = await timed(() => sendSimplified(server.port, [message('first try')]));
      assert.deepEqual(first.value, [451]);
      assert.ok(first.ms < 2000, `451 after ${first.ms} ms`);
      open(); // the store gets to it now, past its deadline: it must leave it out
      assert.deepEqual(await sendSimplified(server.port, [message('retry')]), [250]);
      const page = await store.listMessages();
      assert.deepEqual(page.items.map((m) => m.subject), ['retry']);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it('on SQLite with a stalled writer: 451 within the deadline, /healthz degraded meanwhile with the reason, and the message never stored', async () => {
    const dir = tempDir();
    const service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'sqlite', dataDir: dir, storeTimeoutMs: 1200, testing: { stallCommitsMs: 2000 } },
      http: { host: '127.0.0.1', port: 0 },
    });
    const api = `http://127.0.0.1:${service.http?.port}`;
    try {
      const healthz = async (): Promise<{ code: number; body: { status: string; store: { degraded?: string } } }> => {
        const r = await fetch(`${api}/healthz`);
        return { code: r.status, body: (await r.json()) as { status: string; store: { degraded?: string } } };
      };
      assert.equal((await healthz()).body.status, 'ok');
      const sending = timed(() => sendSimplified(service.smtp.port, [message('stalled')]));
      // Past the threshold (half the deadline here) and before the deadline: the save is still waiting.
      const waiting = await waitForAsync('/healthz to say degraded', async () => {
        const h = await healthz();
        return h.body.status === 'degraded' ? h : undefined;
      }, { deadlineMs: 5000 });
      assert.equal(waiting.code, 503);
      assert.match(waiting.body.store.degraded ?? '', /^a message has waited \d+\.\d s for the store to commit it \(threshold 0\.6 s\)$/);
      const sent = await sending;
      assert.deepEqual(sent.value, [451]);
      assert.ok(sent.ms < 1200 + 1000, `451 after ${sent.ms} ms`);
      const after = await healthz();
      assert.equal(after.code, 503);
      assert.match(after.body.store.degraded ?? '', /^a message was refused \d+\.\d s ago: not stored: the store did not commit the message within 1200 ms$/);
    } finally {
      await service.close(); // the writer wakes, finds the save cut, and leaves it out of its commit
    }
    const again = await openStore({ kind: 'sqlite', dataDir: dir });
    try {
      assert.deepEqual((await again.listMessages()).items, []);
    } finally {
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with --workers: a worker whose primary never answers gives 451 within the deadline, and the primary stores nothing of it later', async () => {
    const dir = tempDir();
    const program = startProgram(['server', '--quiet', '--workers', '2', '--port', '0', '--http-port', '0', '--data-dir', dir, '--store-timeout', '1s']);
    const pid = program.child.pid;
    try {
      const smtpPort = Number((await program.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 30_000))[1]);
      const api = (await program.waitFor(/HTTP API on (http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1];
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGSTOP'); // the primary: the worker still takes connections (the kernel hands them over)
      let sent: { value: number[]; ms: number };
      try {
        sent = await timed(() => sendSimplified(smtpPort, [message('unanswered')]));
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      assert.deepEqual(sent.value, [451]);
      assert.ok(sent.ms < 1000 + 1000, `451 after ${sent.ms} ms`);
      // The primary reads the save now, past its deadline: left out. The retry, after it on the same IPC, is stored.
      assert.deepEqual(await sendSimplified(smtpPort, [message('retry')]), [250]);
      const subjects = async (): Promise<string[]> =>
        ((await (await fetch(`${api}/api/v1/messages`)).json()) as { messages: { subject: string }[] }).messages.map((m) => m.subject);
      await waitForAsync('the retry to be listed', async () => ((await subjects()).includes('retry') ? true : undefined), { deadlineMs: 10_000 });
      assert.deepEqual(await subjects(), ['retry']);
      assert.equal(await program.stop(), 0);
    } finally {
      if (program.child.exitCode === null) program.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on PostgreSQL with its messages table locked: 451 for the save in a statement and the one queued behind it, and neither stored once the lock goes', async () => {
    const db = await createTestDatabase();
    const service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'postgres', databaseUrl: db.url, maxMessages: 0, storeTimeoutMs: 1500 },
      http: null,
    });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE mailwire.messages IN ACCESS EXCLUSIVE MODE'); // a stalled database, for writes
      let sent: { value: number[][]; ms: number };
      try {
        sent = await timed(() => Promise.all([sendSimplified(service.smtp.port, [message('in a transaction')]), sendSimplified(service.smtp.port, [message('queued')])]));
      } finally {
        await locker.query('ROLLBACK');
      }
      assert.deepEqual(sent.value, [[451], [451]]);
      // A save taken into a statement just before its deadline is answered by that statement, which PostgreSQL cancels
      // after statement_timeout (the store timeout): at worst twice the deadline, never a 250 for a message not stored.
      assert.ok(sent.ms < 2 * 1500 + 1500, `451 after ${sent.ms} ms`);
      assert.deepEqual(await sendSimplified(service.smtp.port, [message('retry')]), [250]);
      const rows = await locker.query<{ n: number }>('SELECT count(*)::int AS n FROM mailwire.messages');
      assert.equal(rows.rows[0]?.n, 1);
    } finally {
      await locker.end();
      await service.close();
      await db.drop();
    }
  });
});
