/**
 * Serves the built web UI (`vite build` → dist/ui): index.html at / and the hashed files under /assets/.
 * A hashed name changes whenever its content does, so those are cached for a year and never revalidated;
 * index.html names the current ones and is revalidated on every load (ETag → 304). Files are read when asked for,
 * so a rebuild shows up without a restart, and only names of the form /assets/<name>.<ext> are ever looked up.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hono } from 'hono';

const TYPES: Readonly<Record<string, string>> = {
  js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml', png: 'image/png',
  woff2: 'font/woff2', json: 'application/json', ico: 'image/x-icon', map: 'application/json',
};
export const IMMUTABLE = 'public, max-age=31536000, immutable';
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,200}\.([a-z0-9]{1,8})$/;

export function mountUi(app: Hono, dir: string): void {
  const index = async (ifNoneMatch: string | undefined): Promise<Response> => {
    let html: Buffer;
    try {
      html = await readFile(join(dir, 'index.html'));
    } catch {
      return new Response('<!doctype html><meta charset="utf-8"><title>mailwire</title><p>The web UI is not built: run <code>npm run build</code>. ' +
        'The API is at <a href="/api/openapi.json">/api/openapi.json</a>.</p>', { status: 503, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' } });
    }
    const etag = `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`;
    const headers = {
      'Cache-Control': 'no-cache', ETag: etag, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer',
      // The UI is our own code only; frames are the mail previews, which the API serves sandboxed on this origin.
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    };
    if (ifNoneMatch !== undefined && ifNoneMatch.split(/\s*,\s*/).includes(etag)) return new Response(null, { status: 304, headers });
    return new Response(new Uint8Array(html), { status: 200, headers: { ...headers, 'Content-Type': 'text/html; charset=utf-8' } });
  };
  app.get('/', (c) => index(c.req.header('if-none-match')));
  app.get('/index.html', (c) => index(c.req.header('if-none-match')));

  app.get('/assets/:name', async (c) => {
    const name = c.req.param('name');
    const m = ASSET_NAME.exec(name);
    const type = m ? TYPES[m[1] ?? ''] : undefined;
    if (!m || type === undefined || name.includes('..')) return c.json({ error: { code: 'not_found', message: 'no such asset' } }, 404);
    let body: Buffer;
    try {
      body = await readFile(join(dir, 'assets', name));
    } catch {
      return c.json({ error: { code: 'not_found', message: 'no such asset' } }, 404);
    }
    return new Response(new Uint8Array(body), {
      status: 200,
      headers: { 'Content-Type': type, 'Content-Length': String(body.byteLength), 'Cache-Control': IMMUTABLE, 'X-Content-Type-Options': 'nosniff' },
    });
  });
}
