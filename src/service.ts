/**
 * The composition root: a store, the SMTP server writing to it, and the HTTP API reading it, joined by one event
 * emitter and one metrics registry. The CLI calls this with parsed flags; end-to-end tests call it directly.
 */
import { createEvents, type MailwireEvents } from './events.js';
import { WorkspaceDirectory } from './workspaces/directory.js';
import { createWorkspaceRouter } from './workspaces/router.js';
import { pruneWorkspaces } from './workspaces/retention.js';
import { logError } from './log.js';
import { toWorkspace, type WorkspacesDocument } from './workspaces/document.js';
import type { Authenticator } from './smtp/core/types.js';
import { createMetrics, type Metrics, type MetricsOptions } from './metrics.js';
import type { ServerObserver } from './smtp/server/connection.js';
import { startServer, type RunningServer, type ServerOptions } from './smtp/server/server.js';
import { isMessageStore, openStore, type MessageSink, type MessageStore, type OpenOptions, type TranscriptLine } from './store/index.js';
import { relayMessage, type RelayOptions, type TraceEvent } from './smtp/client/index.js';
import { describeReply } from './smtp/core/reply.js';
import { hostPort } from './net/peer-address.js';
import type { AddressList } from './net/ip-address.js';
import { LoginLimiter } from './net/login-limiter.js';
import { createWebApp, type Relay } from './web/app.js';
import { FaultController } from './faults/controller.js';
import { allowedHosts } from './web/guard.js';
import type { PasswordCheck } from './credentials.js';
import type { PemPair } from './net/tls.js';
import { startHttpServer, type RunningHttpServer } from './web/server.js';
import { mountMcp } from './mcp/http.js';
import { MessageChecks, type ChecksConfig } from './checks/service.js';
import { createCompatApp, type CompatKind } from './web/compat/index.js';
import { ThumbnailThread } from './web/compat/thumbnail-thread.js';
import { VERSION } from './version.js';
import { startReaders, type ReadersConfig, type RunningReaders } from './mailbox/listeners.js';
import { SaveWatch, withSaveHealth } from './store/deadline.js';
import { storeTimeoutOf } from './config.js';
import type { HttpInfo, SmtpInfo } from './web/routes/server-info.js';
import { WebhookService, type WebhookServiceOptions } from './webhooks/service.js';

export type ServiceConfig = Readonly<{
  smtp: Omit<ServerOptions, 'sink' | 'recordSessions' | 'observer' | 'faults' | 'storeTimeoutMs' | 'saveWatch'>;
  /** A fault document to put in force at start (--faults FILE), as parsed JSON; checked, and refused with the reason. */
  faults?: unknown;
  store: OpenOptions;
  /** null: no HTTP API. */
  http: HttpConfig | null;
  /** Where the API's release sends stored messages; absent: release is refused (409). */
  relay?: Omit<RelayOptions, 'from' | 'to' | 'raw'>;
  /** The message checks' settings (spam checker, Chromium, the hosts link checks may reach); src/checks. */
  checks?: ChecksConfig;
  /** POP3 (and IMAP) over the same store, in the process that holds it; absent: none. */
  readers?: ReadersConfig;
  /**
   * Workspaces (issue 26, --workspaces FILE): the document's workspaces are created or updated in the store at start,
   * every API request then needs a token, and mail is routed by SMTP login and recipient globs (src/workspaces).
   */
  workspaces?: WorkspacesDocument;
  /** Webhooks (src/webhooks): --webhook URLs, their secret, the hosts they may reach; those made by the API need none of it. */
  webhooks?: Omit<WebhookServiceOptions, 'store' | 'events'>;
}>;

/** Where the HTTP API and UI listen and whom they serve (see web/guard.ts). */
export type HttpConfig = Readonly<{
  host: string;
  port: number;
  /** Host names served besides loopback and the bound address (--http-allowed-hosts). */
  allowedHosts?: readonly string[];
  /** HTTP Basic logins (--http-auth-file). */
  users?: PasswordCheck;
  /** Serve HTTPS with this certificate. */
  tls?: PemPair;
  /** Proxies whose X-Forwarded-For names the client (--trusted-proxies). */
  trustedProxies?: AddressList;
  /** Mailpit's, MailHog's API alone at the root of a port of its own, same host, TLS and guard (--mailpit-api-port, --mailhog-api-port). */
  mailpitApiPort?: number;
  mailhogApiPort?: number;
  /** Failed HTTP Basic logins per client (give the SMTP authenticator's to count both together); default: its own. */
  loginLimiter?: LoginLimiter;
}>;

/** The ports serving one compatible API alone (web/compat), when asked for. */
export type CompatServers = Readonly<Partial<Record<CompatKind, RunningHttpServer>>>;

