import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEvents } from '../../src/events.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore } from '../../src/store/open.js';
import type { MessageStore } from '../../src/store/types.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { tempDir } from '../helpers/mail.js';

const BASE = 'http://mailwire.test';

describe('serving the built UI', () => {
  let dir: string;
  let store: MessageStore;
  let app: WebApp;
  const call = (path: string, headers: Record<string, string> = {}): Promise<Response> => app.fetch(new Request(BASE + path, { headers }));

  before(async () => {
    dir = tempDir();
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-AbC123.js"></script>');
    writeFileSync(join(dir, 'assets', 'index-AbC123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'assets', 'index-Zz9.css'), 'body{}');
    writeFileSync(join(dir, 'secret.txt'), 'no');
    store = await openStore({ kind: 'memory' });
    app = createWebApp({ store, events: createEvents(), metrics: createMetrics({ processMetrics: false }), uiDir: dir });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with no-cache and an ETag, and 304 when it is unchanged', async () => {
    const r = await call('/');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.match(await r.text(), /index-AbC123\.js/);
    const etag = r.headers.get('etag') ?? '';
    assert.match(etag, /^"[\w-]+"$/);
    const again = await call('/', { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('cache-control'), 'no-cache');
  });

  it('serves hashed assets with a year of immutable caching and the right type', async () => {
    const js = await call('/assets/index-AbC123.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await js.text(), 'console.log(1)');
    assert.equal((await call('/assets/index-Zz9.css')).headers.get('content-type'), 'text/css; charset=utf-8');
  });

  it('answers 404 for missing assets and never leaves the assets folder', async () => {
    for (const path of ['/assets/nope.js', '/assets/..%2Fsecret.txt', '/assets/../secret.txt', '/assets/secret.txt', '/secret.txt', '/assets/.hidden.js']) {
      const r = await call(path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(await r.text(), /^no$/, path);
    }
  });

  it('explains, rather than shows a blank page, when the UI was not built', async () => {
    const bare = createWebApp({ store, events: createEvents(), metrics: createMetrics({ processMetrics: false }), uiDir: join(dir, 'absent') });
    const r = await bare.fetch(new Request(`${BASE}/`));
    assert.equal(r.status, 503);
    assert.match(await r.text(), /not built: run <code>npm run build<\/code>/);
  });
});
