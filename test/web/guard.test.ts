import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEvents } from '../../src/events.js';
import { createPasswordCheck } from '../../src/credentials.js';
import { openStore } from '../../src/store/open.js';
import type { MessageStore } from '../../src/store/types.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { allowedHosts, exposureProblem, hostnameOf, isLoopbackHost } from '../../src/web/guard.js';
import { LoginLimiter } from '../../src/net/login-limiter.js';
import { MULTIPART, crlf, incoming } from '../helpers/mail.js';

type Body = { error?: { code: string; message: string } };

describe('HTTP guard: Host, Origin, content type, size, query cost, headers', () => {
  let store: MessageStore;
  let app: WebApp;
  let id = '';
  const call = async (url: string, init: RequestInit = {}): Promise<[number, Body | null, Response]> => {
    const r = await app.fetch(new Request(url, init));
    const text = await r.clone().text();
    return [r.status, text.startsWith('{') ? (JSON.parse(text) as Body) : null, r];
  };
  const stillThere = async (): Promise<void> => {
    const [status, body] = await call(`http://127.0.0.1/api/v1/messages/${id}`);
    assert.equal(status, 200);
    assert.equal((body as { read?: boolean }).read, false, 'the message was marked read');
  };

  before(async () => {
    store = await openStore({ kind: 'memory', dataDir: '', maxMessages: 0 });
    app = createWebApp({ store, events: createEvents(), uiDir: null, access: { hosts: ['mail.example.test', 'mail.localhost'] } });
    id = await store.save(incoming(MULTIPART));
  });
  after(() => store.close());

  it('serves loopback names and addresses, the allowed hosts, and nothing else (DNS rebinding)', async () => {
    for (const host of ['localhost', 'localhost:8025', 'mail.localhost:8025', '127.0.0.1:8025', '127.9.8.7', '[::1]:8025', 'MAIL.example.test:8025']) {
      const [status] = await call('http://127.0.0.1/api/v1/messages', { headers: { host } });
      assert.equal(status, 200, host);
    }
    // Every *.localhost name is this machine (RFC 6761), so any local app may sit on one: served only when listed.
    for (const host of ['app.localhost', 'app.localhost:8025', 'x.mail.localhost']) {
      const [status, body] = await call('http://127.0.0.1/api/v1/messages', { headers: { host } });
      assert.equal(status, 403, host);
      assert.equal(body?.error?.code, 'host_not_allowed');
    }
    const [status, body] = await call('http://rebound.attacker.test:8025/api/v1/messages');
    assert.equal(status, 403);
    assert.deepEqual(body, { error: { code: 'host_not_allowed', message: 'Host "rebound.attacker.test" is not served here (DNS rebinding protection); start the server with --http-allowed-hosts rebound.attacker.test to allow it' } });
    // The Host header counts even when the URL is ours, and the other way round.
    assert.equal((await call('http://127.0.0.1/api/v1/messages', { headers: { host: 'rebound.attacker.test' } }))[0], 403);
    assert.equal((await call('http://192.168.1.9/', { headers: { host: '127.0.0.1' } }))[0], 403);
  });

  it('refuses state changes from another origin, whatever the method, and changes nothing', async () => {
    for (const origin of ['http://evil.test', 'http://127.0.0.2:8025', 'null']) {
      const headers = { origin, 'content-type': 'application/json' };
      assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'PATCH', headers, body: '{"read":true}' }))[0], 403, origin);
      assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'DELETE', headers: { origin } }))[0], 403, origin);
      assert.equal((await call('http://127.0.0.1/api/v1/messages', { method: 'DELETE', headers: { origin } }))[0], 403, origin);
      const [status, body] = await call(`http://127.0.0.1/api/v1/messages/${id}/release`, { method: 'POST', headers, body: '{"to":["x@y.test"]}' });
      assert.equal(status, 403);
      assert.deepEqual(body, { error: { code: 'cross_origin', message: `POST from another origin (${origin}) is refused` } });
    }
    await stillThere();
    // The same origin may.
    const same = { origin: 'http://127.0.0.1:8025', 'content-type': 'application/json' };
    assert.equal((await call(`http://127.0.0.1:8025/api/v1/messages/${id}`, { method: 'PATCH', headers: same, body: '{"read":false}' }))[0], 200);
  });

  it('refuses a state change the browser marks Sec-Fetch-Site: cross-site, even without an Origin (403)', async () => {
    const [status, body] = await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'DELETE', headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(status, 403);
    assert.deepEqual(body, { error: { code: 'cross_site', message: 'DELETE from another site (Sec-Fetch-Site: cross-site) is refused' } });
    const json = { 'content-type': 'application/json', 'sec-fetch-site': 'Cross-Site' };
    assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'PATCH', headers: json, body: '{"read":true}' }))[0], 403);
    await stillThere();
    // Reading is not a state change; the UI's own requests are same-origin.
    assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, { headers: { 'sec-fetch-site': 'cross-site' } }))[0], 200);
    const own = { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' };
    assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'PATCH', headers: own, body: '{"read":false}' }))[0], 200);
  });

  it('takes only application/json bodies (415), so that a form post or a simple cross-origin request cannot act', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
      const [status, body] = await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'PATCH', headers: { 'content-type': type }, body: '{"read":true}' });
      assert.equal(status, 415, type);
      assert.deepEqual(body, { error: { code: 'unsupported_media_type', message: `a request body must be application/json, not ${JSON.stringify(type)}` } });
    }
    assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}/release`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'to=x@y.test' }))[0], 415);
    await stillThere();
    assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"read":false}' }))[0], 200);
  });

  it('answers 413 for a body over 1 MiB before parsing it, with or without a Content-Length', async () => {
    const big = `{"read":true,"pad":"${'x'.repeat(1024 * 1024)}"}`;
    const headers = { 'content-type': 'application/json', 'content-length': String(big.length) };
    const [status, body] = await call(`http://127.0.0.1/api/v1/messages/${id}`, { method: 'PATCH', headers, body: big });
    assert.equal(status, 413);
    assert.deepEqual(body, { error: { code: 'too_large', message: 'the request body is over 1048576 bytes' } });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(64 * 1024).fill(0x20));
        c.close();
      },
    });
    const init = { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit;
    assert.equal((await call(`http://127.0.0.1/api/v1/messages/${id}`, init))[0], 413);
    await stillThere();
  });

  it('answers 400 for a query that searches for too many words', async () => {
    const words = Array.from({ length: 65 }, (_, i) => `w${i}`).join('.');
    const [status, body] = await call(`http://127.0.0.1/api/v1/messages?query=${words}`);
    assert.equal(status, 400);
    assert.deepEqual(body, { error: { code: 'bad_query', message: 'query searches for 65 words, more than 64' } });
    const ws = words.split('.');
    const sixtyFour = `${ws.slice(0, 32).join('.')} ${ws.slice(32, 64).join('.')}`;
    assert.equal((await call(`http://127.0.0.1/api/v1/messages?query=${encodeURIComponent(sixtyFour)}`))[0], 200);
  });

  it('serves /raw as a sandboxed download and /html framable by the UI alone', async () => {
    const [, , raw] = await call(`http://127.0.0.1/api/v1/messages/${id}/raw`);
    assert.equal(raw.headers.get('content-disposition'), `attachment; filename="${id}.eml"; filename*=UTF-8''${id}.eml`);
    assert.equal(raw.headers.get('content-security-policy'), 'sandbox');
    const htmlId = await store.save(incoming(crlf(['Subject: h', 'Content-Type: text/html', '', '<p>hi</p>'])));
    const [, , html] = await call(`http://127.0.0.1/api/v1/messages/${htmlId}/html`);
    assert.match(html.headers.get('content-security-policy') ?? '', /^sandbox allow-popups allow-popups-to-escape-sandbox; .*; frame-ancestors 'self'$/);
  });
});

