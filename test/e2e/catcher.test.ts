/**
 * The mail catcher end to end: mail sent over real SMTP to the real server, read back over real HTTP, and the
 * durability promise checked by killing the server process right after its 250.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import { openStore } from '../../src/store/open.js';
import { SmtpConnection } from '../../src/smtp/client/connection.js';
import { MULTIPART, PDF_BYTES, SIMPLE, crlf, tempDir } from '../helpers/mail.js';
import { sendSimplified } from '../helpers/send.js';
import { waitFor } from '../helpers/wait.js';

type Page = { messages: { id: string; subject: string; read: boolean; envelope: { to: string[] } }[]; nextCursor: string | null };

describe('catcher over real SMTP and real HTTP', () => {
  let dir: string;
  let service: RunningService;
  let api: string;
  let smtpPort: number;
  const get = (path: string, init?: RequestInit): Promise<Response> => fetch(api + path, init);
  const page = async (path: string): Promise<Page> => (await (await get(path)).json()) as Page;

  before(async () => {
    dir = tempDir();
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'sqlite', dataDir: dir, maxMessages: 0 },
      http: { host: '127.0.0.1', port: 0 },
    });
    assert.ok(service.http);
    api = `http://127.0.0.1:${service.http.port}`;
    smtpPort = service.smtp.port;
  });
  after(async () => {
    await service.close(2000);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Lists `query` once it has `n` messages (each test sends its own mail and reads only its own recipients). */
  const listed = async (query: string, n: number): Promise<Page> => {
    let seen = 0;
    return waitFor(`${n} messages searchable as ${query}`, async () => {
      const p = await page(`/api/v1/messages?query=${encodeURIComponent(query)}`);
      seen = p.messages.length;
      return p.messages.length >= n && p;
    }, { everyMs: 10, seen: () => `${seen} messages` });
  };

  it('stores what SMTP delivered, byte for byte, and lists it newest first with paging', async () => {
    const codes = await sendSimplified(smtpPort, [
      { from: 'ann@a.test', to: 'bob@t1.test', raw: SIMPLE },
      { from: 'gina@g.test', to: 'hank@t1.test', raw: MULTIPART },
      { from: 'ann@a.test', to: 'carl@t1.test', raw: crlf(['Subject: third', '', 'third body']) },
    ]);
    assert.deepEqual(codes, [250, 250, 250]);
    await listed('to:t1.test', 3);
    const first = await page('/api/v1/messages?query=to:t1.test&limit=2');
    assert.deepEqual(first.messages.map((m) => m.subject), ['third', 'Quarterly report']);
    assert.ok(first.nextCursor);
    const second = await page(`/api/v1/messages?query=to:t1.test&limit=2&cursor=${encodeURIComponent(first.nextCursor)}`);
    assert.deepEqual(second.messages.map((m) => m.subject), ['Lunch plans']);
    assert.equal(second.nextCursor, null);

    const lunch = second.messages[0]!;
    const raw = await get(`/api/v1/messages/${lunch.id}/raw`);
    assert.equal(raw.headers.get('content-type')?.split(';')[0], 'message/rfc822');
    assert.deepEqual(Buffer.from(await raw.arrayBuffer()), SIMPLE); // dot-stuffed on the wire, unstuffed in the store
  });

  it('finds BCC\'d mail by its envelope recipient, and serves detail, attachment and sandboxed HTML', async () => {
    assert.deepEqual(await sendSimplified(smtpPort, [
      { from: 'gina@g.test', to: 'report@t2.test', raw: MULTIPART },
      { from: 'ann@a.test', to: 'secret-bcc@t2.test', raw: crlf(['Subject: hidden', '', 'bcc body']) },
    ]), [250, 250]);
    const bcc = await listed('to:secret-bcc@t2.test', 1);
    assert.deepEqual(bcc.messages.map((m) => m.envelope.to), [['secret-bcc@t2.test']]);

    const report = (await listed('to:report@t2.test subject:quarterly', 1)).messages[0]!;
    const detail = (await (await get(`/api/v1/messages/${report.id}`)).json()) as { attachments: { filename: string }[]; text: string };
    assert.deepEqual(detail.attachments.map((a) => a.filename), ['report.pdf', 'logo.png']);
    assert.match(detail.text, /See the report/);
    const pdf = await get(`/api/v1/messages/${report.id}/attachments/0`);
    assert.equal(pdf.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(Buffer.from(await pdf.arrayBuffer()), PDF_BYTES);
    const html = await get(`/api/v1/messages/${report.id}/html`);
    assert.match(html.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.doesNotMatch(await html.text(), /<script/i);
  });

  it('marks read, deletes one, and answers 404 and 400 as JSON', async () => {
    assert.deepEqual(await sendSimplified(smtpPort, [{ from: 'ann@a.test', to: 'lunch@t3.test', raw: SIMPLE }]), [250]);
    const lunch = (await listed('to:lunch@t3.test', 1)).messages[0]!;
    const patched = await get(`/api/v1/messages/${lunch.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"read":true}' });
    assert.equal(patched.status, 200);
    assert.deepEqual((await page('/api/v1/messages?query=to:t3.test%20is:read')).messages.map((m) => m.id), [lunch.id]);
    assert.equal((await get(`/api/v1/messages/${lunch.id}`, { method: 'DELETE' })).status, 204);
    const gone = await get(`/api/v1/messages/${lunch.id}`);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { error: { code: string } }).error.code, 'not_found');
    const bad = await get('/api/v1/messages?query=before:not-a-date');
    assert.equal(bad.status, 400);
  });

  it('a waiting test gets the mail that arrives later, with its links and one-time code', async () => {
    const waiting = get('/api/v1/messages/wait?query=to:late@t4.test&timeout=20');
    // The long-poll is registered before the mail is sent: the server answers only when it is searchable.
    await sendSimplified(smtpPort, [{ from: 'ann@a.test', to: 'late@t4.test', raw: crlf(['Subject: confirm', '', 'Code 771234 at https://x.test/c?t=1']) }]);
    const res = await waiting;
    assert.equal(res.status, 200);
    const body = (await res.json()) as { message: { subject: string }; codes: string[]; links: string[] };
    assert.equal(body.message.subject, 'confirm');
    assert.deepEqual(body.codes, ['771234']);
    assert.deepEqual(body.links, ['https://x.test/c?t=1']);
  });

  it('streams a message-stored event for the message once it is searchable, and records the session with its timed transcript', async () => {
    const controller = new AbortController();
    const events = await get('/api/v1/events', { signal: controller.signal });
    const reader = events.body!.getReader();
    const ended: string[] = [];
    const off = service.events.on('session-ended', ({ id }) => ended.push(id));
    await sendSimplified(smtpPort, [{ from: 'ann@a.test', to: 'sse@t5.test', raw: crlf(['Subject: sse', '', 'x']) }]);
    const id = (await listed('to:sse@t5.test', 1)).messages[0]!.id;
    let text = '';
    for (let i = 0; i < 50 && !text.includes(`event: message-stored\ndata: {"id":"${id}"}\n\n`); i++) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    assert.ok(text.includes(`event: message-stored\ndata: {"id":"${id}"}\n\n`), text);

    // Sessions are recorded when they end, just after the client's QUIT: find this one among those announced.
    type SessionDetail = { end: string; transcript: { dir: string; text: string; responseMs?: number }[] };
    const detail = await waitFor('the session to be announced', async () => {
      for (const sid of ended) {
        const d = (await (await get(`/api/v1/sessions/${sid}`)).json()) as SessionDetail;
        if (d.transcript.some((l) => l.text === 'RCPT TO: <sse@t5.test>')) return d;
      }
      return undefined;
    }).finally(off);
    assert.equal(detail.end, 'quit');
    const lines = detail.transcript.filter((l) => l.dir !== 'info').map((l) => l.text);
    assert.deepEqual(lines.slice(0, 3), ['220 127.0.0.1 mailwire Simplified SMTP service ready', 'HELO a.test', '250 127.0.0.1 Hello 127.0.0.1']);
    assert.ok(detail.transcript.filter((l) => l.dir === 'server').every((l) => typeof l.responseMs === 'number'));
  });

  it('counts messages and command response times in /metrics, shows the index backlog, and deletes by query', async () => {
    const value = (text: string, name: string): number => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const before = await (await get('/metrics')).text();
    assert.deepEqual(await sendSimplified(smtpPort, [
      { from: 'metrics@t6.test', to: 'm1@t6.test', raw: crlf(['Subject: m1', '', 'x']) },
      { from: 'metrics@t6.test', to: 'm2@t6.test', raw: crlf(['Subject: m2', '', 'x']) },
    ]), [250, 250]);
    await listed('from:metrics@t6.test', 2);
    const after = await (await get('/metrics')).text();
    assert.equal(value(after, 'mailwire_messages_stored_total') - value(before, 'mailwire_messages_stored_total'), 2);
    assert.equal(value(after, 'mailwire_command_response_seconds_count{verb="HELO"}') - value(before, 'mailwire_command_response_seconds_count{verb="HELO"}'), 2);
    assert.ok(value(after, 'mailwire_index_backlog') >= 0 && value(after, 'mailwire_index_lag_seconds') >= 0);
    const health = (await (await get('/healthz')).json()) as { status: string; store: { ok: boolean } };
    assert.equal(health.status, 'ok');
    const del = await get('/api/v1/messages?query=from:metrics@t6.test', { method: 'DELETE' });
    assert.equal(((await del.json()) as { deleted: number }).deleted, 2);
    assert.deepEqual((await page('/api/v1/messages?query=from:metrics@t6.test')).messages, []);
  });
});

describe('durability', () => {
  // What this shows: the commit happened before the 250, so a crash of the process loses nothing acknowledged. That
  // the commit was fsync'd (a crash of the machine too) is shown where it is made: test/store/sqlite.test.ts checks that
  // every save is answered after its record was fdatasync'd in the segment log. The crash between the commit and the index
  // is test/e2e/ingest.test.ts.
  it('a message acknowledged with 250 survives SIGKILL of the server right after', async () => {
    const dir = tempDir();
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, ['bin/mailwire.js', 'server', '--quiet', '--port', '0', '--no-http', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      await waitFor('the server to say where it listens', () => /listening on/.test(out), { deadlineMs: 30_000, seen: () => out });
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      const body = crlf(['Subject: must survive', '', 'acknowledged means on disk']);
      const { connection } = await SmtpConnection.connect({ host: '127.0.0.1', port });
      for (const line of ['HELO a.test', 'MAIL FROM: <a@a.test>', 'RCPT TO: <b@b.test>', 'DATA']) await connection.command(line);
      const done = await connection.send('message', Buffer.concat([body, Buffer.from('.\r\n')]));
      assert.equal(done.reply.code, 250);
      child.kill('SIGKILL'); // no shutdown, no flush: only what was committed before the 250 is there
      await once(child, 'exit');
      connection.close();

      const store = await openStore({ kind: 'sqlite', dataDir: dir }); // indexes what the killed run had not yet
      try {
        const listed = await store.listMessages({});
        assert.equal(listed.items.length, 1);
        assert.deepEqual(await store.getRaw(listed.items[0]!.id), body);
      } finally {
        await store.close();
      }
    } finally {
      if (child?.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('release to a configured relay', () => {
  it('sends a stored message on to the relay only, recording the session; 409 without a relay, 400 and 404 as JSON', async () => {
    const { smtpDialect } = await import('../../src/smtp/core/dialects/smtp.js');
    const smtp = { host: '127.0.0.1', port: 0, limits: resolveLimits(), display: quietDisplay };
    const relayTarget = await startService({ smtp: { ...smtp, dialect: smtpDialect }, store: { kind: 'memory' }, http: null });
    const withRelay = await startService({
      smtp: { ...smtp, dialect: simplifiedDialect }, store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0 },
      relay: { server: { host: '127.0.0.1', port: relayTarget.smtp.port } },
    });
    const withoutRelay = await startService({ smtp: { ...smtp, dialect: simplifiedDialect }, store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0 } });
    try {
      const body = crlf(['Subject: release me', '', 'held for review']);
      await sendSimplified(withRelay.smtp.port, [{ from: 'ann@a.test', to: 'bob@b.test', raw: body }]);
      await sendSimplified(withoutRelay.smtp.port, [{ from: 'ann@a.test', to: 'bob@b.test', raw: body }]);
      const api = (s: RunningService): string => `http://127.0.0.1:${s.http?.port}`;
      const idOf = async (s: RunningService): Promise<string> =>
        ((await (await fetch(`${api(s)}/api/v1/messages`)).json()) as Page).messages[0]!.id;
      const release = (s: RunningService, id: string, json: unknown): Promise<Response> =>
        fetch(`${api(s)}/api/v1/messages/${id}/release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });

      const refused = await release(withoutRelay, await idOf(withoutRelay), { to: ['carol@c.test'] });
      assert.equal(refused.status, 409);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'relay_not_configured');

      const id = await idOf(withRelay);
      assert.equal((await release(withRelay, id, { to: ['not an address'] })).status, 400);
      assert.equal((await release(withRelay, 'no-such-id', { to: ['carol@c.test'] })).status, 404);

      const ok = await release(withRelay, id, { to: ['carol@c.test', 'dan@c.test'] });
      const result = (await ok.json()) as { released: boolean; result: string; transcript: string[]; sessionId: string };
      assert.equal(ok.status, 200);
      assert.equal(result.released, true);
      assert.match(result.result, /^250 /);
      assert.ok(result.transcript.includes('-> RCPT TO:<dan@c.test>'), result.transcript.join('\n'));

      const store = relayTarget.store as import('../../src/store/types.js').MessageStore;
      const caught = (await store.listMessages({})).items;
      assert.equal(caught.length, 1);
      assert.deepEqual(caught[0]!.envelope.to, ['carol@c.test', 'dan@c.test']);
      assert.equal(caught[0]!.envelope.from, 'ann@a.test');
      const relayed = (await store.getRaw(caught[0]!.id))!.toString('latin1');
      assert.equal(relayed.replace(/^Received: [^\r]*\r\n(?:\t[^\r]*\r\n)*/, ''), body.toString('latin1'));

      const session = (await (await fetch(`${api(withRelay)}/api/v1/sessions/${result.sessionId}`)).json()) as { transcript: { dir: string; text: string }[] };
      assert.match(session.transcript[0]!.text, /^release of message .+ to 127\.0\.0\.1:\d+: carol@c\.test, dan@c\.test$/);
    } finally {
      await Promise.all([withRelay.close(1000), withoutRelay.close(1000), relayTarget.close(1000)]);
    }
  });
});
