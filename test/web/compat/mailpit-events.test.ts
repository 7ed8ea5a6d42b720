/**
 * Mailpit's /api/events WebSocket, with the `ws` client, under /mailpit on the HTTP port and at the root of
 * --mailpit-api-port: `new` with the summary as Mailpit's listing shows it, `delete` with the ID; refused from a page
 * of another origin, for a forged Host, and as a plain GET.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import WebSocket from 'ws';
import { startService } from '../../../src/service.js';
import { smtpDialect } from '../../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../../src/smtp/core/limits.js';
import { quietDisplay } from '../../../src/smtp/server/display.js';

type Service = Awaited<ReturnType<typeof startService>>;
type Event = { Type: string; Data: Record<string, unknown> };
let service: Service;
before(async () => {
  service = await startService({
    smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay },
    store: { kind: 'memory' }, http: { host: '127.0.0.1', port: 0, mailpitApiPort: 0 },
  });
});
after(() => service.close(0));

/** Opens the socket and collects its messages; `next()` resolves with the next one (10 s at most). */
async function connect(url: string): Promise<{ next: () => Promise<Event>; ws: WebSocket }> {
  const ws = new WebSocket(url);
  const queue: Event[] = [];
  let wake: (() => void) | null = null;
  ws.on('message', (data) => {
    queue.push(JSON.parse(String(data)) as Event);
    wake?.();
  });
  await once(ws, 'open');
  const next = async (): Promise<Event> => {
    const deadline = Date.now() + 10_000;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no event within 10 s');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        wake = () => { clearTimeout(t); resolve(); };
      });
      wake = null;
    }
    return queue.shift() as Event;
  };
  return { next, ws };
}

/** The status a refused upgrade gets. */
async function refused(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => {}); // terminate() below, on a socket still connecting, reports one
  const accepted = once(ws, 'open').then(() => 101);
  const answered = once(ws, 'unexpected-response').then(([, res]) => {
    (res as { resume(): void }).resume();
    return (res as { statusCode: number }).statusCode;
  });
  const status = await Promise.race([accepted, answered]);
  ws.terminate();
  return status; // 101: the upgrade was taken
}

describe("Mailpit's /api/events", () => {
  it('sends new (the listing\'s summary) and delete (the ID), under /mailpit and on --mailpit-api-port', async () => {
    const httpPort = service.http?.port ?? 0;
    const ownPort = service.compat?.mailpit?.port ?? 0;
    const a = await connect(`ws://127.0.0.1:${httpPort}/mailpit/api/events`);
    const b = await connect(`ws://127.0.0.1:${ownPort}/api/events`);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: service.smtp.port, secure: false });
    await transport.sendMail({ from: 'Ann <ann@a.test>', to: 'bob@b.test', subject: 'Event me', text: 'hello' });
    transport.close();
    const [ea, eb] = [await a.next(), await b.next()];
    assert.equal(ea.Type, 'new');
    assert.deepEqual(eb, ea);
    const listed = (await (await fetch(`http://127.0.0.1:${httpPort}/mailpit/api/v1/messages`)).json()) as { messages: Record<string, unknown>[] };
    assert.deepEqual(ea.Data, listed.messages[0], 'Data is the summary as the listing shows it');
    assert.equal(ea.Data['Subject'], 'Event me');

    const r = await fetch(`http://127.0.0.1:${httpPort}/mailpit/api/v1/messages`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ IDs: [ea.Data['ID']] }) });
    assert.equal(r.status, 200);
    assert.deepEqual(await a.next(), { Type: 'delete', Data: { ID: ea.Data['ID'] } });
    assert.deepEqual(await b.next(), { Type: 'delete', Data: { ID: ea.Data['ID'] } });
    a.ws.close();
    b.ws.close();
    await Promise.all([once(a.ws, 'close'), once(b.ws, 'close')]);
  });

  it('refuses another origin, a forged Host and a plain GET', async () => {
    const httpPort = service.http?.port ?? 0;
    assert.equal(await refused(`ws://127.0.0.1:${httpPort}/mailpit/api/events`, { Origin: 'https://evil.test' }), 403);
    assert.equal(await refused(`ws://127.0.0.1:${httpPort}/mailpit/api/events`, { Host: 'evil.test' }), 403);
    const plain = await fetch(`http://127.0.0.1:${httpPort}/mailpit/api/events`);
    assert.deepEqual([plain.status, await plain.text()], [400, 'Bad Request: /api/events is a WebSocket (send Upgrade: websocket)']);
    // Same origin (what Mailpit's own page sends) is taken.
    const ok = await connect(`ws://127.0.0.1:${httpPort}/mailpit/api/events`);
    ok.ws.close();
    await once(ok.ws, 'close');
  });
});
