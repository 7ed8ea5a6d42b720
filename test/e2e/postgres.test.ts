/**
 * The server on the PostgreSQL store when the database goes away: its connections cut in the middle of a load (every
 * 250'd message kept, every other one refused with a 4xx, serving again without a restart), and the database refusing
 * connections for a while (451 for SMTP, 503 for the API, /healthz saying why, all well again once it is back).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SmtpClient, SmtpReplyError } from '../../src/smtp/client/index.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import { crlf } from '../helpers/mail.js';
import { adminQuery, createTestDatabase, terminateConnections, type TestDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

type Outcome = Readonly<{ subject: string; code: number; text: string }>;

describe('server on the postgres store when the database goes away', () => {
  let db: TestDatabase;
  let service: RunningService;
  let api: string;
  const get = (path: string): Promise<Response> => fetch(api + path);

  before(async () => {
    db = await createTestDatabase();
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'postgres', databaseUrl: db.url, maxMessages: 0 },
      http: { host: '127.0.0.1', port: 0 },
    });
    assert.ok(service.http);
    api = `http://127.0.0.1:${service.http.port}`;
  });
  after(async () => {
    try {
      await service?.close(2000);
    } finally {
      await db?.drop(); // WITH (FORCE): drops it even if a test left it refusing connections
    }
  });

  /** Sends one message on `client`, or on a new connection when the old one broke; the final reply's code and text. */
  async function sendOne(clients: SmtpClient[], slot: number, subject: string): Promise<Outcome> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let client = clients[slot];
      try {
        client ??= clients[slot] = await SmtpClient.open({ host: '127.0.0.1', port: service.smtp.port, timeoutMs: 10_000 });
        const r = await client.send({ from: 'load@a.test', to: ['sink@b.test'], raw: crlf([`Subject: ${subject}`, '', `body of ${subject}`]) });
        return { subject, code: r.reply.code, text: r.reply.lines.join(' ') };
      } catch (e) {
        if (e instanceof SmtpReplyError) return { subject, code: e.reply.code, text: e.reply.lines.join(' ') };
        client?.destroy();
        clients[slot] = undefined as unknown as SmtpClient;
      }
    }
    throw new Error(`could not send ${subject} on three connections`);
  }

  it('keeps every acknowledged message when its connections are cut mid-load, refuses the rest with 4xx, and serves again', async (t) => {
    const outcomes: Outcome[] = [];
    const clients: SmtpClient[] = [];
    const cutAt = [60, 140];
    let cuts = 0;
    try {
      await Promise.all(Array.from({ length: 4 }, async (_, slot) => {
        for (let i = 0; i < 75; i++) {
          if (cuts < cutAt.length && outcomes.length >= (cutAt[cuts] ?? Infinity)) {
            cuts++;
            const ended = await terminateConnections(db.name);
            assert.ok(ended > 0, `cut ${cuts} ended no connection: the server was not connected mid-load`);
          }
          outcomes.push(await sendOne(clients, slot, `load-${slot}-${i}`));
        }
      }));
    } finally {
      for (const c of clients) c?.destroy();
    }
    assert.equal(cuts, 2);
    assert.equal(outcomes.length, 300);
    const stored = outcomes.filter((o) => o.code === 250);
    const refused = outcomes.filter((o) => o.code !== 250);
    t.diagnostic(`${stored.length} acknowledged, ${refused.length} refused around two cuts`);
    for (const o of refused) assert.match(`${o.code} ${o.text}`, /^4\d\d /, `${o.subject} refused without a 4xx`);
    // Serving again without a restart: mail sent after the last cut is taken.
    const after = await sendOne([], 0, 'after-the-cuts');
    assert.equal(after.code, 250, after.text);
    stored.push(after);
    for (const o of stored) {
      const id = /queued as (\S+)/.exec(o.text)?.[1];
      assert.ok(id, `no id in "${o.text}"`);
      const raw = await get(`/api/v1/messages/${id}/raw`);
      assert.equal(raw.status, 200, `${o.subject} (${id}) acknowledged but not stored`);
      assert.match(await raw.text(), new RegExp(`^Subject: ${o.subject}\\r\\n`, 'm'));
    }
    // And each is searchable once indexed.
    let missing = stored;
    await waitFor('every acknowledged message to be listed', async () => {
      const page = (await (await get('/api/v1/messages?limit=1000')).json()) as { messages: { subject: string }[] };
      const listed = new Set(page.messages.map((m) => m.subject));
      missing = stored.filter((o) => !listed.has(o.subject));
      return missing.length === 0;
    }, { deadlineMs: 20_000, everyMs: 50, seen: () => `not listed: ${missing.map((o) => o.subject).join(', ')}` });
  });

  it('answers 451, 503 and a /healthz reason while the database refuses connections, and recovers when it is back', async () => {
    await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    const ended = await terminateConnections(db.name);
    assert.ok(ended > 0, 'the server held no connection to the database to end');
    try {
      const down = await pollHealth((h) => h.status === 503);
      assert.equal(down.body.status, 'unavailable');
      assert.match(String(down.body.store.reason), /^PostgreSQL unavailable: /);
      const refused = await sendOne([], 0, 'while-down');
      assert.equal(refused.code, 451);
      assert.match(refused.text, /^4\.3\.0 /);
      const list = await get('/api/v1/messages');
      assert.equal(list.status, 503);
      const body = (await list.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'store_unavailable');
      assert.match(body.error.message, /^PostgreSQL unavailable: /);
    } finally {
      await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
    }
    const up = await pollHealth((h) => h.status === 200);
    assert.equal(up.body.store.reason, null);
    const taken = await sendOne([], 0, 'back-again');
    assert.equal(taken.code, 250, taken.text);
    assert.equal((await get('/api/v1/messages')).status, 200);
  });

  type Health = { status: number; body: { status: string; store: { reason: string | null } } };
  async function pollHealth(done: (h: Health) => boolean): Promise<Health> {
    let last: Health | undefined;
    return waitFor('/healthz to change', async () => {
      const r = await get('/healthz');
      last = { status: r.status, body: (await r.json()) as Health['body'] };
      return done(last) && last;
    }, { seen: () => JSON.stringify(last) });
  }
});
