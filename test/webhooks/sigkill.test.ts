/**
 * A SIGKILL in the middle of deliveries (`mailwire server` as a child process, SQLite store): after the restart every
 * event is delivered; repeats (at least once) keep their webhook-id and are counted.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { compose, sendRaw } from '../helpers/smtp-send.js';
import { startMailwire } from '../helpers/mailwire-process.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from './receiver.js';

const SECRET = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
const N = 60;

test('SIGKILL during deliveries: every event is delivered after the restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailwire-webhook-kill-'));
  const receiver = await Receiver.start(SECRET);
  try {
    await receiver.delay(500); // 8 in flight at 500 ms each: the deliveries take a while
    const args = ['--store', 'sqlite', '--data-dir', dir, '--port', '0', '--http-port', '0', '--quiet', '--webhook', receiver.url, '--webhook-secret', SECRET];
    const first = await startMailwire(args);
    for (let i = 0; i < N; i++) {
      const raw = await compose({ from: 'a@example.test', to: 'b@example.test', subject: `m${i}`, text: 'x' });
      await sendRaw(first.smtpPort, 'a@example.test', 'b@example.test', raw);
    }
    const stored = () => receiver.received.filter((r) => r.event === 'message-stored');
    await waitFor('some deliveries made', () => stored().length >= 5);
    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    await exited;
    const beforeKill = new Set(stored().map((r) => r.id)).size;
    assert.ok(beforeKill < N, `killed before all were delivered (${beforeKill} of ${N})`);
    const second = await startMailwire(args);
    try {
      // Done when the outbox says so: those in flight at the SIGKILL (the receiver had them, mailwire never heard its
      // answer) are made again too, rather than waiting out their claim.
      const hooks = (await (await fetch(`${second.api}/api/v1/webhooks`)).json()) as { webhooks: { id: string }[] };
      const hook = hooks.webhooks[0]?.id ?? '';
      const settled = async (): Promise<number> => {
        const list = (await (await fetch(`${second.api}/api/v1/webhooks/${hook}/deliveries?limit=1000`)).json()) as { deliveries: { event: string; state: string }[] };
        return list.deliveries.filter((d) => d.event === 'message-stored' && d.state === 'delivered').length;
      };
      let done = 0;
      await waitFor(`${N} deliveries settled as delivered`, async () => (done = await settled()) === N, { deadlineMs: 30_000, seen: () => done });
      assert.equal(new Set(stored().map((r) => r.id)).size, N);
      const subjects = new Set(stored().map((r) => JSON.parse(r.body.toString()).data.subject as string));
      assert.equal(subjects.size, N, 'every message told of');
      assert.ok(stored().every((r) => r.valid));
      const repeats = stored().length - N;
      console.log(`# delivered ${N} events; ${beforeKill} before the SIGKILL; ${repeats} repeats (same webhook-id)`);
    } finally {
      await second.stop();
    }
  } finally {
    receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
