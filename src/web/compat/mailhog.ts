/**
 * MailHog's HTTP API (github.com/mailhog/MailHog-Server, api/v1.go and api/v2.go) over mailwire's store, so that the
 * `mailhog` npm package (with basePath '/mailhog/api'), cypress-mailhog and scripts work unchanged. Messages have the
 * shape MailHog's server sends (./mailhog-message.ts), not its outdated swagger. Statuses as MailHog sends them: 200
 * with an empty body for deletes and release, 201 for Jim's POST, 404 while Jim is off.
 *
 * Release never makes the API an open relay: a message goes to --relay (by its name "relay", or by its host and port)
 * or to an SMTP server on a loopback address; any other host is refused with a 400 naming --relay.
 */
import { logError } from '../../log.js';
import { Hono, type Context } from 'hono';
import { relayMessage } from '../../smtp/client/index.js';
import { StoreInputError, StoreUnavailableError } from '../../store/errors.js';
import type { MessageSummary } from '../../store/types.js';
import { isLoopbackHost } from '../guard.js';
import { ChaosError, jimDocument, jimFromBody, jimFromView } from './chaos.js';
import { mailhogMessage } from './mailhog-message.js';
import type { CompatOptions } from './mailpit.js';
import { walkMessages } from './walk.js';

class MailhogError extends Error {
  constructor(readonly status: 400 | 404 | 500, message: string) {
    super(message);
  }
}

