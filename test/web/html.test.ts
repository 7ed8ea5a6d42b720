import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createEvents } from '../../src/events.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore } from '../../src/store/open.js';
import type { MessageStore } from '../../src/store/types.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { PNG_BYTES, crlf, incoming } from '../helpers/mail.js';

const BASE = 'http://mailwire.test';

/** An HTML mail with a remote image, an inline image by Content-ID and a link. */
const NEWSLETTER = crlf([
  'From: news@n.test', 'To: ivy@i.test', 'Subject: Newsletter', 'MIME-Version: 1.0',
  'Content-Type: multipart/related; boundary="r1"', '', '--r1', 'Content-Type: text/html; charset=utf-8', '',
  '<html><head><title>x</title></head><body><img src="https://tracker.test/p.gif"><img src="cid:Logo@N.test">',
  '<img src="cid:missing@n.test"><a href="https://n.test/read">read</a></body></html>',
  '--r1', 'Content-Type: image/png', 'Content-ID: <logo@n.test>', 'Content-Transfer-Encoding: base64', '', PNG_BYTES.toString('base64'), '--r1--',
]);

describe('HTML preview endpoint', () => {
  let store: MessageStore;
  let app: WebApp;
  let id = '';
  const call = (path: string): Promise<Response> => app.fetch(new Request(BASE + path));

  before(async () => {
    store = await openStore({ kind: 'memory', maxMessages: 0 });
    app = createWebApp({ store, events: createEvents(), metrics: createMetrics({ processMetrics: false }), uiDir: null });
    id = await store.save(incoming(NEWSLETTER));
  });
  after(() => store.close());

  it('blocks remote images by default and resolves cid: to the attachment on this origin', async () => {
    const r = await call(`/api/v1/messages/${id}/html`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /img-src data: http:\/\/mailwire\.test;/);
    assert.doesNotMatch(csp, /https:/);
    const body = await r.text();
    assert.ok(body.includes(`<img src="${BASE}/api/v1/messages/${id}/attachments/0">`), body);
    assert.ok(body.includes('<img src="cid:missing@n.test">'), 'unknown cids stay as written');
    assert.ok(body.startsWith('<html><head><base target="_blank"><title>'), body);
    const png = await call(`/api/v1/messages/${id}/attachments/0`);
    assert.deepEqual(Buffer.from(await png.arrayBuffer()), PNG_BYTES);
  });

  it('lets remote images load when asked with images=remote, and refuses other values', async () => {
    const r = await call(`/api/v1/messages/${id}/html?images=remote`);
    assert.match(r.headers.get('content-security-policy') ?? '', /img-src data: http:\/\/mailwire\.test https: http:;/);
    const bad = await call(`/api/v1/messages/${id}/html?images=all`);
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: { code: 'bad_request', message: 'images must be "blocked" or "remote"' } });
  });
});
