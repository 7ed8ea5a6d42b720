/**
 * --workers: SMTP in worker processes, the store and the HTTP API in the primary. Mail sent to the workers is stored
 * once, through the primary, before its 250; the primary's /metrics counts what the workers answered, and its
 * connectionCount() what they hold.
 */
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { crlf, tempDir } from '../helpers/mail.js';
import { sendSimplified } from '../helpers/send.js';
import { startClusterPrimary } from '../../src/cluster.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { SocketLines } from '../helpers/socket-driver.js';
import { startProgram } from '../helpers/program.js';
import { waitFor } from '../helpers/wait.js';

describe('the server on several cores', () => {
  it('stores what two SMTP workers accept through the one store, serves it and their metrics, and stops on SIGTERM', async () => {
    const dir = tempDir();
    const program = startProgram(['server', '--quiet', '--workers', '2', '--port', '0', '--http-port', '0', '--data-dir', dir]);
    try {
      const smtpPort = Number((await program.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 20_000))[1]);
      const api = (await program.waitFor(/HTTP API on (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1];
      assert.match(program.output(), /2 SMTP worker processes/);

      // Eight connections at once, two messages each: the kernel spreads them over both workers.
      const sent = await Promise.all(Array.from({ length: 8 }, (_, c) => sendSimplified(smtpPort, [0, 1].map((n) => ({
        from: `c${c}@a.test`, to: 'inbox@b.test', raw: crlf([`Subject: c${c} n${n}`, '', `body ${c}/${n}`]),
      })))));
      assert.deepEqual(sent.flat(), Array.from({ length: 16 }, () => 250));

      const page = (await (await fetch(`${api}/api/v1/messages?limit=100`)).json()) as { messages: { subject: string }[] };
      assert.deepEqual(page.messages.map((m) => m.subject).sort(), Array.from({ length: 8 }, (_, c) => [`c${c} n0`, `c${c} n1`]).flat().sort());
      const metrics = await (await fetch(`${api}/metrics`)).text();
      assert.match(metrics, /^mailwire_messages_stored_total 16$/m);
      assert.match(metrics, /^mailwire_command_response_seconds_count\{verb="HELO"\} 16$/m);
      assert.match(metrics, /^mailwire_store_saves 16$/m);

      assert.equal(await program.stop(), 0);
      assert.match(program.output(), /mailwire: stopped/);
    } finally {
      if (program.child.exitCode === null) program.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the cluster primary in this process', () => {
  it('counts the connections its workers hold', async () => {
    // The workers run the CLI, which sees it is a cluster worker and serves with these same settings.
    cluster.setupPrimary({ exec: 'bin/mailwire.js', args: ['server', '--quiet', '--workers', '2', '--port', '0', '--store', 'memory', '--no-http'] });
    const service = await startClusterPrimary({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory' },
      http: null,
    }, 2);
    const clients: SocketLines[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await SocketLines.open(service.smtp.port);
        assert.match((await c.next()) ?? '', /^220 /);
        clients.push(c);
      }
      const count = (): number => service.smtp.connectionCount();
      await waitFor('the workers to report 3 connections', () => count() === 3, { seen: count });
      clients.pop()?.socket.destroy();
      await waitFor('the workers to report 2 connections', () => count() === 2, { seen: count });
    } finally {
      for (const c of clients) c.socket.destroy();
      await service.close(2000);
    }
  });
});
