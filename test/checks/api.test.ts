/**
 * The checks over the HTTP API (src/web/routes/checks.ts), through app.fetch on a memory store: answers, refusals
 * (400 naming the parameter, 404 without HTML, 403 cross-site, 404 with a hint when no spam checker is set up, 501
 * without Chromium), and a real screenshot in Debian's Chromium whose remote image is never requested.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MessageChecks } from '../../src/checks/service.js';
import { createEvents } from '../../src/events.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore } from '../../src/store/open.js';
import type { MessageStore } from '../../src/store/types.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { checkRoutes } from '../../src/web/routes/checks.js';
import { PNG_BYTES, crlf, incoming } from '../helpers/mail.js';

const BASE = 'http://mailwire.test';

describe('checks over the API', () => {
  let store: MessageStore;
  let app: WebApp;
  let noChromium: WebApp;
  let checks: MessageChecks;
  let server: Server;
  let remote = '';
  const hits: string[] = [];
  let htmlId = '';
  let textId = '';
  const call = (path: string, init?: RequestInit, on = app): Promise<Response> => on.fetch(new Request(BASE + path, init));

  before(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(req.url === '/gone' ? 404 : 200, { 'content-type': 'image/png' }).end(PNG_BYTES);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    remote = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    store = await openStore({ kind: 'memory', maxMessages: 0 });
    checks = new MessageChecks(store, { allowHosts: ['127.0.0.1'] });
    const web = (c: MessageChecks): WebApp =>
      createWebApp({ store, events: createEvents(), metrics: createMetrics({ processMetrics: false }), uiDir: null, routes: [checkRoutes(c)] });
    app = web(checks);
    noChromium = web(new MessageChecks(store, { chromium: '/nonexistent/chromium' }));
    htmlId = await store.save(incoming(crlf([
      'From: news@n.test', 'To: ivy@i.test', 'Subject: News', 'MIME-Version: 1.0', 'Date: Mon, 7 Dec 2026 18:00:00 +0000',
      'Message-ID: <n1@n.test>', 'Content-Type: multipart/related; boundary="r1"', '', '--r1', 'Content-Type: text/html; charset=utf-8', '',
      `<html><body style="margin:0;background:#fff"><div style="display:flex"><h1>Hello</h1><img src="${remote}/pixel.png">`,
      `<img src="cid:logo@n.test"><a href="${remote}/read">read</a> <a href="${remote}/gone">gone</a></div></body></html>`,
      '--r1', 'Content-Type: image/png', 'Content-ID: <logo@n.test>', 'Content-Transfer-Encoding: base64', '', PNG_BYTES.toString('base64'), '--r1--',
    ])));
    textId = await store.save(incoming(crlf(['From: a@x.test', 'To: b@y.test', 'Subject: plain', '', 'no html'])));
  });
  after(async () => {
    await checks.close();
    await store.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('GET …/checks/html reports features and scores; ?clients= narrows; an unknown client is a 400 naming it', async () => {
    const r = await call(`/api/v1/messages/${htmlId}/checks/html?clients=gmail.*`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { features: { slug: string }[]; clients: { client: string }[]; dataDate: string };
    assert.ok(body.features.some((f) => f.slug === 'css-display-flex'));
    assert.ok(body.clients.every((c) => c.client.startsWith('gmail.')) && body.clients.length > 0);
    const bad = await call(`/api/v1/messages/${htmlId}/checks/html?clients=hotmale.*`);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /"hotmale\.\*" matches no client/);
    const none = await call(`/api/v1/messages/${textId}/checks/html`);
    assert.deepEqual([none.status, await none.json()], [404, { error: { code: 'not_found', message: 'the message has no HTML part' } }]);
    assert.equal((await call('/api/v1/messages/nope/checks/html')).status, 404);
  });

  it('GET …/checks/headers lists what a receiver would trip over', async () => {
    const r = await call(`/api/v1/messages/${textId}/checks/headers`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { findings: { rule: string }[] };
    assert.deepEqual(body.findings.map((f) => f.rule), ['date-missing', 'message-id-missing']);
  });

  it('POST …/checks/links checks each link and image; cross-site requests are refused', async () => {
    const refused = await call(`/api/v1/messages/${htmlId}/checks/links`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(refused.status, 403);
    const r = await call(`/api/v1/messages/${htmlId}/checks/links`, { method: 'POST' });
    const body = (await r.json()) as { links: { url: string; kind: string; status: number | null }[]; errors: number };
    assert.deepEqual(body.links.map((l) => [l.url.slice(remote.length), l.kind, l.status]), [['/read', 'link', 200], ['/gone', 'link', 404], ['/pixel.png', 'image', 200]]);
    assert.equal(body.errors, 1);
  });

  it('POST …/checks/spam without a checker: 404 saying which flag to give', async () => {
    const r = await call(`/api/v1/messages/${htmlId}/checks/spam`, { method: 'POST' });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /--spamd HOST:PORT .* or --rspamd URL/);
  });

  it('GET …/screenshot refuses a bad width or format, a message without HTML, and answers 501 without Chromium', async () => {
    for (const [q, re] of [['width=100', /width must be a whole number of pixels from 200 to 2000, not "100"/], ['format=gif', /format must be png or jpeg, not "gif"/]] as const) {
      const r = await call(`/api/v1/messages/${htmlId}/screenshot?${q}`);
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: { message: string } }).error.message, re);
    }
    assert.equal((await call(`/api/v1/messages/${textId}/screenshot`)).status, 404);
    const r = await call(`/api/v1/messages/${htmlId}/screenshot`, undefined, noChromium);
    assert.equal(r.status, 501);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /no Chromium at --chromium \/nonexistent\/chromium/);
  });

  it('GET …/screenshot renders a PNG at the asked width, without requesting the remote image', async () => {
    const before = hits.length;
    const r = await call(`/api/v1/messages/${htmlId}/screenshot?width=390`);
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('content-type'), 'image/png');
    const png = Buffer.from(await r.arrayBuffer());
    assert.deepEqual(png.subarray(1, 4).toString(), 'PNG');
    assert.equal(png.readUInt32BE(16), 390, 'IHDR width');
    assert.equal(png.readUInt32BE(20), 624, 'IHDR height: the viewport, 1.6 × the width');
    assert.deepEqual(hits.slice(before), [], 'the remote image was blocked');
    const withRemote = await call(`/api/v1/messages/${htmlId}/screenshot?width=390&remote=1`);
    assert.equal(withRemote.status, 200);
    assert.ok(hits.slice(before).includes('/pixel.png'), 'remote=1 lets an allowed host load');
  });
});
