/**
 * Mailpit's HTTP API v1 (github.com/axllent/mailpit, server/ui/api/v1/swagger.json) over mailwire's store, so that
 * Mailpit's clients (the `mailpit-api` npm package, cypress-mailpit, scripts) work unchanged with their base URL set to
 * `http://HOST:PORT/mailpit`, or to the root of `--mailpit-api-port`. Answers keep Mailpit's shapes and statuses: a
 * plain-text 400 with the reason for a bad request, "404 page not found" for an unknown id, a plain "ok" for release,
 * delete and read status. Reading a message marks it read where Mailpit does (GET /api/v1/message/{ID} and /view/…),
 * and nowhere else. Where mailwire lacks what is behind an endpoint (SpamAssassin, the HTML and link checks, tags)
 * the answer says so, never a made-up success.
 */
import type { MessageChecks } from '../../checks/service.js';
import { scanHtml } from '../../store/html.js';
import { mailpitHtmlCheck, mailpitLinkCheck, mailpitSpamCheck } from './mailpit-checks.js';
import { logError } from '../../log.js';
import { createHash } from 'node:crypto';
import { Hono, type Context } from 'hono';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import type { MailwireEvents } from '../../events.js';
import type { FaultController } from '../../faults/controller.js';
import { StoreInputError, StoreUnavailableError } from '../../store/errors.js';
import type { Mailbox, MessageDetail, MessageStore, MessageSummary } from '../../store/types.js';
import type { Relay } from '../app.js';
import { checkMailbox } from '../../smtp/core/mailbox-syntax.js';
import { ChaosError, chaosDocument, chaosFromBody, chaosFromView } from './chaos.js';
import { goHeaderMap, headerValue } from './headers.js';
import { goTime } from './mailhog-message.js';
import { SearchTermError, bccOf, translateMailpitSearch, type MailpitSearch } from './mailpit-search.js';
import { composeMailpitSend, SendError } from './mailpit-send.js';
import { BLANK_THUMBNAIL, thumbnailRefusal } from './thumbnail.js';
import type { ThumbnailThread } from './thumbnail-thread.js';
import { matchingIds, newest, walkMessages } from './walk.js';
import { acceptWebSocket, isWebSocketUpgrade } from '../websocket.js';
import { currentScope, eventAudience, runInScope } from '../scope.js';

export type CompatOptions = Readonly<{
  store: MessageStore;
  events: MailwireEvents;
  /** --relay: where release sends; absent: release answers Mailpit's error. */
  relay?: Relay;
  /** The fault rules, for Chaos (Mailpit) and Jim (MailHog); absent: those answer that they are off. */
  faults?: FaultController;
  /** The SMTP side's message size limit: the largest message POST /api/v1/send composes. */
  maxMessageBytes: number;
  version: string;
  /** mailwire's checks (src/checks), behind html-check, link-check and sa-check; absent: those say they are not here. */
  checks?: MessageChecks;
  /** The thread that makes image thumbnails (./thumbnail-thread.ts); absent: /thumb of an image says it is not here. */
  thumbnails?: ThumbnailThread;
}>;

/** A Mailpit answer that is not 200: its status and plain text. */
class MailpitError extends Error {
  constructor(readonly status: 400 | 404 | 413, message: string) {
    super(message);
  }
}
const PAGE_NOT_FOUND = '404 page not found';
const bad = (message: string): MailpitError => new MailpitError(400, message);

type MailpitAddress = { Name: string; Address: string };
const address = (m: Mailbox): MailpitAddress => ({ Name: m.name, Address: m.address });

export function mailpitSummary(m: MessageSummary): Record<string, unknown> {
  return {
    ID: m.id,
    MessageID: (m.messageId ?? '').replace(/^<|>$/g, ''),
    Read: m.read,
    From: m.from === null ? null : address(m.from),
    To: m.to.map(address),
    Cc: m.cc.map(address),
    Bcc: bccOf(m).map(address),
    ReplyTo: [], // not in mailwire's summary: the full message (GET /api/v1/message/{ID}) has it
    Subject: m.subject,
    Created: goTime(m.receivedAt),
    Username: '',
    Tags: [],
    Size: m.size,
    Attachments: m.attachmentCount,
    Snippet: m.snippet,
  };
}