export type RunningService = Readonly<{
  smtp: RunningServer;
  /** null when turned off, or when its port was busy (see httpError). */
  http: RunningHttpServer | null;
  httpError: Error | null;
  /** --mailpit-api-port, --mailhog-api-port. */
  compat?: CompatServers;
  /** POP3 (and IMAP) listeners; each null when off or when its port was busy (see its error). */
  readers: RunningReaders;
  store: MessageSink | MessageStore;
  events: MailwireEvents;
  metrics: Metrics;
  /** The fault rules in force (the same as GET/PUT/DELETE /api/v1/faults). */
  faults: FaultController;
  /** The secret the --webhook URLs are signed with (given, or made at start); absent without a queryable store. */
  webhookSecret?: string;
  close(graceMs?: number): Promise<void>;
}>;

/** The part of a service that is not SMTP: the store, the HTTP API over it, the events and metrics joining them. */
export type Backend = Readonly<{
  store: MessageSink | MessageStore;
  /** The store when it can be queried (sqlite, memory); null for the discard sink. Its health() says how saves wait. */
  queryable: MessageStore | null;
  /** The store deadline (--store-timeout), and how long saves wait for the store (for /healthz). */
  storeTimeoutMs: number;
  saves: SaveWatch;
  events: MailwireEvents;
  metrics: Metrics;
  /** The fault rules in force (GET/PUT/DELETE /api/v1/faults); with --workers, the workers ask this one. */
  faults: FaultController;
  http: RunningHttpServer | null;
  httpError: Error | null;
  compat: CompatServers;
  readers: RunningReaders;
  /** The workspaces in force (--workspaces); null without. */
  workspaces: WorkspaceDirectory | null;
  /** The webhooks and their outbox; null without a queryable store. */
  webhooks: WebhookService | null;
  /** Tells GET /api/v1/server where SMTP listens, once it does. */
  describeSmtp(info: SmtpInfo): void;
  close(): Promise<void>;
}>;

