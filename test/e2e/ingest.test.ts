/**
 * The ingest path end to end (issue 11): what the 250 promises across a crash between the commit and the index, and
 * what a client is told when the store cannot take its message (451 past the deadline, 452 when there is no room),
 * with the session going on.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SmtpConnection } from '../../src/smtp/client/connection.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService } from '../../src/service.js';
import { openStore } from '../../src/store/open.js';
import type { MessageStore } from '../../src/store/types.js';
import { crlf, tempDir } from '../helpers/mail.js';
import { waitFor } from '../helpers/wait.js';

/** Starts `mailwire server` and waits (bounded) until it prints what `ready` matches. */
async function startChild(args: readonly string[], ready: RegExp): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, ['bin/mailwire.js', 'server', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await waitFor(`${ready} in the server's output`, () => ready.test(out) || child.exitCode !== null, { deadlineMs: 30_000 }).catch(() => undefined);
  if (!ready.test(out)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    assert.fail(`the server did not start (no ${ready} in its output): ${out}`);
  }
  return { child, out: () => out };
}

const reply = (e: { reply: { code: number; lines: readonly string[] } }): string => `${e.reply.code} ${e.reply.lines.join(' ')}`;

/** One message in an open smtp-dialect session; resolves with the reply to its end of data. */
async function sendOne(c: SmtpConnection, to: string, body: Buffer): Promise<string> {
  for (const line of ['MAIL FROM:<a@a.test>', `RCPT TO:<${to}>`, 'DATA']) await c.command(line);
  return reply(await c.send('message', Buffer.concat([body, Buffer.from('.\r\n')])));
}