describe('which Host names are this machine', () => {
  it('knows loopback names and addresses in their usual spellings, and nothing else', () => {
    for (const h of ['localhost', 'LOCALHOST.', 'a.localhost', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ['localhost.attacker.test', 'mylocalhost', '128.0.0.1', '0.0.0.0', '::', '::2', '10.0.0.1', '127.0.0.1.nip.io', '']) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it('reads the hostname of a Host header, and lists the names served besides loopback', () => {
    assert.deepEqual(['a.test:8025', '[::1]:8025', '[fe80::1]', 'A.Test.', '127.0.0.1'].map(hostnameOf), ['a.test', '::1', 'fe80::1', 'a.test', '127.0.0.1']);
    assert.deepEqual(allowedHosts('0.0.0.0', ['mail.lan', ' box.lan ']), ['mail.lan', 'box.lan']);
    assert.deepEqual(allowedHosts('192.168.1.5', []), ['192.168.1.5']);
    assert.deepEqual(allowedHosts('fd00::5', []), ['fd00::5']);
    assert.deepEqual(allowedHosts('127.0.0.1', []), []);
  });
});

describe('HTTP Basic authentication', () => {
  let store: MessageStore;
  let app: WebApp;
  const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  before(async () => {
    store = await openStore({ kind: 'memory', dataDir: '', maxMessages: 0 });
    // A bcrypt hash of "s3cret" (cost 4), as `htpasswd -nbB -C 4 alice s3cret` writes it.
    const users = createPasswordCheck([{ user: 'alice', bcryptHash: '$2y$04$6Dn/mkzn1k/WBVFt3cE7pOHtIXAAEglhfxAfIGDBtgLDDViUITHgy' }]);
    app = createWebApp({ store, events: createEvents(), uiDir: null, access: { hosts: [], users } });
  });
  after(() => store.close());

  it('asks for credentials, refuses wrong ones, and serves the right ones; /healthz stays open', async () => {
    const get = (headers: Record<string, string> = {}): Promise<Response> => app.fetch(new Request('http://127.0.0.1/api/v1/messages', { headers }));
    const none = await get();
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Basic realm="mailwire", charset="UTF-8"');
    assert.deepEqual(await none.json(), { error: { code: 'unauthorized', message: 'this server needs a user name and password (HTTP Basic)' } });
    for (const [u, p] of [['alice', 's3creT'], ['bob', 's3cret'], ['alice', '']]) {
      const r = await get({ authorization: basic(u ?? '', p ?? '') });
      assert.equal(r.status, 401, `${u}:${p}`);
    }
    assert.equal((await get({ authorization: basic('alice', 's3cret') })).status, 200);
    assert.equal((await get({ authorization: basic('alice', 's3cret') })).status, 200); // remembered
    assert.equal((await app.fetch(new Request('http://127.0.0.1/healthz'))).status, 200);
    assert.equal((await app.fetch(new Request('http://127.0.0.1/metrics'))).status, 401);
  });

  it('answers 429 with Retry-After to a client past its failures, unchecked, and serves another client as before', async () => {
    const limiter = new LoginLimiter({ freeFailures: 3, firstDelayMs: 30_000 });
    const users = createPasswordCheck([{ user: 'alice', bcryptHash: '$2y$04$6Dn/mkzn1k/WBVFt3cE7pOHtIXAAEglhfxAfIGDBtgLDDViUITHgy' }]);
    const guarded = createWebApp({ store, events: createEvents(), uiDir: null, access: { hosts: [], users, limiter } });
    const from = (remoteAddress: string, authorization: string): Promise<Response> =>
      guarded.fetch(new Request('http://127.0.0.1/api/v1/messages', { headers: { authorization } }), { remoteAddress });
    for (let i = 0; i < 3; i++) assert.equal((await from('127.0.0.67', basic('alice', `guess${i}`))).status, 401);
    // The same wrong login again is answered from memory: no check, no new failure.
    assert.equal((await from('127.0.0.67', basic('alice', 'guess0'))).status, 401);
    const refused = await from('127.0.0.67', basic('alice', 's3cret'));
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '30');
    assert.deepEqual(await refused.json(), { error: { code: 'too_many_logins', message: 'too many failed logins from 127.0.0.67; try again in 30 s' } });
    // A new connection is the same client.
    assert.equal((await from('::ffff:127.0.0.67', basic('alice', 'guess9'))).status, 429);
    assert.equal((await from('127.0.0.1', basic('alice', 's3cret'))).status, 200);
  });
});

describe('the exposure rule: who may be served where', () => {
  it('refuses plain-HTTP Basic logins off loopback unless --http-insecure, and an open API off loopback', () => {
    assert.equal(exposureProblem('127.0.0.1', true, false), null);
    assert.equal(exposureProblem('0.0.0.0', true, false, true), null);
    assert.equal(exposureProblem('0.0.0.0', true, true, false), null);
    assert.equal(exposureProblem('0.0.0.0', true, false, false),
      'refusing to take --http-auth-file passwords on 0.0.0.0 over plain HTTP: they would cross the network in clear. ' +
      'Add --http-tls-cert/--http-tls-key or --http-tls-self-signed, or --http-insecure if every host on that network is trusted');
    assert.match(exposureProblem('10.0.0.5', false, false, true) ?? '', /^refusing to serve the HTTP API and UI on 10\.0\.0\.5 without authentication/);
  });
});
