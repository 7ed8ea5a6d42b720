/**
 * What every route module of the HTTP API is given: the store it reads, the events it emits and streams, the
 * settings resolved once by createWebApp (../app.ts), and the app's own fetch for routes that answer by re-dispatching
 * (inboxes, MCP). A module is a function `(app, ctx) => void` that adds its routes; a new area adds a module.
 */
import type { Hono } from 'hono';
import type { MailwireEvents } from '../../events.js';
import type { Metrics } from '../../metrics.js';
import type { MessageStore } from '../../store/index.js';
import type { FaultController } from '../../faults/controller.js';

export type WebContext = Readonly<{
  /** The store as the current request's scope sees it (../scope.ts): what routes read and write through. */
  store: MessageStore;
  /**
   * The whole store, for what runs outside any request's scope (an event listener checking whose event it is): never
   * to answer a request with.
   */
  rawStore: MessageStore;
  events: MailwireEvents;
  metrics: Metrics;
  /** Longest long-poll a client may ask for, in seconds. */
  maxWaitSeconds: number;
  /** SSE comment sent this often to keep proxies from closing an idle stream. */
  sseHeartbeatMs: number;
  /** Absent: release answers 409. */
  relay?: Relay;
  /** Absent: no /api/v1/faults routes. */
  faults?: FaultController;
  /** Answers a request as the whole app does (guard included), in-process. */
  api: (request: Request) => Promise<Response>;
}>;

/** One area of the API: adds its routes to `app`. */
export type WebRoutes = (app: Hono, ctx: WebContext) => void;

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