describe('crash between the commit and the index', () => {
  it('every message acknowledged before a SIGKILL is there after the restart, readable, searchable and announced once', async () => {
    const dir = tempDir();
    let child: ChildProcess | undefined;
    try {
      // The indexer held still: what is acknowledged is durable but not yet searchable when the process is killed.
      const first = await startChild(['--quiet', '--port', '0', '--dialect', 'smtp', '--http-port', '0', '--data-dir', dir, '--test-pause-indexer'], /HTTP API on/);
      child = first.child;
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(first.out())?.[1]);
      const api = /HTTP API on (http:\/\/127\.0\.0\.1:\d+)/.exec(first.out())?.[1] ?? '';
      const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port });
      await connection.command('EHLO a.test');
      const bodies = [0, 1, 2].map((i) => crlf([`Subject: crash survivor ${i}`, '', `word${i} kept across the crash`]));
      const ids: string[] = [];
      for (const body of bodies) {
        const answer = await sendOne(connection, 'crash@b.test', body);
        const id = /^250 2\.0\.0 OK: queued as (\S+)$/.exec(answer)?.[1];
        assert.ok(id, answer);
        ids.push(id);
      }
      // The window is real: readable by id, not yet listed.
      const raw = await fetch(`${api}/api/v1/messages/${ids[0]}/raw`);
      assert.equal(raw.status, 200);
      assert.ok(Buffer.from(await raw.arrayBuffer()).toString('latin1').endsWith(bodies[0]!.toString('latin1')));
      assert.deepEqual(((await (await fetch(`${api}/api/v1/messages`)).json()) as { messages: unknown[] }).messages, []);
      child.kill('SIGKILL');
      await once(child, 'exit');
      connection.close();

      const second = await startChild(['--quiet', '--port', '0', '--http-port', '0', '--data-dir', dir], /HTTP API on/);
      child = second.child;
      assert.match(second.out(), /^mailwire: indexed 3 messages left from the last run in \d+\.\d s$/m);
      const api2 = /HTTP API on (http:\/\/127\.0\.0\.1:\d+)/.exec(second.out())?.[1] ?? '';
      const listed = (await (await fetch(`${api2}/api/v1/messages?query=to:crash@b.test`)).json()) as { messages: { id: string }[] };
      assert.deepEqual(listed.messages.map((m) => m.id), [...ids].reverse());
      const found = (await (await fetch(`${api2}/api/v1/messages?query=word1`)).json()) as { messages: { id: string }[] };
      assert.deepEqual(found.messages.map((m) => m.id), [ids[1]]);
      child.kill('SIGKILL');
      await once(child, 'exit');

      // Indexed (and announced) by that start, so nothing is left for the next one to announce again.
      const store = await openStore({ kind: 'sqlite', dataDir: dir });
      const announced: string[] = [];
      store.onIndexed((m) => announced.push(m.id));
      try {
        assert.equal(store.recovered?.messages, 0);
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(announced, []);
        for (const [i, id] of ids.entries()) assert.ok((await store.getRaw(id))?.toString('latin1').endsWith(bodies[i]!.toString('latin1')));
      } finally {
        await store.close();
      }
    } finally {
      if (child?.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SIGKILL during a burst (issue 31: the segment log)', () => {
  it('every message acknowledged before the kill is there after the restart, byte-exact; none appears twice', async () => {
    const dir = tempDir();
    let child: ChildProcess | undefined;
    try {
      const first = await startChild(['--quiet', '--port', '0', '--dialect', 'smtp', '--no-http', '--data-dir', dir, '--max-messages', '0'], /listening on/);
      child = first.child;
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(first.out())?.[1]);
      const acked = new Map<string, Buffer>();
      let sent = 0;
      let killed = false;
      // Ten senders, each message unique (its token in the subject and body), until the kill cuts them off.
      const sender = async (c: number): Promise<void> => {
        const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port });
        try {
          await connection.command('EHLO a.test');
          for (let i = 0; i < 500 && !killed; i++) {
            const token = `burst-${c}-${i}`;
            const body = crlf([`Subject: ${token}`, '', `${token} `.repeat(1 + ((c * 37 + i * 11) % 400))]);
            sent++;
            const answer = await sendOne(connection, 'burst@b.test', body);
            const id = /^250 2\.0\.0 OK: queued as (\S+)$/.exec(answer)?.[1];
            if (id !== undefined) acked.set(id, body);
            if (acked.size >= 150 && !killed) {
              killed = true;
              child!.kill('SIGKILL');
            }
          }
        } catch {
          // the connection died with the server
        } finally {
          connection.close();
        }
      };
      await Promise.all(Array.from({ length: 10 }, (_, c) => sender(c)));
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      assert.ok(killed && acked.size >= 150, `acked ${acked.size} of ${sent}`);

      const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
      try {
        for (const [id, body] of acked) {
          const raw = await store.getRaw(id);
          assert.ok(raw !== null, `acknowledged ${id} is missing`);
          // What the server stored is the client's bytes after its own trace header.
          assert.ok(raw.toString('latin1').endsWith(body.toString('latin1')), `acknowledged ${id} differs`);
        }
        const tokens = new Map<string, number>();
        for (let cursor: string | null = null, n = 0; n < 100; n++) {
          const page: Awaited<ReturnType<MessageStore['listMessages']>> = await store.listMessages({ limit: 200, ...(cursor === null ? {} : { cursor }) });
          for (const m of page.items) tokens.set(m.subject, (tokens.get(m.subject) ?? 0) + 1);
          cursor = page.nextCursor;
          if (cursor === null) break;
        }
        assert.ok(tokens.size >= acked.size);
        assert.deepEqual([...tokens].filter(([, n]) => n > 1), [], 'a message stored twice');
      } finally {
        await store.close();
      }
    } finally {
      if (child?.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('when the store cannot take a message', () => {
  const base = { host: '127.0.0.1', port: 0, limits: resolveLimits(), display: quietDisplay };

  it('answers 451 4.3.0 once the store is past its deadline, and the session goes on', async () => {
    const dir = tempDir();
    const service = await startService({
      smtp: { ...base, dialect: simplifiedDialect },
      store: { kind: 'sqlite', dataDir: dir, storeTimeoutMs: 300, testing: { stallCommitsMs: 3000 } },
      http: null,
    });
    try {
      const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port: service.smtp.port });
      for (const line of ['HELO a.test', 'MAIL FROM: <a@a.test>', 'RCPT TO: <b@b.test>', 'DATA']) await connection.command(line);
      const answer = await connection.send('message', Buffer.concat([crlf(['Subject: slow disk', '', 'x']), Buffer.from('.\r\n')]));
      assert.equal(reply(answer), '451 4.3.0 Message not stored; try again later');
      assert.equal(reply(await connection.command('HELO a.test')), '250 127.0.0.1 Hello 127.0.0.1');
      assert.equal(reply(await connection.command('QUIT')), '221 127.0.0.1 closing connection');
      connection.close();
    } finally {
      await service.close(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers 452 4.3.1 when there is no room, the session goes on, and every message acknowledged before is kept', async () => {
    const dir = tempDir();
    const service = await startService({
      smtp: { ...base, dialect: smtpDialect },
      store: { kind: 'sqlite', dataDir: dir, maxMessages: 0, testing: { maxLogBytes: 300_000 } },
      http: null,
    });
    try {
      const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port: service.smtp.port });
      await connection.command('EHLO a.test');
      const stored = new Map<string, Buffer>();
      let refusal = '';
      for (let i = 0; i < 200 && refusal === ''; i++) {
        const body = crlf([`Subject: filler ${i}`, '', 'y'.repeat(20_000)]);
        const answer = await sendOne(connection, 'full@b.test', body);
        const id = /^250 2\.0\.0 OK: queued as (\S+)$/.exec(answer)?.[1];
        if (id === undefined) refusal = answer;
        else stored.set(id, body);
      }
      assert.equal(refusal, '452 4.3.1 Insufficient system storage; try again later');
      assert.ok(stored.size > 0);
      assert.equal(reply(await connection.command('NOOP')), '250 2.0.0 OK');
      assert.equal(reply(await connection.command('MAIL FROM:<a@a.test>')), '250 2.1.0 Sender OK');
      await connection.command('QUIT');
      connection.close();
      const store = service.store as MessageStore;
      for (const [id, body] of stored) assert.ok((await store.getRaw(id))?.toString('latin1').endsWith(body.toString('latin1')), id);
    } finally {
      await service.close(1000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