export async function startBackend(
  config: Omit<ServiceConfig, 'smtp'> & { smtp?: Pick<ServiceConfig['smtp'], 'dialect'> & Partial<Pick<ServiceConfig['smtp'], 'limits'>> },
  metricsOptions: MetricsOptions = {},
): Promise<Backend> {
  // The fault document is checked before anything is opened: a bad one stops the start with the reason.
  const faults = new FaultController({ dialect: config.smtp?.dialect.name ?? 'smtp', onFired: (n) => metrics.faultInjected(n) });
  if (config.faults !== undefined) {
    const loaded = faults.load(config.faults);
    if (!loaded.ok) throw new Error(`fault document: ${loaded.error}`);
  }
  const storeTimeoutMs = storeTimeoutOf(config.store);
  const saves = new SaveWatch(storeTimeoutMs);
  const store = await openStore(config.store);
  const queryable = isMessageStore(store) ? withSaveHealth(store, saves) : null;
  const workspaces = config.workspaces !== undefined && queryable !== null ? await openWorkspaces(queryable, config.workspaces) : null;
  // Each workspace's own retention (src/workspaces/retention.ts), every few seconds, one pass at a time.
  let pruning: Promise<unknown> = Promise.resolve();
  const pruneTimer = workspaces === null || queryable === null ? null : setInterval(() => {
    pruning = pruning.then(async () => pruneWorkspaces(queryable, await workspaces.list()))
      .catch((e: unknown) => logError('mailwire: workspace retention failed:', e));
  }, WORKSPACE_PRUNE_MS);
  pruneTimer?.unref();
  const events = createEvents();
  const metrics = createMetrics({
    ...metricsOptions, ...(queryable ? { storeStats: () => queryable.stats(), storeHealth: () => queryable.health() } : {}),
  });
  // A message is announced when it becomes searchable (so a client told of it can find it), once, recovered ones too.
  const unsubscribe = queryable?.onIndexed((m) => events.emit('message-stored', { id: m.id }));
  // Made on this same turn, so that it hears the messages recovered at open (announced on the next turn).
  const webhooks = queryable === null ? null : new WebhookService({ ...config.webhooks, store: queryable, events });
  try {
    await webhooks?.start(); // a --webhook the guard refuses stops the start, naming it
  } catch (error) {
    await webhooks?.close();
    await store.close();
    throw error;
  }

  // A busy HTTP port is a warning, not a failure: catching mail matters more than browsing it.
  let http: RunningHttpServer | null = null;
  let httpError: Error | null = null;
  const checks = queryable === null ? null : new MessageChecks(queryable, config.checks ?? {});
  const thumbnails = new ThumbnailThread(); // Mailpit's image thumbnails; its thread starts on the first one
  const compat: Partial<Record<CompatKind, RunningHttpServer>> = {};
  let smtpInfo: SmtpInfo | null = null;
  let httpInfo: HttpInfo | null = null;
  let readers: RunningReaders | null = null;
  const listening = (l: { host: string; port: number } | null | undefined): { host: string; port: number } | null => (l ? { host: l.host, port: l.port } : null);
  const serverInfo = () => ({ smtp: smtpInfo, http: httpInfo, imap: listening(readers?.imap), pop3: listening(readers?.pop3) });
  if (config.http && queryable && checks) {
    try {
      const relay = config.relay === undefined ? {} : { relay: createRelay(config.relay, queryable, events) };
      const { host, port, tls, users, trustedProxies, loginLimiter } = config.http;
      const maxMessageBytes = config.smtp?.limits?.maxMessageBytes;
      const access = {
        hosts: allowedHosts(host, config.http.allowedHosts ?? []), ...(users ? { users } : {}), ...(workspaces ? { workspaces } : {}),
        ...(loginLimiter ? { limiter: loginLimiter } : {}), ...(trustedProxies ? { trustedProxies } : {}),
      };
      const app = createWebApp({
        store: queryable, events, metrics, faults, access, serverInfo, ...relay, ...(trustedProxies ? { trustedProxies } : {}), maxMessageBytes, checks, thumbnails,
        ...(webhooks ? { webhooks } : {}),
        routes: [(web, ctx) => mountMcp(web, ctx.api, { version: VERSION })], // MCP for coding agents (src/mcp)
      });
      http = await startHttpServer({ app, host, port, ...(tls ? { tls } : {}) });
      httpInfo = { host, port: http.port, tls: tls !== undefined };
      for (const [kind, apiPort] of [['mailpit', config.http.mailpitApiPort], ['mailhog', config.http.mailhogApiPort]] as const) {
        if (apiPort === undefined) continue;
        const compatApp = createCompatApp(kind, { store: queryable, events, faults, ...relay, maxMessageBytes: maxMessageBytes ?? 25 * 2 ** 20, version: VERSION, checks, thumbnails }, access);
        try {
          compat[kind] = await startHttpServer({ app: compatApp, host, port: apiPort, ...(tls ? { tls } : {}) });
        } catch (error) { // a warning, as for the HTTP port: the API stays under /${kind} on the HTTP port
          httpError = new Error(`no ${kind} API on --${kind}-api-port ${apiPort} (it is still under /${kind}): ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    } catch (error) {
      httpError = error instanceof Error ? error : new Error(String(error));
    }
  }
  // POP3 and IMAP log in by inbox address, which knows no workspace: with workspaces they stay off (not yet scoped).
  const started = await startReaders(workspaces === null ? config.readers ?? {} : {}, queryable, events, {
    command: (protocol, verb) => metrics.readerCommand(protocol, verb),
    login: (protocol, outcome) => metrics.readerLogin(protocol, outcome),
    bytesSent: (protocol, n) => metrics.readerBytes(protocol, n),
  });
  readers = started;
  return {
    store, queryable, storeTimeoutMs, saves, events, metrics, faults, http, httpError, compat, readers: started, workspaces, webhooks,
    describeSmtp(info) {
      smtpInfo = info;
    },
    async close() {
      if (pruneTimer !== null) clearInterval(pruneTimer);
      await pruning;
      await started.close();
      for (const s of Object.values(compat)) await s.close();
      await http?.close();
      await checks?.close();
      await thumbnails.close();
      await webhooks?.close();
      await store.close();
      unsubscribe?.();
    },
  };
}

/**
 * How the SMTP server reports: to its metrics always, and to the events when the store and the HTTP API live in the
 * same process (null in a cluster worker, whose events the primary emits as it stores).
 */
export function observerFor(metrics: Metrics, events: MailwireEvents | null): ServerObserver {
  return {
    messageStored(_id, bytes) {
      metrics.messageStored(bytes); // the message-stored event waits for the index: see startBackend
    },
    sessionEnded(id, end) {
      metrics.sessionEnded(end);
      if (id !== undefined) events?.emit('session-ended', { id });
    },
    replied(code, verb, seconds) {
      if (code >= 400) metrics.rejection(code);
      metrics.commandResponse(verb, seconds);
    },
    internalError() {
      metrics.internalError();
    },
  };
}

export async function startService(config: ServiceConfig): Promise<RunningService> {
  const backend = await startBackend(config);
  let smtp: RunningServer;
  try {
    const ws = backend.workspaces;
    const auth = ws !== null && backend.queryable !== null && ws.hasSmtpUsers()
      ? workspaceAuthenticator(ws, config.smtp.auth, config.smtp.auth?.allowInsecure ?? config.workspaces?.authInsecure === true)
      : config.smtp.auth;
    smtp = await startServer({
      ...config.smtp,
      ...(auth === undefined ? {} : { auth }),
      // the backend opened it and closes it, after the server has stopped (close below); with workspaces, routed
      sink: ws !== null && backend.queryable !== null ? createWorkspaceRouter(backend.queryable, ws) : backend.store,
      storeTimeoutMs: backend.storeTimeoutMs,
      saveWatch: backend.saves,
      recordSessions: backend.queryable !== null,
      observer: observerFor(backend.metrics, backend.events),
      faults: backend.faults,
    });
  } catch (error) {
    await backend.close();
    throw error;
  }
  backend.describeSmtp(smtpInfoOf(config.smtp, smtp));
  return {
    smtp, http: backend.http, httpError: backend.httpError, compat: backend.compat, readers: backend.readers, store: backend.store, events: backend.events, metrics: backend.metrics,
    faults: backend.faults, ...(backend.webhooks ? { webhookSecret: backend.webhooks.configuredSecret } : {}),
    async close(graceMs) {
      await smtp.close(graceMs); // every session done, every message in progress stored or refused
      await backend.close();
    },
  };
}

/** How often each workspace's retention runs. */
const WORKSPACE_PRUNE_MS = 5000;

/** Puts the document's workspaces in the store (created or updated; those made through the API are left alone). */
async function openWorkspaces(store: MessageStore, doc: WorkspacesDocument): Promise<WorkspaceDirectory> {
  const existing = new Map((await store.workspaces.list()).map((w) => [w.name, w]));
  for (const spec of doc.workspaces) {
    const made = await toWorkspace(spec, 'file');
    const before = existing.get(spec.name);
    await store.workspaces.put(before === undefined ? made : { ...made, createdAt: before.createdAt });
  }
  const dir = new WorkspaceDirectory(store.workspaces, doc.adminTokens);
  await dir.reload();
  return dir;
}

/**
 * SMTP AUTH with workspaces: a workspace's user is checked against the workspaces (bcrypt on the pool), anyone else
 * against --auth/--auth-file when given; failures count in the same limiter as the rest.
 */
function workspaceAuthenticator(dir: WorkspaceDirectory, base: Authenticator | undefined, allowInsecure: boolean): Authenticator {
  const limiter = new LoginLimiter();
  return {
    allowInsecure,
    verify: async (user, password, client) => {
      if (dir.workspaceOfUser(user) === null && base !== undefined) return base.verify(user, password, client);
      const v = await limiter.attempt(client, () => dir.checkSmtpUser(user, password));
      switch (v.kind) {
        case 'ok': return true;
        case 'wrong': return false;
        case 'throttled':
        case 'busy': return { refused: v.kind, retryAfterSeconds: v.retryAfterSeconds };
      }
    },
  };
}

/** What GET /api/v1/server says about a running SMTP server. */
export function smtpInfoOf(options: ServiceConfig['smtp'], running: Pick<RunningServer, 'host' | 'port'>): SmtpInfo {
  return {
    host: running.host, port: running.port, dialect: options.dialect.name,
    starttls: options.tls !== undefined, auth: options.auth !== undefined,
  };
}

/** Release through the client library, each one recorded as a session so the UI shows how it went. */
function createRelay(options: Omit<RelayOptions, 'from' | 'to' | 'raw'>, store: MessageStore, events: MailwireEvents): Relay {
  const target = typeof options.server === 'string' ? options.server : hostPort(options.server.host, options.server.port);
  return {
    target,
    async send(m) {
      const startedAt = new Date();
      const lines: TranscriptLine[] = [{ at: startedAt.getTime(), dir: 'info', text: `release of message ${m.id} to ${target}: ${m.to.join(', ')}` }];
      const outcome = await relayMessage({ ...options, from: m.from, to: m.to, raw: m.raw }, (e) => {
        const at = Date.now();
        if (e.type === 'received') lines.push({ at, dir: 'server', text: describeReply(e.reply), responseMs: e.rttMs });
        else lines.push({ at, dir: e.type === 'sent' ? 'client' : 'info', text: e.text });
      });
      const endedAt = new Date();
      const transcript = outcome.transcript.map(traceLine);
      const result = outcome.ok ? describeReply(outcome.reply) : outcome.error.message;
      const sessionId = await store.saveSession({
        connection: { clientAddress: 'release', clientPort: 0, serverAddress: target, serverPort: 0, dialect: 'smtp', tls: options.tls !== undefined && options.tls !== 'none' },
        startedAt,
        endedAt,
        end: outcome.ok ? 'quit' : 'error',
        messageIds: [m.id],
        transcript: lines,
        truncated: false,
      });
      events.emit('session-ended', { id: sessionId });
      events.emit('relay-finished', { id: sessionId, messageId: m.id, ok: outcome.ok, result });
      return { ok: outcome.ok, result, transcript, sessionId };
    },
  };
}

const traceLine = (e: TraceEvent): string =>
  e.type === 'sent' ? `-> ${e.text}` : e.type === 'received' ? `<- ${describeReply(e.reply)}` : `== ${e.text}`;
