/**
 * Real headless Chromium against the real service: a page from another origin (127.0.0.2, another port) tries every
 * method with fetch, form posts and a beacon against the API; a name rebound to 127.0.0.1 tries to read the mail; and
 * the UI works behind HTTP Basic once the browser has the credentials. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { createPasswordCheck } from '../../src/credentials.js';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import type { MessageStore } from '../../src/store/types.js';
import { CHROMIUM_ARGS, chromiumPath } from '../helpers/browser.js';
import { createCaptureSink } from '../helpers/capture-sink.js';
import { sendRaw } from '../helpers/smtp-send.js';
import { startTestServer } from '../helpers/socket-driver.js';
import { crlf } from '../helpers/mail.js';
import { waitFor } from '../helpers/wait.js';

// The page functions below run in the browser; the tests compile without the DOM library, so these stand in.
declare const window: Record<string, unknown>;

type Attempt = { what: string; readable?: boolean; status?: number; text?: string; error?: string };

/** The attacker's page: every method, mode and body type against the API, then form posts and a beacon. */
const ATTACK_PAGE = `<!doctype html><meta charset="utf-8"><title>attacker</title><body><script>
(async () => {
  const q = new URLSearchParams(location.search);
  const api = q.get('api'), id = q.get('id');
  const attempts = [];
  const paths = ['/api/v1/messages', '/api/v1/messages?query=subject:secret', '/api/v1/messages/' + id,
    '/api/v1/messages/' + id + '/release', '/api/v1/messages/' + id + '/raw', '/api/v1/sessions'];
  const body = JSON.stringify({ read: true, to: ['thief@evil.test'] });
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    for (const path of paths) {
      for (const mode of ['cors', 'no-cors']) {
        for (const type of [null, 'text/plain', 'application/json', 'application/x-www-form-urlencoded']) {
          const what = method + ' ' + path + ' ' + mode + ' ' + type;
          const init = { method, mode, credentials: 'include', headers: type ? { 'content-type': type } : {} };
          if (method !== 'GET' && method !== 'HEAD') init.body = body;
          try {
            const r = await fetch(api + path, init);
            let text = '';
            try { text = await r.text(); } catch (e) { text = 'unreadable: ' + e; }
            attempts.push({ what, readable: r.type !== 'opaque', status: r.status, text: text.slice(0, 200) });
          } catch (e) {
            attempts.push({ what, error: String(e) });
          }
        }
      }
    }
  }
  // Form posts (no preflight, any origin may send them), each into a frame of its own.
  const forms = [
    ['text/plain', '/api/v1/messages/' + id + '/release', '{"to":["thief@evil.test"],"x":"', '"}'],
    ['application/x-www-form-urlencoded', '/api/v1/messages/' + id + '/release', 'to', 'thief@evil.test'],
    ['text/plain', '/api/v1/messages/' + id, '{"read":true,"x":"', '"}'],
    ['multipart/form-data', '/api/v1/messages', 'query', ''],
  ];
  await Promise.all(forms.map(([enctype, path, name, value], i) => new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.name = 'f' + i;
    document.body.append(frame);
    const form = document.createElement('form');
    Object.assign(form, { method: 'post', action: api + path, enctype, target: frame.name });
    const input = document.createElement('input');
    Object.assign(input, { name, value });
    form.append(input);
    document.body.append(form);
    frame.addEventListener('load', () => {
      let text = null;
      try { text = frame.contentDocument && frame.contentDocument.body.innerText; } catch (e) { /* cross-origin: as it should be */ }
      attempts.push({ what: 'form ' + enctype + ' ' + path, readable: text !== null, text: String(text).slice(0, 200) });
      resolve();
    }, { once: true });
    form.submit();
  })));
  navigator.sendBeacon(api + '/api/v1/messages/' + id + '/release', new Blob([body], { type: 'text/plain' }));
  window.attempts = attempts;
})();
</script>`;

/**
 * How many of the page's state-changing requests must reach the API (29 with Chromium 156 here, all 403: the simple
 * POSTs, the forms and the beacon; the others stop at CORS in the browser).
 */
const MIN_ANSWERED = 20;

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Waits until every request the context started has finished or failed (so a late beacon is counted). */
function trackRequests(context: BrowserContext): () => Promise<void> {
  let started = 0;
  let ended = 0;
  context.on('request', () => void started++);
  context.on('requestfinished', () => void ended++);
  context.on('requestfailed', () => void ended++);
  return async () => {
    await waitFor('every request the page started to end', () => ended >= started, { everyMs: 25, seen: () => `${started - ended} still open` });
    assert.equal(ended, started);
  };
}

