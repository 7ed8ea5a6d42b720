/**
 * The HTTP API as a fetch handler: `app.fetch(new Request(...))` answers without a socket (tests do exactly that),
 * and ./server.ts puts it on node:http. It reads the store and listens to the events; it never imports the server.
 * Errors are always JSON `{ error: { code, message } }`; any unknown id is a 404 whatever its form; a malformed
 * query or parameter is a 400 saying why; nothing else ever shows a stack.
 */
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { MAX_WAIT_SECONDS, SSE_HEARTBEAT_MS } from '../config.js';
import type { MailwireEvents } from '../events.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { StoreInputError, StoreUnavailableError, type MessageStore } from '../store/index.js';
import { guardHttp, type HttpAccess } from './guard.js';
import { HttpError, jsonError as fail } from './params.js';
import { clientAddressOf, type HttpConnection } from './client-address.js';
import type { AddressList } from '../net/ip-address.js';
import { OPENAPI } from './openapi.js';
import { mountUi } from './ui-assets.js';
import type { FaultController } from '../faults/controller.js';
import type { Relay, WebContext, WebRoutes } from './routes/context.js';
import { mountHealthRoutes } from './routes/health.js';
import { requestScopedEvents, requestScopedStore } from './scope.js';
import { mountWorkspaceRoutes } from './routes/workspaces.js';
import { mountInboxRoutes } from './routes/inboxes.js';
import { mountFaultRoutes } from './routes/faults.js';
import { mountMessageRoutes } from './routes/messages.js';
import { mountSessionRoutes } from './routes/sessions.js';
import { mountEventRoutes } from './routes/events.js';
import { compatGuard, mountCompatApis } from './compat/index.js';
import { VERSION } from '../version.js';
import { logError } from '../log.js';
import { mountServerInfoRoutes, type ServerInfoSource } from './routes/server-info.js';
import { checkRoutes } from './routes/checks.js';
import type { MessageChecks } from '../checks/service.js';
import type { ThumbnailThread } from './compat/thumbnail-thread.js';
import type { WebhookService } from '../webhooks/service.js';
import { webhookRoutes } from './routes/webhooks.js';

export type { Relay, RelayResult, WebContext, WebRoutes } from './routes/context.js';

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
  /** More areas, from outside src/web (the service passes MCP at /mcp, src/mcp/http.ts); mounted behind the guard. */
  routes?: readonly WebRoutes[];
  /** The SMTP side's message size limit, for Mailpit's send (./compat); default 25 MiB. */
  maxMessageBytes?: number;
  /** What GET /api/v1/server says about the listeners; absent: all null. */
  serverInfo?: ServerInfoSource;
  /** The message checks (src/checks): their routes, and Mailpit's html-check, link-check and sa-check; absent: none. */
  checks?: MessageChecks;
  /** The thread that makes Mailpit's image thumbnails (src/web/compat/thumbnail-thread.ts); absent: none are made. */
  thumbnails?: ThumbnailThread;
  /** The webhooks (src/webhooks): /api/v1/webhooks; absent: none. */
  webhooks?: WebhookService;
}>;

export type WebApp = Readonly<{ fetch: (request: Request, connection?: HttpConnection) => Promise<Response> }>;

/** This file runs as dist/src/web/app.js; `vite build` writes the UI to dist/ui. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

export function createWebApp(options: WebAppOptions): WebApp {
  // Every route reads through the current request's handle: a workspace's requests see its own mail only (./scope.ts).
  const store = requestScopedStore(options.store);
  const uiDir = options.uiDir === undefined ? DEFAULT_UI_DIR : options.uiDir;
  const app = new Hono();
  const ctx: WebContext = {
    store,
    rawStore: options.store,
    events: requestScopedEvents(options.events),
    metrics: options.metrics ?? createMetrics({ storeStats: () => store.stats(), storeHealth: () => store.health() }),
    maxWaitSeconds: options.maxWaitSeconds ?? MAX_WAIT_SECONDS,
    sseHeartbeatMs: options.sseHeartbeatMs ?? SSE_HEARTBEAT_MS,
    ...(options.relay ? { relay: options.relay } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
    api: async (request) => app.fetch(request),
  };

  app.onError((err, c) => {
    if (err instanceof HttpError) return fail(c, err.status, err.code, err.message);
    if (err instanceof StoreInputError) return fail(c, 400, err.code === 'ERR_BAD_CURSOR' ? 'bad_cursor' : 'bad_query', err.message);
    // The database is away (PostgreSQL down, a writer restarting): try again later, as SMTP's 451 says.
    if (err instanceof StoreUnavailableError) return fail(c, 503, 'store_unavailable', err.message);
    logError(`mailwire web: ${c.req.method} ${new URL(c.req.url).pathname} from ${clientAddressOf(c, options.trustedProxies)}:`, err);
    return fail(c, 500, 'internal', 'internal error');
  });
  app.notFound((c) => fail(c, 404, 'not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  guardHttp(app, options.access ?? { hosts: 'any' }, compatGuard({ maxMessageBytes: options.maxMessageBytes }));
  mountCompatApis(app, { store, events: ctx.events, relay: options.relay, faults: options.faults, maxMessageBytes: options.maxMessageBytes, version: VERSION, checks: options.checks, thumbnails: options.thumbnails }); // /mailpit, /mailhog

  mountHealthRoutes(app, ctx);
  if (options.access?.workspaces !== undefined) mountWorkspaceRoutes(app, ctx, options.access.workspaces, options.store);
  if (uiDir !== null) mountUi(app, uiDir);
  app.get('/api/openapi.json', (c) => c.json(OPENAPI));
  // One module per area (./routes/); every envelope recipient is an inbox, answered by the messages routes.
  mountServerInfoRoutes(app, options.serverInfo ?? (() => ({ smtp: null, http: null, imap: null, pop3: null })));
  if (options.checks) checkRoutes(options.checks)(app, ctx);
  if (options.webhooks) webhookRoutes(options.webhooks)(app, ctx);
  for (const mount of [...(options.routes ?? []), mountInboxRoutes, mountFaultRoutes, mountMessageRoutes, mountSessionRoutes, mountEventRoutes]) {
    mount(app, ctx);
  }

  return { fetch: async (request, connection) => app.fetch(request, connection) };
}
