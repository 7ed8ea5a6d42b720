/**
 * The link check against local HTTP servers: statuses, HEAD refused then GET, redirect chains, a timeout, and at most
 * two requests at a time to one host.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LinkChecker } from '../../src/checks/links.js';
import { messageUrls } from '../../src/checks/service.js';
import { OutboundGuard } from '../../src/net/outbound-guard.js';

describe('link check', () => {
  let server: Server;
  let base = '';
  let inFlight = 0;
  let maxInFlight = 0;
  const methods: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '';
      const counted = url.startsWith('/wait'); // the one host's requests the concurrency test counts
      if (counted) maxInFlight = Math.max(maxInFlight, ++inFlight);
      methods.push(`${req.method ?? ''} ${url}`);
      const finish = (status: number, headers: Record<string, string> = {}): void => {
        res.writeHead(status, headers);
        res.end();
        if (counted) inFlight--;
      };
      if (url === '/missing') return finish(404);
      if (url === '/no-head') return finish(req.method === 'HEAD' ? 405 : 200);
      if (url === '/a') return finish(301, { location: '/b' });
      if (url === '/b') return finish(302, { location: '/ok' });
      if (url === '/slow') return void setTimeout(() => finish(200), 2_000);
      if (url.startsWith('/wait')) return void setTimeout(() => finish(200), 50);
      finish(200);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const guard = (): OutboundGuard => new OutboundGuard({ allowHosts: ['127.0.0.1'], lookup: async () => [] });

  it('reports each link with its status, final URL and redirects', async () => {
    const checker = new LinkChecker({ guard: guard(), timeoutMs: 500 });
    const r = await checker.check([
      { url: `${base}/ok`, kind: 'link' }, { url: `${base}/missing`, kind: 'link' }, { url: `${base}/a`, kind: 'image' },
      { url: `${base}/no-head`, kind: 'link' }, { url: `${base}/slow`, kind: 'link' },
    ]);
    const brief = r.links.map((l) => ({ url: l.url.slice(base.length), kind: l.kind, status: l.status, ok: l.ok, finalUrl: l.finalUrl.slice(base.length), redirects: l.redirects, error: l.error }));
    assert.deepEqual(brief, [
      { url: '/ok', kind: 'link', status: 200, ok: true, finalUrl: '/ok', redirects: 0, error: null },
      { url: '/missing', kind: 'link', status: 404, ok: false, finalUrl: '/missing', redirects: 0, error: 'answered 404' },
      { url: '/a', kind: 'image', status: 200, ok: true, finalUrl: '/ok', redirects: 2, error: null },
      { url: '/no-head', kind: 'link', status: 200, ok: true, finalUrl: '/no-head', redirects: 0, error: null },
      { url: '/slow', kind: 'link', status: null, ok: false, finalUrl: '/slow', redirects: 0, error: 'no answer within 500 ms' },
    ]);
    assert.equal(r.errors, 2);
    assert.ok(methods.includes('HEAD /no-head') && methods.includes('GET /no-head'), 'GET after HEAD was refused');
  });

  it('sends at most two requests at a time to one host, and caches answers', async () => {
    maxInFlight = 0;
    const checker = new LinkChecker({ guard: guard() });
    const urls = Array.from({ length: 10 }, (_, i) => ({ url: `${base}/wait${i}`, kind: 'link' as const }));
    const started = performance.now();
    const r = await checker.check(urls);
    const ms = performance.now() - started;
    assert.equal(r.errors, 0);
    assert.equal(maxInFlight, 2);
    assert.ok(ms >= 5 * 50 - 10, `10 links of 50 ms, 2 at a time, took ${ms.toFixed(0)} ms`);
    const count = methods.length;
    await checker.check(urls.slice(0, 3));
    assert.equal(methods.length, count, 'a second check within 60 s asks nobody');
  });

  it('takes the links of the text and HTML, and the HTML images, each once', () => {
    const html = '<p><a href="https://a.test/x">x</a><img src="https://img.test/p.png"><img src="cid:logo"><a href="mailto:q@x.test">m</a></p>';
    assert.deepEqual(messageUrls('see https://a.test/x and https://b.test/y', html), [
      { url: 'https://a.test/x', kind: 'link' }, { url: 'https://b.test/y', kind: 'link' }, { url: 'https://img.test/p.png', kind: 'image' },
    ]);
  });
});