/** MailHog's API at the root of the returned app (mount it under /mailhog, or serve it on a port of its own). */
export function mailhogApi(options: CompatOptions): Hono {
  const { store, events } = options;
  const app = new Hono();
  app.onError((err, c) => {
    if (err instanceof MailhogError) return c.text(err.message, err.status);
    if (err instanceof StoreInputError || err instanceof ChaosError) return c.text(err.message, 400);
    if (err instanceof StoreUnavailableError) return c.text(err.message, 503);
    logError(`mailwire web (MailHog API): ${c.req.method} ${c.req.path}:`, err);
    return c.text('internal error', 500);
  });
  const json = (c: Context, value: unknown, type = 'application/json'): Response => c.body(JSON.stringify(value), 200, { 'Content-Type': type });
  const empty = (c: Context, status: 200 | 201 = 200): Response => c.body(null, status, { 'Content-Type': 'text/json' });
  const body = async (c: Context): Promise<unknown> => {
    const t = await c.req.text();
    if (t.trim() === '') return undefined;
    try {
      return JSON.parse(t) as unknown;
    } catch {
      throw new MailhogError(400, 'the body is not JSON');
    }
  };

  /** MailHog's message objects for summaries, in order; one raw read each (a message deleted meanwhile is skipped). */
  const messagesOf = async (list: readonly MessageSummary[]): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const m of list) {
      const raw = await store.getRaw(m.id);
      if (raw !== null) out.push(mailhogMessage(m.id, m.receivedAt, m.envelope, raw));
    }
    return out;
  };
  const startLimit = (c: Context): { start: number; limit: number } => {
    const s = Number.parseInt(c.req.query('start') ?? '', 10);
    const l = Number.parseInt(c.req.query('limit') ?? '', 10);
    return { start: s > 0 ? s : 0, limit: l > 0 ? Math.min(l, 250) : 50 };
  };

  // ---- v2 ------------------------------------------------------------------------------------------------------

  app.get('/api/v2/messages', async (c) => {
    const { start, limit } = startLimit(c);
    const found = await walkMessages(store, '', null, start, limit);
    const items = await messagesOf(found.window);
    return json(c, { total: found.total, count: items.length, start, items }, 'text/json');
  });

  app.get('/api/v2/search', async (c) => {
    const kind = c.req.query('kind');
    const query = c.req.query('query') ?? '';
    if ((kind !== 'from' && kind !== 'to' && kind !== 'containing') || query === '') return c.body(null, 400);
    const { start, limit } = startLimit(c);
    const q = query.toLowerCase();
    const has = (s: string): boolean => s.toLowerCase().includes(q);
    const quoted = `"${query.replace(/["\\]/g, (ch) => `\\${ch}`)}"`;
    // MailHog: from and to are substrings of the envelope address or the header; containing, of the body or a header.
    // mailwire's from:/to: find a superset, checked here as MailHog means them; containing is a full-text phrase.
    const [ours, keep] = kind === 'from'
      ? [`from:${quoted}`, (m: MessageSummary) => has(m.envelope.from) || (m.from !== null && (has(m.from.address) || has(`${m.from.name} <${m.from.address}>`)))]
      : kind === 'to'
        ? [`to:${quoted}`, (m: MessageSummary) => m.envelope.to.some(has) || m.to.some((p) => has(p.address) || has(`${p.name} <${p.address}>`))]
        : [quoted, () => true];
    const found = await walkMessages(store, ours, keep, start, limit);
    const items = await messagesOf(found.window);
    return json(c, { total: found.total, count: items.length, start, items });
  });

  app.get('/api/v2/outgoing-smtp', (c) => {
    const relay = options.relay;
    if (relay === undefined) return json(c, {});
    const colon = relay.target.lastIndexOf(':');
    return json(c, {
      relay: {
        Name: 'relay', Save: false, Email: '', Host: relay.target.slice(0, colon).replace(/^\[|\]$/g, ''), Port: relay.target.slice(colon + 1),
        Username: '', Password: '', Mechanism: '',
      },
    });
  });

  app.get('/api/v2/jim', (c) => {
    const jim = options.faults === undefined ? null : jimFromView(options.faults.view());
    if (jim === null) return c.body(null, 404);
    return json(c, jim);
  });
  app.post('/api/v2/jim', async (c) => {
    const faults = options.faults;
    if (faults === undefined) throw new MailhogError(404, 'fault injection is not available on this server');
    if (faults.view().rules.length > 0) {
      const jim = jimFromView(faults.view());
      if (jim !== null) return c.body(null, 400); // MailHog: Jim is already on
      throw new MailhogError(400, `fault rules are in force (see /api/v1/faults): Jim would replace them; DELETE /api/v1/faults first`);
    }
    const loaded = faults.load(jimDocument(jimFromBody(await body(c))));
    if (!loaded.ok) throw new MailhogError(400, loaded.error);
    return empty(c, 201);
  });
  app.put('/api/v2/jim', async (c) => {
    const faults = options.faults;
    if (faults === undefined || jimFromView(faults.view()) === null) return c.body(null, 404);
    const b = await body(c);
    if (b === undefined) throw new MailhogError(400, 'the body must be Jim\'s fields as JSON');
    const loaded = faults.load(jimDocument(jimFromBody(b)));
    if (!loaded.ok) throw new MailhogError(400, loaded.error);
    return c.body(null, 200);
  });
  app.delete('/api/v2/jim', (c) => {
    const faults = options.faults;
    if (faults === undefined || jimFromView(faults.view()) === null) return c.body(null, 404);
    faults.clear();
    return c.body(null, 200);
  });

  // ---- v1 ------------------------------------------------------------------------------------------------------

  app.get('/api/v1/messages', async (c) => {
    const found = await walkMessages(store, '', null, 0, 1000);
    return json(c, await messagesOf(found.window), 'text/json');
  });

  app.delete('/api/v1/messages', async (c) => {
    for (const id of await store.deleteMessages('')) events.emit('message-deleted', { id });
    return empty(c);
  });

  const rawOf = async (id: string): Promise<{ summary: MessageSummary; raw: Buffer }> => {
    const [summary, raw] = await Promise.all([store.getMessage(id), store.getRaw(id)]);
    if (summary === null || raw === null) throw new MailhogError(404, 'message not found');
    return { summary, raw };
  };

  app.get('/api/v1/messages/:id', async (c) => {
    const { summary, raw } = await rawOf(c.req.param('id'));
    return json(c, mailhogMessage(summary.id, summary.receivedAt, summary.envelope, raw), 'text/json');
  });

  app.delete('/api/v1/messages/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await store.deleteMessage(id))) throw new MailhogError(404, 'message not found');
    events.emit('message-deleted', { id });
    return empty(c);
  });

  app.get('/api/v1/messages/:id/download', async (c) => {
    const { summary, raw } = await rawOf(c.req.param('id'));
    const m = mailhogMessage(summary.id, summary.receivedAt, summary.envelope, raw);
    let out = '';
    for (const [h, values] of Object.entries(m.Content.Headers)) for (const v of values) out += `${h}: ${v}\r\n`;
    out += `\r\n${m.Content.Body}`;
    return c.body(out, 200, {
      'Content-Type': 'message/rfc822', 'Content-Disposition': `attachment; filename="${summary.id.replace(/[^\w.-]/g, '_')}.eml"`,
      'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': 'sandbox',
    });
  });

  app.get('/api/v1/messages/:id/mime/part/:n/download', async (c) => {
    const { summary, raw } = await rawOf(c.req.param('id'));
    const n = c.req.param('n');
    const part = /^\d{1,6}$/.test(n) ? mailhogMessage(summary.id, summary.receivedAt, summary.envelope, raw).MIME?.Parts[Number(n)] : undefined;
    if (part === undefined) throw new MailhogError(404, 'no such MIME part');
    const headers = new Headers({ 'Content-Disposition': `attachment; filename="${summary.id.replace(/[^\w.-]/g, '_')}-part-${n}"` });
    let encoding = '';
    for (const [h, values] of Object.entries(part.Headers)) {
      for (const v of values) {
        const lh = h.toLowerCase();
        if (lh === 'content-disposition') headers.set(h, v);
        else if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(h) && !/[\r\n]/.test(v)) {
          if (lh === 'content-transfer-encoding' && encoding === '') encoding = v;
          headers.append(h, v);
        }
      }
    }
    headers.set('X-Content-Type-Options', 'nosniff');
    headers.set('Content-Security-Policy', 'sandbox');
    const bytes = encoding.toLowerCase() === 'base64' ? Buffer.from(part.Body, 'base64') : Buffer.from(part.Body, 'utf8');
    return new Response(new Uint8Array(bytes), { status: 200, headers });
  });

  app.post('/api/v1/messages/:id/release', async (c) => {
    const id = c.req.param('id');
    const { summary, raw } = await rawOf(id);
    const b = await body(c);
    // Go's JSON decoding matches field names whatever their case, and the npm package sends them lowercase.
    const cfg = new Map(Object.entries(typeof b === 'object' && b !== null ? b : {}).map(([k, v]) => [k.toLowerCase(), v as unknown]));
    const str = (k: string): string => {
      const v = cfg.get(k.toLowerCase());
      return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
    };
    const email = str('Email');
    if (email === '') throw new MailhogError(400, 'the body must name the recipient: {"Host": ..., "Port": ..., "Email": "..."}');
    const relay = options.relay;
    const name = str('Name');
    const host = str('Host').replace(/^\[|\]$/g, '');
    const port = str('Port') || '25';
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    let outcome: { ok: boolean; result: string };
    if (relay !== undefined && (name === 'relay' || target === relay.target)) {
      outcome = await relay.send({ id, from: summary.envelope.from, to: [email], raw });
    } else if (name === '' && host !== '' && isLoopbackHost(host) && /^\d{1,5}$/.test(port)) {
      const r = await relayMessage({ server: { host, port: Number(port) }, from: summary.envelope.from, to: [email], raw, timeoutMs: 30_000 });
      outcome = { ok: r.ok, result: r.ok ? `${r.reply.code}` : r.error.message };
    } else {
      throw new MailhogError(400, `release goes to the server given with --relay${relay === undefined ? ' (none is configured)' : ` (${relay.target}, Name "relay")`} ` +
        `or to an SMTP server on a loopback address; ${JSON.stringify(name !== '' ? name : target)} is neither, so this API cannot be used as an open relay`);
    }
    if (!outcome.ok) throw new MailhogError(500, `release failed: ${outcome.result}`);
    return c.body(null, 200);
  });

  app.notFound((c) => c.text('404 page not found', 404));
  return app;
}
