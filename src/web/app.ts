/**
 * The HTTP API as a fetch handler: `app.fetch(new Request(...))` answers without a socket (tests do exactly that),
 * and ./server.ts puts it on node:http. It reads the store and listens to the events; it never imports the server.
 * Errors are always JSON `{ error: { code, message } }`; any unknown id is a 404 whatever its form; a malformed
 * query or parameter is a 400 saying why; nothing else ever shows a stack.
 */
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, SSE_HEARTBEAT_MS } from '../config.js';
import { EVENT_NAMES, type MailwireEvents } from '../events.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { StoreInputError, StoreUnavailableError, matchSummary, parseQuery, type MessageStore } from '../store/index.js';
import { checkMailbox } from '../smtp/core/mailbox-syntax.js';
import { extractCodes, extractLinks } from '../store/extract.js';
import { guardHttp, type HttpAccess } from './guard.js';
import { mountMcp } from '../mcp/http.js';
import { mountInboxRoutes } from './inboxes.js';
import { HttpError, badRequest, limitParam } from './params.js';
import { VERSION } from '../version.js';
import { previewHtml } from './html-rewrite.js';
import { clientAddressOf, type HttpConnection } from './client-address.js';
import type { AddressList } from '../net/ip-address.js';
import { OPENAPI } from './openapi.js';
import { mountUi } from './ui-assets.js';
import { mountFaultRoutes } from './faults-routes.js';
import type { FaultController } from '../faults/controller.js';
import { mountServerInfoRoutes, type ServerInfoSource } from './routes/server-info.js';
import { sessionFilterParams } from './routes/session-filters.js';

export type WebAppOptions = Readonly<{
  store: MessageStore;
  events: MailwireEvents;
  /** Shared with the server, which records into it; one is made when absent. */
  metrics?: Metrics;
  /** Longest long-poll a client may ask for, in seconds. Default MAX_WAIT_SECONDS (config.ts). */
  maxWaitSeconds?: number;
  /** SSE comment sent this often to keep proxies from closing an idle stream. Default SSE_HEARTBEAT_MS (config.ts). */
  sseHeartbeatMs?: number;
  /** Sends a stored message on to the configured relay (--relay); absent: release answers 409. */
  relay?: Relay;
  /** The built web UI (index.html + assets/), served at /. Default: dist/ui beside the compiled server; null: none. */
  uiDir?: string | null;
  /** The fault rules in force, served at /api/v1/faults; absent: no such routes. */
  faults?: FaultController;
  /** Host names served, HTTP Basic logins (./guard.ts). Default: any Host, no login; the service passes its own. */
  access?: HttpAccess;
  /** Proxies whose X-Forwarded-For names the client (--trusted-proxies); absent: the socket's peer is the client. */
  trustedProxies?: AddressList;
  /** What GET /api/v1/server says about the SMTP and HTTP listeners; absent: both null. */
  serverInfo?: ServerInfoSource;
}>;

/**
 * Release: a stored message sent on to the one server the operator configured. The request names recipients, never
 * a server, so the API cannot be used as an open relay.
 */
export type Relay = Readonly<{
  /** "host:port" of the relay, for messages. */
  target: string;
  send(message: Readonly<{ id: string; from: string; to: readonly string[]; raw: Buffer }>): Promise<RelayResult>;
}>;
export type RelayResult = Readonly<{
  ok: boolean;
  /** The relay's last reply, as "250 2.0.0 OK", or the failure. */
  result: string;
  /** The conversation, "-> command" and "<- reply" lines. */
  transcript: readonly string[];
  /** The session recorded for it, when the store keeps sessions. */
  sessionId?: string;
}>;

export type WebApp = Readonly<{ fetch: (request: Request, connection?: HttpConnection) => Promise<Response> }>;

