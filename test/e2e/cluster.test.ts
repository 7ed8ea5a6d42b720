/**
 * --workers: SMTP in worker processes, the store and the HTTP API in the primary. Mail sent to the workers is stored
 * once, through the primary, before its 250; the primary's /metrics counts what the workers answered.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { crlf, tempDir } from '../helpers/mail.js';
import { sendSimplified } from '../helpers/send.js';
import { waitForOutput } from '../helpers/wait.js';

describe('the server on several cores', () => {
  it('stores what two SMTP workers accept through the one store, serves it and their metrics, and stops on SIGTERM', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, [
      'bin/mailwire.js', 'server', '--quiet', '--workers', '2', '--port', '0', '--http-port', '0', '--data-dir', dir,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      await waitForOutput('the primary to start the HTTP API', () => out, /HTTP API on/, 20_000);
      const smtpPort = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const api = /HTTP API on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(smtpPort > 0 && api !== undefined, out);
      assert.match(out, /2 SMTP worker processes/);

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

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
      assert.match(out, /mailwire: stopped/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