describe('a page from another origin, in Chromium, against the API', () => {
  const relayed = createCaptureSink();
  let relayTarget: Awaited<ReturnType<typeof startTestServer>>;
  let service: RunningService;
  let attacker: Server;
  let browser: Browser;
  let api = '';
  let attackerUrl = '';
  let apiPort = 0;
  let ids: string[] = [];

  before(async () => {
    relayTarget = await startTestServer({ sink: relayed, dialect: smtpDialect });
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory', dataDir: '', maxMessages: 0 },
      http: { host: '127.0.0.1', port: 0 },
      relay: { server: { host: '127.0.0.1', port: relayTarget.server.port } },
    });
    assert.ok(service.http, String(service.httpError));
    apiPort = service.http.port;
    api = `http://127.0.0.1:${apiPort}`;
    for (const n of [1, 2]) await sendRaw(service.smtp.port, 'ann@a.test', 'bob@b.test', crlf([`Subject: secret ${n}`, '', `the secret number ${n}`]));
    const page = (await (await fetch(`${api}/api/v1/messages`)).json()) as { messages: { id: string }[] };
    ids = page.messages.map((m) => m.id);
    assert.equal(ids.length, 2);
    attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ATTACK_PAGE));
    attackerUrl = `http://127.0.0.2:${await listen(attacker, '127.0.0.2')}/`;
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      // rebind.test resolves to 127.0.0.1, as an attacker's name does after DNS rebinding.
      args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
      headless: true,
      timeout: 30_000,
    });
  });
  after(async () => {
    await browser?.close();
    attacker?.close();
    await service?.close();
    await relayTarget?.server.close(2000);
  });

  it('deletes, marks and releases nothing, and reads nothing', async (t) => {
    const context = await browser.newContext();
    context.setDefaultTimeout(30_000);
    const settled = trackRequests(context);
    // What reached the API and what it answered (preflights aside): proof the attack was tried on the server itself.
    const answered: { what: string; status: number }[] = [];
    context.on('response', (r) => {
      const method = r.request().method();
      if (r.url().startsWith(`${api}/`) && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
        answered.push({ what: `${method} ${r.url().slice(api.length)} ${r.request().headers()['content-type'] ?? 'untyped'}`, status: r.status() });
      }
    });
    const page = await context.newPage();
    await page.goto(`${attackerUrl}?api=${encodeURIComponent(api)}&id=${encodeURIComponent(ids[0] ?? '')}`);
    await page.waitForFunction(() => Array.isArray(window['attempts']), undefined, { timeout: 60_000 });
    const attempts = (await page.evaluate(() => window['attempts'])) as Attempt[];
    await settled();
    await context.close();

    assert.equal(attempts.length, 6 * 6 * 2 * 4 + 4);
    const statuses = new Map<number, number>();
    for (const a of answered) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    t.diagnostic(`state-changing requests answered by the API: ${answered.length} (${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')})`);
    assert.deepEqual(answered.filter((a) => a.status !== 403 && a.status !== 415), [], 'answered other than 403/415');
    assert.ok(answered.length >= MIN_ANSWERED, `only ${answered.length} state-changing requests reached the API: ${JSON.stringify(answered)}`);
    const read = attempts.filter((a) => a.readable === true);
    assert.deepEqual(read, [], 'the other origin read an answer');
    assert.ok(!attempts.some((a) => (a.text ?? '').includes('secret')), 'mail text reached the other origin');

    const store = service.store as MessageStore;
    const left = await store.listMessages({ query: '', limit: 10, cursor: null });
    assert.deepEqual(left.items.map((m) => [m.id, m.read]).sort(), ids.map((id) => [id, false]).sort(), 'a message was deleted or marked');
    assert.deepEqual(relayed.messages, [], 'a message was released');
  });

  it('serves nothing to a name rebound to 127.0.0.1 (DNS rebinding)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const r = await page.goto(`http://rebind.test:${apiPort}/api/v1/messages`);
    assert.equal(r?.status(), 403);
    assert.doesNotMatch(await page.content(), /secret/);
    await context.close();
  });
});

describe('the web UI behind HTTP Basic, in Chromium', () => {
  let service: RunningService;
  let browser: Browser;
  let base = '';
  before(async () => {
    // bcrypt of "hunter2", cost 4 (the same form as `htpasswd -nbB -C 4 ops hunter2` writes).
    const users = createPasswordCheck([{ user: 'ops', bcryptHash: '$2y$04$kbAcPFpgh5u51KWUb7Ie.OPBLlpwDbvHpIrq8luf88xWpywnVNu/.' }]);
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory', dataDir: '', maxMessages: 0 },
      http: { host: '127.0.0.1', port: 0, users },
    });
    assert.ok(service.http, String(service.httpError));
    base = `http://127.0.0.1:${service.http.port}`;
    browser = await chromium.launch({ executablePath: chromiumPath(), args: [...CHROMIUM_ARGS], headless: true, timeout: 30_000 });
  });
  after(async () => {
    await browser?.close();
    await service?.close();
  });

  it('is refused without the login, and with it shows mail arriving live (fetch and EventSource carry the credentials)', async () => {
    assert.equal((await fetch(`${base}/`)).status, 401);
    const anonymous = await browser.newContext();
    // Chromium turns a 401 it has no credentials for into this error (it would ask the user).
    await assert.rejects((await anonymous.newPage()).goto(`${base}/`), /ERR_INVALID_AUTH_CREDENTIALS/);
    await anonymous.close();

    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: 'hunter2' } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    assert.equal((await page.goto(`${base}/`))?.status(), 200);
    await page.getByText('No mail yet').waitFor();
    await page.locator('.live.open').waitFor(); // the event stream is up
    await sendRaw(service.smtp.port, 'ann@a.test', 'bob@b.test', crlf(['Subject: behind the login', '', 'hello']));
    await page.locator('.list-scroll .row', { hasText: 'behind the login' }).waitFor();
    await context.close();
  });
});
