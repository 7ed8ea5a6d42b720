/**
 * Two mailwire instances on one PostgreSQL database behind HAProxy (TCP mode, send-proxy-v2, SMTP health checks),
 * acting as one: a client on 127.0.0.5 sends through the balancer; each message is stored once, listed by both
 * instances' APIs, announced on both instances' event streams (so on the one that did not take it), and recorded with
 * the client's address, not HAProxy's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { requireHaproxy, startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';
import { startMailwire, type MailwireProcess } from '../helpers/mailwire-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

const CLIENT = '127.0.0.5';
const COUNT = 40;

type Listed = { id: string; subject: string };
type Detail = { id: string; subject: string; connection: { clientAddress: string } };

/** The ids of `message-stored` events on one instance's /api/v1/events, as they arrive. */
function listenForStored(api: string): { ids: string[]; ready: Promise<void>; stop: () => void } {
  const ids: string[] = [];
  const abort = new AbortController();
  let opened: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => { opened = resolve; });
  void (async () => {
    const r = await fetch(`${api}/api/v1/events`, { signal: abort.signal });
    assert.equal(r.status, 200);
    opened();
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^event: message-stored\ndata: (.*)$/m.exec(event)?.[1];
        if (data !== undefined) ids.push((JSON.parse(data) as { id: string }).id);
      }
    }
  })().catch(() => undefined);
  return { ids, ready, stop: () => abort.abort() };
}

async function listAll(api: string): Promise<Listed[]> {
  const r = await fetch(`${api}/api/v1/messages?limit=1000`);
  assert.equal(r.status, 200);
  return ((await r.json()) as { messages: Listed[] }).messages;
}

/** Resolves when `check` holds, polling; fails loudly with `what()` at the deadline. */
async function until(check: () => boolean | Promise<boolean>, what: () => string, deadlineMs = 20_000): Promise<void> {
  await waitFor('the condition', check, { deadlineMs, everyMs: 25, seen: what });
}

describe('two instances on one PostgreSQL database behind HAProxy', () => {
  before(requireHaproxy);
  let db: TestDatabase;
  let a: MailwireProcess;
  let b: MailwireProcess;
  let lb: RunningHaproxy;
  before(async () => {
    db = await createTestDatabase();
    const args = ['--dialect', 'smtp', '--store', 'postgres', '--database-url', db.url, '--port', '0', '--http-port', '0',
      '--proxy-protocol', '--trusted-proxies', '127.0.0.1'];
    // Started together (one migrates). If one fails to start, the other, when it started, is stopped by after().
    const started = await Promise.allSettled([startMailwire(args), startMailwire(args)]);
    if (started[0].status === 'fulfilled') a = started[0].value;
    if (started[1].status === 'fulfilled') b = started[1].value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    lb = await startHaproxy({ mode: 'tcp', servers: [{ port: a.smtpPort }, { port: b.smtpPort }], proxyProtocol: 'v2', check: 'smtp' });
    await lb.waitForServersUp();
  });
  after(async () => {
    await lb?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('stores each message once, lists it on both, announces it on both, with the client\'s address', async (t) => {
    assert.ok(a.api && b.api);
    const apis = [a.api, b.api] as const;
    const streams = apis.map(listenForStored);
    try {
      await Promise.all(streams.map((s) => s.ready));
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: lb.port, secure: false, ignoreTLS: true, localAddress: CLIENT, name: 'client.test' });
      const queued: string[] = [];
      try {
        // A new connection per message (no pooling), so roundrobin spreads them over both instances.
        await Promise.all(Array.from({ length: 4 }, async (_, slot) => {
          for (let i = slot; i < COUNT; i += 4) {
            const info = await transport.sendMail({ from: 'a@x.test', to: 'b@y.test', subject: `lb ${i}`, text: `message ${i}` });
            const id = /queued as (\S+)/.exec(String(info.response))?.[1];
            assert.ok(id, info.response);
            queued.push(id);
          }
        }));
      } finally {
        transport.close();
      }
      // How the balancer split them: its count of connections per server (health checks are not counted there).
      const split = await lb.stats();
      t.diagnostic(`HAProxy connections: ${split.map((s) => `${s.name} ${s.sessions}`).join(', ')}`);
      assert.equal(split.length, 2);
      assert.ok(split.every((s) => s.sessions > 0), 'the balancer gave both instances mail');
      assert.equal(new Set(queued).size, COUNT);

      for (const api of apis) {
        await until(async () => (await listAll(api)).length >= COUNT, () => `${api} lists fewer than ${COUNT}`);
        const listed = await listAll(api);
        assert.deepEqual(listed.map((m) => m.id).sort(), [...queued].sort(), `${api} lists each message once`);
      }
      for (const [i, s] of streams.entries()) {
        await until(() => s.ids.length >= COUNT, () => `instance ${i === 0 ? 'a' : 'b'} announced ${s.ids.length} of ${COUNT}`);
        assert.deepEqual([...s.ids].sort(), [...queued].sort(), 'announced each message once');
      }
      for (const id of queued) {
        const detail = (await (await fetch(`${apis[queued.indexOf(id) % 2]}/api/v1/messages/${id}`)).json()) as Detail;
        assert.equal(detail.connection.clientAddress, CLIENT);
      }
    } finally {
      for (const s of streams) s.stop();
    }
  });
});