/** Mailpit's API at the root of the returned app (mount it under /mailpit, or serve it on a port of its own). */
export function mailpitApi(options: CompatOptions): Hono {
  const { store, events } = options;
  const startedAt = Date.now();
  let deleted = 0;
  const app = new Hono();

  const text = (c: Context, body: string, status: 200 | 400 | 404 | 413 = 200): Response =>
    c.body(body, status, { 'Content-Type': 'text/plain; charset=utf-8', 'Referrer-Policy': 'no-referrer' });
  app.onError((err, c) => {
    if (err instanceof MailpitError) return text(c, err.message, err.status);
    if (err instanceof SearchTermError || err instanceof StoreInputError || err instanceof ChaosError) return text(c, err.message, 400);
    if (err instanceof SendError) return c.json({ Error: err.message }, err.status);
    if (err instanceof StoreUnavailableError) return c.text(err.message, 503);
    logError(`mailwire web (Mailpit API): ${c.req.method} ${c.req.path}:`, err);
    return c.text('internal error', 500);
  });

  const body = async (c: Context): Promise<unknown> => {
    const t = await c.req.text();
    if (t.trim() === '') return undefined;
    try {
      return JSON.parse(t) as unknown;
    } catch (e) {
      throw bad(`the body is not JSON: ${(e as Error).message}`);
    }
  };
  const search = (c: Context): MailpitSearch => {
    const q = (c.req.query('query') ?? '').trim();
    if (q === '') throw bad('Error: no search query');
    return translateMailpitSearch(q, c.req.query('tz'));
  };
  const startLimit = (c: Context): { start: number; limit: number } => {
    const s = Number.parseInt(c.req.query('start') ?? '', 10);
    const l = Number.parseInt(c.req.query('limit') ?? '', 10);
    return { start: s > 0 ? s : 0, limit: l > -1 ? Math.min(l, 10_000) : 50 };
  };
  const mailbox = (): Promise<{ total: number; unread: number }> => store.countMessages('');
  /** The message id of the path, `latest` (optionally with ?query=) resolved; a MailpitError when there is none. */
  const idOf = async (c: Context): Promise<string> => {
    const id = c.req.param('id') ?? '';
    if (id !== 'latest') return id;
    const q = (c.req.query('query') ?? '').trim();
    const s = q === '' ? { query: '', matches: () => true } : translateMailpitSearch(q, c.req.query('tz'));
    const m = await newest(store, s.query, s.matches);
    if (m === null) throw new MailpitError(404, 'Message not found');
    return m.id;
  };
  const detailOf = async (id: string): Promise<MessageDetail> => {
    const m = await store.getMessage(id);
    if (m === null) throw new MailpitError(404, PAGE_NOT_FOUND);
    return m;
  };
  const markRead = async (m: MessageSummary): Promise<void> => {
    if (!m.read) await store.setRead(m.id, true);
  };

  // ---- application ---------------------------------------------------------------------------------------------

  app.get('/api/v1/info', async (c) => {
    const { total, unread } = await mailbox();
    const stats = store.stats();
    return c.json({
      Version: `mailwire ${options.version}`,
      LatestVersion: '',
      Database: `mailwire ${store.kind} store`,
      DatabaseSize: 0,
      Messages: total,
      Unread: unread,
      Tags: {},
      RuntimeStats: {
        Memory: process.memoryUsage().rss,
        MessagesDeleted: deleted,
        SMTPAccepted: stats.saved,
        SMTPAcceptedSize: 0,
        SMTPRejected: stats.failed,
        SMTPIgnored: 0,
        Uptime: Math.floor((Date.now() - startedAt) / 1000),
      },
    });
  });

  // Mailpit's websocket: `new` with the message's summary once it is searchable, `delete` with its ID, as
  // {"Type","Data"} text messages. A page of another origin is refused (its script would read the events).
  app.get('/api/events', (c) => {
    if (!isWebSocketUpgrade(c.req.raw)) return c.text('Bad Request: /api/events is a WebSocket (send Upgrade: websocket)', 400);
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== new URL(c.req.url).origin) return c.text('Forbidden: a WebSocket from a page of another origin', 403);
    const { events } = options;
    // The stream opens after this request has answered (the 101), outside its scope: it subscribes in the request's
    // scope, so a workspace hears its own mail only (the store's handle filters `new`, the audience `delete`).
    const scope = currentScope();
    return acceptWebSocket(c.req.raw, (ws) => runInScope(scope, () => {
      const audience = eventAudience(store);
      const offNew = store.onIndexed((m) => ws.send(JSON.stringify({ Type: 'new', Data: mailpitSummary(m) })));
      const offDelete = events.on('message-deleted', (payload) => {
        void audience('message-deleted', payload).then((yes) => {
          if (yes) ws.send(JSON.stringify({ Type: 'delete', Data: { ID: payload.id } }));
        }, () => undefined);
      });
      ws.onClose(() => {
        offNew();
        offDelete();
      });
    }));
  });

  app.get('/api/v1/webui', (c) => c.json({
    Label: 'mailwire',
    MessageRelay: {
      Enabled: options.relay !== undefined,
      SMTPServer: options.relay?.target ?? '',
      ReturnPath: '',
      AllowedRecipients: '',
      BlockedRecipients: '',
      OverrideFrom: '',
      PreserveMessageIDs: true,
      RecipientAllowlist: '',
    },
    SpamAssassin: false,
    ChaosEnabled: options.faults !== undefined,
    DuplicatesIgnored: false,
    HideDeleteAllButton: false,
  }));

  // ---- messages ------------------------------------------------------------------------------------------------

  const listing = async (c: Context, s: MailpitSearch | null): Promise<Response> => {
    const { start, limit } = startLimit(c);
    const found = await walkMessages(store, s?.query ?? '', s?.matches ?? null, start, limit);
    const box = s === null ? found : await mailbox();
    return c.json({
      total: box.total,
      unread: box.unread,
      count: found.window.length,
      messages_count: found.total,
      messages_unread: found.unread,
      start,
      tags: [],
      messages: found.window.map(mailpitSummary),
    });
  };
  app.get('/api/v1/messages', (c) => listing(c, null));
  app.get('/api/v1/search', (c) => listing(c, search(c)));

  app.put('/api/v1/messages', async (c) => {
    const b = await body(c);
    const data = (typeof b === 'object' && b !== null ? b : {}) as { Read?: unknown; IDs?: unknown; Search?: unknown };
    const read = data.Read === true;
    const ids = Array.isArray(data.IDs) ? data.IDs.filter((x): x is string => typeof x === 'string') : [];
    const q = typeof data.Search === 'string' ? data.Search.trim() : '';
    if (ids.length > 0 && q !== '') throw bad('You may specify either IDs or a search query, not both');
    let targets = ids;
    if (ids.length === 0) {
      const s = q === '' ? { query: '', matches: () => true } : translateMailpitSearch(q, c.req.query('tz'));
      targets = await matchingIds(store, s.query, s.matches);
    }
    for (const id of targets) await store.setRead(id, read);
    return text(c, 'ok');
  });

  const deleteIds = async (ids: readonly string[]): Promise<void> => {
    for (const id of ids) {
      if (await store.deleteMessage(id)) {
        deleted++;
        events.emit('message-deleted', { id });
      }
    }
  };
  app.delete('/api/v1/messages', async (c) => {
    const b = (await body(c).catch(() => undefined)) as { IDs?: unknown } | undefined;
    const ids = Array.isArray(b?.IDs) ? b.IDs.filter((x): x is string => typeof x === 'string') : [];
    if (ids.length > 0) {
      await deleteIds(ids);
    } else {
      const all = await store.deleteMessages('');
      deleted += all.length;
      for (const id of all) events.emit('message-deleted', { id });
    }
    return text(c, 'ok');
  });
  app.delete('/api/v1/search', async (c) => {
    const s = search(c);
    await deleteIds(await matchingIds(store, s.query, s.matches));
    return text(c, 'ok');
  });

  // ---- one message ---------------------------------------------------------------------------------------------

  app.get('/api/v1/message/:id', async (c) => {
    const m = await detailOf(await idOf(c));
    const raw = (await store.getRaw(m.id)) ?? Buffer.alloc(0);
    const parts = await Promise.all(m.attachments.map(async (a) => {
      const content = (await store.getAttachment(m.id, a.index))?.content ?? Buffer.alloc(0);
      const sum = (alg: string): string => createHash(alg).update(content).digest('hex');
      return {
        inline: a.disposition === 'inline',
        json: {
          PartID: String(a.index), FileName: a.filename, ContentType: a.contentType, ContentID: (a.contentId ?? '').replace(/^<|>$/g, ''), Size: a.size,
          Checksums: { MD5: sum('md5'), SHA1: sum('sha1'), SHA256: sum('sha256') },
        },
      };
    }));
    const unsubscribe = headerValue(raw, 'List-Unsubscribe');
    const returnPath = headerValue(raw, 'Return-Path').replace(/^<|>$/g, '') || (m.from?.address ?? '');
    await markRead(m);
    return c.json({
      ID: m.id,
      MessageID: (m.messageId ?? '').replace(/^<|>$/g, ''),
      From: m.from === null ? null : address(m.from),
      To: m.to.map(address),
      Cc: m.cc.map(address),
      Bcc: bccOf(m).map(address),
      ReplyTo: addresses(headerValue(raw, 'Reply-To')),
      ReturnPath: returnPath,
      Subject: m.subject,
      ListUnsubscribe: {
        Header: unsubscribe,
        Links: [...unsubscribe.matchAll(/<([^>]*)>/g)].map((x) => x[1] ?? '').slice(0, 2),
        Errors: '',
        HeaderPost: headerValue(raw, 'List-Unsubscribe-Post'),
      },
      Date: goTime(m.date ?? m.receivedAt),
      Tags: [],
      Username: m.connection.authUser ?? '',
      Text: m.text,
      HTML: m.html,
      Size: m.size,
      Inline: parts.filter((p) => p.inline).map((p) => p.json),
      Attachments: parts.filter((p) => !p.inline).map((p) => p.json),
    });
  });

  app.get('/api/v1/message/:id/headers', async (c) => {
    const raw = await store.getRaw(await idOf(c));
    if (raw === null) throw new MailpitError(404, PAGE_NOT_FOUND);
    return c.json(goHeaderMap(raw));
  });

  app.get('/api/v1/message/:id/raw', async (c) => {
    const id = await idOf(c);
    const raw = await store.getRaw(id);
    if (raw === null) throw new MailpitError(404, PAGE_NOT_FOUND);
    const headers: Record<string, string> = {
      'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': 'sandbox',
    };
    if (c.req.query('dl') === '1') headers['Content-Disposition'] = `attachment; filename="${id.replace(/[^\w.-]/g, '_')}.eml"`;
    return new Response(new Uint8Array(raw), { status: 200, headers });
  });

  const part = async (c: Context): Promise<{ filename: string; contentType: string; content: Buffer }> => {
    const n = c.req.param('partId') ?? '';
    const a = /^\d{1,6}$/.test(n) ? await store.getAttachment(await idOf(c), Number(n)) : null;
    if (a === null) throw new MailpitError(404, PAGE_NOT_FOUND);
    return { filename: a.info.filename || (a.info.contentId ?? ''), contentType: a.info.contentType, content: a.content };
  };
  app.get('/api/v1/message/:id/part/:partId', async (c) => {
    const a = await part(c);
    return new Response(new Uint8Array(a.content), {
      status: 200,
      headers: {
        'Content-Type': /^[\w.+-]+\/[\w.+-]+$/.test(a.contentType) ? a.contentType : 'application/octet-stream',
        'Content-Disposition': `inline; filename="${encodeURIComponent(a.filename)}"`,
        // The attachment is the sender's, served on this origin: nothing in it may run here.
        'Content-Security-Policy': 'sandbox',
        'X-Content-Type-Options': 'nosniff',
      },
    });
  });
  app.get('/api/v1/message/:id/part/:partId/thumb', async (c) => {
    const a = await part(c).catch((e: unknown) => {
      throw e instanceof MailpitError ? bad('attachment not found') : e; // Mailpit answers 400 here, not 404
    });
    let jpeg: Uint8Array = new Uint8Array(BLANK_THUMBNAIL);
    if (a.contentType.toLowerCase().startsWith('image/')) {
      if (options.thumbnails === undefined) throw bad('image thumbnails are not available in this mailwire; download the part itself instead');
      const refusal = thumbnailRefusal(a.content);
      if (refusal !== null) throw bad(refusal);
      const made = await options.thumbnails.make(a.content).catch((e: unknown) => {
        throw bad(`no thumbnail was made: ${e instanceof Error ? e.message : String(e)}`);
      });
      if (!made.ok) throw bad(made.error);
      jpeg = made.jpeg;
    }
    return new Response(jpeg, {
      status: 200, headers: { 'Content-Type': 'image/jpeg', 'Content-Disposition': `filename="${encodeURIComponent(a.filename)}"` },
    });
  });

  app.get('/api/v1/message/:id/html-check', async (c) => {
    const id = await idOf(c);
    const m = await detailOf(id);
    if (m.html === '') throw bad('message does not contain HTML');
    if (options.checks === undefined) throw bad('the HTML check is not available in this mailwire');
    let nodes = 0;
    scanHtml(m.html, { tag: (t) => { if (!t.closing) nodes++; } });
    return c.json(mailpitHtmlCheck(await options.checks.html(id), nodes));
  });
  app.get('/api/v1/message/:id/link-check', async (c) => {
    if (c.req.header('sec-fetch-site') === 'cross-site') throw bad('a link check is not run for a page of another site');
    const id = await idOf(c);
    await detailOf(id);
    if (options.checks === undefined) throw bad('the link check is not available in this mailwire');
    return c.json(mailpitLinkCheck(await options.checks.links(id)));
  });
  // Mailpit registers this route only with a spam checker configured; without one, its router answers 404.
  app.get('/api/v1/message/:id/sa-check', async (c) => {
    if (options.checks?.spamConfigured !== true) return text(c, PAGE_NOT_FOUND, 404);
    const id = await idOf(c);
    await detailOf(id);
    try {
      return c.json(mailpitSpamCheck(await options.checks.spam(id)));
    } catch (e) {
      return c.json({ IsSpam: false, Score: 0, Rules: [], Error: (e as Error).message });
    }
  });

  app.post('/api/v1/message/:id/release', async (c) => {
    const id = c.req.param('id');
    const raw = await store.getRaw(id);
    if (raw === null) throw new MailpitError(404, PAGE_NOT_FOUND);
    const b = await body(c);
    const to = (typeof b === 'object' && b !== null ? (b as { To?: unknown }).To : undefined);
    const list = Array.isArray(to) ? to : [];
    for (const t of list) if (typeof t !== 'string' || !checkMailbox(addresses(t)[0]?.Address ?? '').ok) throw bad(`Invalid email address: ${String(t)}`);
    if (list.length === 0) throw bad('No valid addresses found');
    const relay = options.relay;
    if (relay === undefined) throw bad('SMTP error: message relay is not configured: start mailwire with --relay host:port');
    const from = addresses(headerValue(raw, 'Sender'))[0]?.Address ?? addresses(headerValue(raw, 'From'))[0]?.Address;
    if (from === undefined) throw bad('No From header found');
    const result = await relay.send({ id, from, to: (list as string[]).map((t) => addresses(t)[0]?.Address ?? t), raw });
    if (!result.ok) throw bad(`SMTP error: ${result.result}`);
    return text(c, 'ok');
  });

  app.post('/api/v1/send', async (c) => {
    const raw = await c.req.text();
    const composed = await composeMailpitSend(raw, options.maxMessageBytes);
    const id = await store.save({
      envelope: { helo: 'mailpit-send-api', from: composed.from, to: composed.to },
      connection: { clientAddress: 'http', clientPort: 0, serverAddress: 'http', serverPort: 0, dialect: 'smtp', tls: false },
      receivedAt: new Date(),
      raw: composed.raw,
    });
    return c.json({ ID: id });
  });

  // ---- views ---------------------------------------------------------------------------------------------------

  app.get('/view/:file', async (c) => {
    const file = c.req.param('file');
    if (!/\.(html|txt)$/.test(file)) return text(c, PAGE_NOT_FOUND, 404); // Mailpit's web UI pages: not served here
    const html = file.endsWith('.html');
    let id = file.slice(0, file.lastIndexOf('.'));
    if (id === 'latest') {
      const m = await newest(store, '', () => true);
      if (m === null) return text(c, 'Message not found', 404);
      id = m.id;
    }
    const m = await store.getMessage(id);
    if (m === null) return text(c, 'Message not found', 404);
    if (html && m.html === '') return text(c, 'This message does not contain a HTML part', 404);
    await markRead(m);
    if (!html) return text(c, m.text);
    const base = `${new URL(c.req.url).pathname.replace(/\/view\/[^/]*$/, '')}/api/v1/message/${encodeURIComponent(m.id)}/part/`;
    let out = m.html;
    for (const a of m.attachments) {
      if (a.contentId === null) continue;
      const cid = a.contentId.replace(/^<|>$/g, '');
      out = out.split(`cid:${cid}`).join(`${base}${a.index}`);
    }
    return new Response(out, {
      status: 200,
      headers: {
        'Content-Type': 'text/html; charset=utf-8',
        // The sender's HTML on this origin: a sandbox without scripts, as mailwire's own preview.
        // A sandboxed page has an opaque origin: 'self' would not name this server, so its origin is written out.
        'Content-Security-Policy': `sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src data: ${new URL(c.req.url).origin} https: http:; ` +
          "style-src 'unsafe-inline' https:; font-src data: https:; form-action 'none'",
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      },
    });
  });

  // ---- tags, chaos ---------------------------------------------------------------------------------------------

  app.get('/api/v1/tags', (c) => c.json([]));
  const noTags = (): never => {
    throw bad('mailwire has no message tags: tags cannot be set, renamed or deleted');
  };
  app.put('/api/v1/tags', noTags);
  app.put('/api/v1/tags/:tag', noTags);
  app.delete('/api/v1/tags/:tag', noTags);

  app.get('/api/v1/chaos', (c) => {
    if (options.faults === undefined) throw bad('Chaos is not enabled');
    return c.json(chaosFromView(options.faults.view()));
  });
  app.put('/api/v1/chaos', async (c) => {
    const faults = options.faults;
    if (faults === undefined) throw bad('Chaos is not enabled');
    const triggers = chaosFromBody((await body(c)) ?? {});
    const doc = chaosDocument(triggers);
    if (doc === null) faults.clear();
    else {
      const loaded = faults.load(doc);
      if (!loaded.ok) throw bad(loaded.error);
    }
    return c.json(chaosFromView(faults.view()));
  });

  app.notFound((c) => text(c, PAGE_NOT_FOUND, 404));
  return app;
}

/** Addresses of a header value ("A <a@x>, b@y"), as Mailpit's JSON shows them. */
function addresses(value: string): MailpitAddress[] {
  if (value.trim() === '') return [];
  const out: MailpitAddress[] = [];
  for (const a of addressparser(value, { flatten: true })) if (a.address) out.push({ Name: a.name ?? '', Address: a.address });
  return out;
}
