/**
 * /api/v1/messages: list, search, wait for, read, mark, release, delete; a message's raw bytes, sandboxed HTML and
 * attachments.
 */
import type { Hono } from 'hono';
import { matchSummary, parseQuery } from '../../store/index.js';
import { checkMailbox } from '../../smtp/core/mailbox-syntax.js';
import { extractCodes, extractLinks } from '../../store/extract.js';
import { DEFAULT_WAIT_SECONDS } from '../../config.js';
import { previewHtml } from '../html-rewrite.js';
import { dispositionFilename } from '../download-name.js';
import { HttpError, badRequest, jsonError, limitParam, notFound } from '../params.js';
import type { WebContext } from './context.js';

export function mountMessageRoutes(app: Hono, ctx: WebContext): void {
  const { store, events } = ctx;

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

  // "Mark all read": the read flag of every message the query matches (all of them for none).
  app.patch('/api/v1/messages', async (c) => {
    const read = await readFlagBody(c.req.raw);
    return c.json({ updated: await store.setReadMatching(c.req.query('query') ?? '', read), read });
  });

  // The exact number of messages the query matches, beside the pages of the listing. Before /messages/:id.
  app.get('/api/v1/messages/count', async (c) => c.json(await store.countMessages(c.req.query('query') ?? '')));

  // Before /messages/:id, which would otherwise take "wait" for an id.
  app.get('/api/v1/messages/wait', async (c) => {
    const after = c.req.query('after') ?? null;
    const count = countParam(c.req.query('count'));
    if (count !== null && after !== null) throw badRequest('count and after cannot be used together: count waits for the newest matches');
    // receivedAfter=now is this server's clock as the request arrives (the test's machine may differ); the answer
    // names the instant taken, so that a client asking again waits from the same one.
    const receivedAfter = receivedAfterParam(c.req.query('receivedAfter'));
    const given = c.req.query('query') ?? '';
    const query = receivedAfter === null ? given : `${given} after:${receivedAfter}`.trim();
    const parsed = parseQuery(query); // a malformed query is a 400 now, not after the wait
    const timeout = timeoutParam(c.req.query('timeout'), ctx.maxWaitSeconds);
    const deadline = Date.now() + timeout * 1000;
    const signal = c.req.raw.signal;
    const echo = receivedAfter === null ? {} : { receivedAfter };

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
        if (count !== null) {
          const found = await newestMatches(query, count);
          if (found !== null) return c.json({ messages: found, ...echo });
        } else {
          const hit = await store.nextMatch(query, after);
          if (hit) {
            const m = await store.getMessage(hit.message.id);
            if (m) {
              return c.json({
                message: m, cursor: hit.cursor, links: extractLinks(m.text, m.html), codes: extractCodes(m.subject, m.text, m.html), ...echo,
              });
            }
            continue; // deleted between the two reads: look again
          }
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
    const wanted = count === null ? 'matching message' : `${count} matching messages`;
    return c.json({ error: { code: 'timeout', message: `no ${wanted} within ${timeout} s` }, ...echo }, 408);
  });

  /** The `count` newest matches, oldest first, each with its links and codes; null while fewer are there. */
  async function newestMatches(query: string, count: number): Promise<unknown[] | null> {
    const page = await store.listMessages({ query, limit: count });
    if (page.items.length < count) return null;
    const out: unknown[] = [];
    for (const s of page.items.toReversed()) {
      const m = await store.getMessage(s.id);
      if (!m) return null; // deleted between the two reads: look again on the next pass
      out.push({ ...m, links: extractLinks(m.text, m.html), codes: extractCodes(m.subject, m.text, m.html) });
    }
    return out;
  }

  app.get('/api/v1/messages/:id', async (c) => {
    const m = await store.getMessage(c.req.param('id'));
    if (!m) throw notFound('message');
    return c.json({ ...m, links: extractLinks(m.text, m.html), codes: extractCodes(m.subject, m.text, m.html) }); // what people look for
  });

  app.patch('/api/v1/messages/:id', async (c) => {
    const read = await readFlagBody(c.req.raw);
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
    const relay = ctx.relay;
    if (relay === undefined) {
      return jsonError(c, 409, 'relay_not_configured', 'no relay is configured: start the server with --relay host:port to release messages');
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
    // Images may show inline; SVG can carry script, so it downloads like everything else. A PDF shows inline too, in the
    // browser's own viewer (the UI opens it in a new tab, issue 32 item 4); like everything from a mail it stays under
    // CSP sandbox, which Chromium's viewer renders under (test/web/ui-pdf.test.ts).
    const pdf = type === 'application/pdf';
    const inline = pdf || (type.startsWith('image/') && type !== 'image/svg+xml');
    const name = a.info.filename || `attachment-${n}`;
    return new Response(new Uint8Array(a.content), {
      status: 200,
      headers: {
        'Content-Type': type,
        'Content-Length': String(a.content.byteLength),
        'Content-Disposition': `${inline ? 'inline' : 'attachment'}; ${dispositionFilename(name)}`,
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': 'sandbox',
        ...(pdf ? { 'Cross-Origin-Resource-Policy': 'same-origin' } : {}),
      },
    });
  });
}

/** `?count=`: absent means one message (the answer's `message`); else 1 to MAX_WAIT_COUNT (the answer's `messages`). */
function countParam(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_WAIT_COUNT) throw badRequest(`count must be a whole number from 1 to ${MAX_WAIT_COUNT}`);
  return Number(v);
}

/** `?receivedAfter=`: `now` (this server's clock) or an ISO time; the exact instant in ISO form, or null. */
function receivedAfterParam(v: string | undefined): string | null {
  if (v === undefined || v === '') return null;
  const ms = v === 'now' ? Date.now() : /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw badRequest(`receivedAfter must be "now" or an ISO time like 2026-01-31T12:00:00.000Z, not "${v.slice(0, 40)}"`);
  return new Date(ms).toISOString();
}

/** The most messages one wait with `count` answers with. */
const MAX_WAIT_COUNT = 1000;

function timeoutParam(v: string | undefined, max: number): number {
  if (v === undefined || v === '') return Math.min(DEFAULT_WAIT_SECONDS, max);
  const n = /^\d{1,6}(\.\d{1,3})?$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= max)) throw badRequest(`timeout must be a number of seconds from 0 to ${max}`);
  return n;
}

/** The body of a PATCH that sets the read flag, of one message or of many: `{"read": true|false}`. */
async function readFlagBody(req: Request): Promise<boolean> {
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    throw badRequest('body must be JSON: {"read": true|false}');
  }
  if (typeof body !== 'object' || body === null || typeof (body as { read?: unknown }).read !== 'boolean') {
    throw badRequest('body must be {"read": true|false}');
  }
  return (body as { read: boolean }).read;
}