/** This file runs as dist/src/web/app.js; `vite build` writes the UI to dist/ui. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const notFound = (what: string): HttpError => new HttpError(404, 'not_found', `no such ${what}`);

export function createWebApp(options: WebAppOptions): WebApp {
  const { store, events } = options;
  const metrics = options.metrics ?? createMetrics({ storeStats: () => store.stats(), storeHealth: () => store.health() });
  const maxWait = options.maxWaitSeconds ?? MAX_WAIT_SECONDS;
  const heartbeatMs = options.sseHeartbeatMs ?? SSE_HEARTBEAT_MS;
  const uiDir = options.uiDir === undefined ? DEFAULT_UI_DIR : options.uiDir;
  const app = new Hono();

  const fail = (c: Context, status: ContentfulStatusCode, code: string, message: string): Response =>
    c.json({ error: { code, message } }, status);

  app.onError((err, c) => {
    if (err instanceof HttpError) return fail(c, err.status, err.code, err.message);
    if (err instanceof StoreInputError) return fail(c, 400, err.code, err.message);
    // The database is away (PostgreSQL down, a writer restarting): try again later, as SMTP's 451 says.
    if (err instanceof StoreUnavailableError) return fail(c, 503, 'store_unavailable', err.message);
    console.error(`mailwire web: ${c.req.method} ${new URL(c.req.url).pathname} from ${clientAddressOf(c, options.trustedProxies)}:`, err);
    return fail(c, 500, 'internal', 'internal error');
  });
  app.notFound((c) => fail(c, 404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  guardHttp(app, options.access ?? { hosts: 'any' });

  // 503 while the store cannot take mail (its reason says why); the index backlog and lag either way.
  app.get('/healthz', (c) => {
    const health = store.health();
    return c.json({ status: health.ok ? 'ok' : 'unavailable', store: health }, health.ok ? 200 : 503);
  });
  if (uiDir !== null) mountUi(app, uiDir);
  app.get('/metrics', async (c) =>
    c.body(await metrics.text(), 200, { 'Content-Type': metrics.registry.contentType }));
  app.get('/api/openapi.json', (c) => c.json(OPENAPI));
  mountMcp(app, async (request) => app.fetch(request), { version: VERSION }); // MCP for coding agents (src/mcp)
  mountInboxRoutes(app, store, events, async (request) => app.fetch(request)); // every envelope recipient is an inbox
  if (options.faults) mountFaultRoutes(app, options.faults);
  mountServerInfoRoutes(app, options.serverInfo ?? (() => ({ smtp: null, http: null })));

  // ---- messages ------------------------------------------------------------------------------------------------

  app.get('/api/v1/messages', async (c) => {
    // The items come as JSON text, made by the store's reader thread where it has one (see listMessagesJson).
    const page = await store.listMessagesJson({ query: c.req.query('query') ?? '', limit: limitParam(c.req.query('limit')), cursor: c.req.query('cursor') ?? null });
    return c.body(`{"messages":${page.itemsJson},"nextCursor":${JSON.stringify(page.nextCursor)}}`, 200, { 'Content-Type': 'application/json' });
  });

  app.delete('/api/v1/messages', async (c) => {
    const ids = await store.deleteMessages(c.req.query('query') ?? '');
    for (const id of ids) events.emit('message-deleted', { id });
    return c.json({ deleted: ids.length, ids });
  });

  // Before /messages/:id, which would otherwise take "wait" for an id.
  app.get('/api/v1/messages/wait', async (c) => {
    const query = c.req.query('query') ?? '';
    const parsed = parseQuery(query); // a malformed query is a 400 now, not after the wait
    const after = c.req.query('after') ?? null;
    const timeout = timeoutParam(c.req.query('timeout'), maxWait);
    const deadline = Date.now() + timeout * 1000;
    const signal = c.req.raw.signal;

    // Each newly indexed message is matched here, in memory; only one that may be the answer costs a store query.
    let dirty = false;
    let wake: (() => void) | null = null;
    const off = store.onIndexed((m) => {
      if (matchSummary(parsed, m) === 'no') return;
      dirty = true;
      wake?.();
    });
    try {
      // Bounded: each pass ends with a store check, and waits are cut by the deadline or the client leaving.
      for (let pass = 0; pass < 1_000_000; pass++) {
        dirty = false;
        const hit = await store.nextMatch(query, after);
        if (hit) {
          const m = await store.getMessage(hit.message.id);
          if (m) {
            return c.json({
              message: m, cursor: hit.cursor, links: extractLinks(m.text, m.html), codes: extractCodes(m.subject, m.text, m.html),
            });
          }
          continue; // deleted between the two reads: look again
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0 || signal.aborted) break;
        if (dirty) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, remaining);
          signal.addEventListener('abort', done, { once: true });
          wake = done;
          function done(): void {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            wake = null;
            resolve();
          }
        });
      }
    } finally {
      off();
    }
    return fail(c, 408, 'timeout', `no matching message within ${timeout} s`);
  });

  app.get('/api/v1/messages/:id', async (c) => {
    const m = await store.getMessage(c.req.param('id'));
    if (!m) throw notFound('message');
    return c.json({ ...m, links: extractLinks(m.text, m.html), codes: extractCodes(m.subject, m.text, m.html) }); // what people look for
  });

  app.patch('/api/v1/messages/:id', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw badRequest('body must be JSON: {"read": true|false}');
    }
    if (typeof body !== 'object' || body === null || typeof (body as { read?: unknown }).read !== 'boolean') {
      throw badRequest('body must be {"read": true|false}');
    }
    const read = (body as { read: boolean }).read;
    const id = c.req.param('id');
    if (!(await store.setRead(id, read))) throw notFound('message');
    return c.json({ id, read });
  });

  app.delete('/api/v1/messages/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await store.deleteMessage(id))) throw notFound('message');
    events.emit('message-deleted', { id });
    return c.body(null, 204);
  });

  app.post('/api/v1/messages/:id/release', async (c) => {
    const relay = options.relay;
    if (relay === undefined) {
      return fail(c, 409, 'relay_not_configured', 'no relay is configured: start the server with --relay host:port to release messages');
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw badRequest('body must be JSON: {"to": ["address", ...], "from"?: "address"}');
    }
    const { to, from } = (typeof body === 'object' && body !== null ? body : {}) as { to?: unknown; from?: unknown };
    if (!Array.isArray(to) || to.length === 0 || !to.every((a): a is string => typeof a === 'string' && checkMailbox(a).ok)) {
      throw badRequest('"to" must be a non-empty list of valid addresses');
    }
    if (from !== undefined && (typeof from !== 'string' || (from !== '' && !checkMailbox(from).ok))) {
      throw badRequest('"from" must be a valid address, or "" for the null sender');
    }
    const id = c.req.param('id');
    const [message, raw] = await Promise.all([store.getMessage(id), store.getRaw(id)]);
    if (!message || !raw) throw notFound('message');
    const result = await relay.send({ id, from: typeof from === 'string' ? from : message.envelope.from, to, raw });
    return c.json({ released: result.ok, relay: relay.target, ...result }, result.ok ? 200 : 502);
  });

  app.get('/api/v1/messages/:id/raw', async (c) => {
    const raw = await store.getRaw(c.req.param('id'));
    if (!raw) throw notFound('message');
    return new Response(new Uint8Array(raw), {
      status: 200,
      headers: {
        'Content-Type': 'message/rfc822', 'Content-Length': String(raw.byteLength), 'X-Content-Type-Options': 'nosniff',
        // A download, never a page: a browser that renders it anyway runs nothing from it.
        'Content-Disposition': `attachment; ${dispositionFilename(`${c.req.param('id')}.eml`)}`,
        'Content-Security-Policy': 'sandbox',
      },
    });
  });

  app.get('/api/v1/messages/:id/html', async (c) => {
    const m = await store.getMessage(c.req.param('id'));
    if (!m) throw notFound('message');
    if (m.html === '') throw new HttpError(404, 'not_found', 'message has no HTML part');
    const images = c.req.query('images') ?? 'blocked';
    if (images !== 'blocked' && images !== 'remote') throw badRequest('images must be "blocked" or "remote"');
    // cid: URLs become absolute attachment URLs on this origin, which img-src then names (a sandboxed document has
    // an opaque origin, so 'self' would not do).
    const origin = new URL(c.req.url).origin;
    const base = `${origin}/api/v1/messages/${encodeURIComponent(m.id)}/attachments/`;
    const html = previewHtml(m.html, m.attachments, base);
    const imgSrc = images === 'remote' ? `data: ${origin} https: http:` : `data: ${origin}`;
    return new Response(html, {
      status: 200,
      headers: {
        'Content-Type': 'text/html; charset=utf-8',
        // sandbox without allow-scripts: nothing in the mail runs, even what the stripping below missed. Popups are
        // allowed (and escape the sandbox) so that links open in a new tab as ordinary pages. Remote images and
        // stylesheets load only when asked for (images=remote): they tell the sender the mail was opened.
        'Content-Security-Policy': `sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src ${imgSrc}; ` +
          `style-src 'unsafe-inline'${images === 'remote' ? ' https:' : ''}; font-src data:${images === 'remote' ? ' https:' : ''}; form-action 'none'; ` +
          "frame-ancestors 'self'", // only the UI may frame it (no clickjacking from another site)
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-store',
      },
    });
  });

  app.get('/api/v1/messages/:id/attachments/:n', async (c) => {
    const n = c.req.param('n');
    if (!/^\d{1,6}$/.test(n)) throw notFound('attachment');
    const a = await store.getAttachment(c.req.param('id'), Number(n));
    if (!a) throw notFound('attachment');
    const type = /^[\w.+-]+\/[\w.+-]+$/.test(a.info.contentType) ? a.info.contentType.toLowerCase() : 'application/octet-stream';
    // Images may show inline; SVG can carry script, so it downloads like everything else.
    const inline = type.startsWith('image/') && type !== 'image/svg+xml';
    const name = a.info.filename || `attachment-${n}`;
    return new Response(new Uint8Array(a.content), {
      status: 200,
      headers: {
        'Content-Type': type,
        'Content-Length': String(a.content.byteLength),
        'Content-Disposition': `${inline ? 'inline' : 'attachment'}; ${dispositionFilename(name)}`,
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': 'sandbox',
      },
    });
  });

  // ---- sessions ------------------------------------------------------------------------------------------------

  app.get('/api/v1/sessions', async (c) => {
    const page = await store.listSessions({ limit: limitParam(c.req.query('limit')), cursor: c.req.query('cursor') ?? null, ...sessionFilterParams(c) });
    return c.json({ sessions: page.items, nextCursor: page.nextCursor });
  });

  app.get('/api/v1/sessions/:id', async (c) => {
    const s = await store.getSession(c.req.param('id'));
    if (!s) throw notFound('session');
    return c.json(s);
  });

  // ---- events --------------------------------------------------------------------------------------------------

  app.get('/api/v1/events', (c) => {
    const encoder = new TextEncoder();
    const cleanups: (() => void)[] = [];
    const stop = (): void => { for (const f of cleanups.splice(0)) f(); };
    const stream = new ReadableStream<Uint8Array>({
      // Subscribed before the Response is returned, so no event between "connected" and "listening" is lost.
      start(controller) {
        const send = (text: string): void => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            stop();
          }
        };
        send(': connected\nretry: 2000\n\n');
        for (const name of EVENT_NAMES) cleanups.push(events.on(name, (payload) => send(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`)));
        const ping = setInterval(() => send(': ping\n\n'), heartbeatMs);
        cleanups.push(() => clearInterval(ping));
        c.req.raw.signal.addEventListener('abort', () => {
          stop();
          try { controller.close(); } catch { /* already closed */ }
        }, { once: true });
      },
      cancel: stop,
    });
    return new Response(stream, {
      status: 200,
      headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' },
    });
  });

  return { fetch: async (request, connection) => app.fetch(request, connection) };
}

function timeoutParam(v: string | undefined, max: number): number {
  if (v === undefined || v === '') return Math.min(DEFAULT_WAIT_SECONDS, max);
  const n = /^\d{1,6}(\.\d{1,3})?$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= max)) throw badRequest(`timeout must be a number of seconds from 0 to ${max}`);
  return n;
}

function dispositionFilename(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
