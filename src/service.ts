/**
 * The composition root: a store, the SMTP server writing to it, and the HTTP API reading it, joined by one event
 * emitter and one metrics registry. The CLI calls this with parsed flags; end-to-end tests call it directly.
 */
import { createEvents, type MailwireEvents } from './events.js';
import { createMetrics, type Metrics } from './metrics.js';
import { startServer, type RunningServer, type ServerOptions } from './server/server.js';
import { isMessageStore, openStore } from './store/open.js';
import type { MessageSink, MessageStore, StoreOptions } from './store/types.js';
import { createWebApp } from './web/app.js';
import { startHttpServer, type RunningHttpServer } from './web/server.js';

export type ServiceConfig = Readonly<{
  smtp: Omit<ServerOptions, 'sink' | 'recordSessions' | 'observer'>;
  store: StoreOptions;
  /** null: no HTTP API. */
  http: Readonly<{ host: string; port: number }> | null;
}>;

export type RunningService = Readonly<{
  smtp: RunningServer;
  /** null when turned off, or when its port was busy (see httpError). */
  http: RunningHttpServer | null;
  httpError: Error | null;
  store: MessageSink | MessageStore;
  events: MailwireEvents;
  metrics: Metrics;
  close(graceMs?: number): Promise<void>;
}>;

export async function startService(config: ServiceConfig): Promise<RunningService> {
  const store = await openStore(config.store);
  const queryable = isMessageStore(store) ? store : null;
  const events = createEvents();
  const metrics = createMetrics(queryable ? { storeStats: () => queryable.stats() } : {});

  let smtp: RunningServer;
  try {
    smtp = await startServer({
      ...config.smtp,
      sink: store,
      recordSessions: queryable !== null,
      observer: {
        messageStored(id, bytes) {
          metrics.messageStored(bytes);
          events.emit('message-stored', { id });
        },
        sessionEnded(id, end) {
          metrics.sessionEnded(end);
          if (id !== undefined) events.emit('session-ended', { id });
        },
        replied(code, verb, seconds) {
          if (code >= 400) metrics.rejection(code);
          metrics.commandResponse(verb, seconds);
        },
      },
    });
  } catch (error) {
    await store.close();
    throw error;
  }

  // A busy HTTP port is a warning, not a failure: catching mail matters more than browsing it.
  let http: RunningHttpServer | null = null;
  let httpError: Error | null = null;
  if (config.http && queryable) {
    try {
      http = await startHttpServer({ app: createWebApp({ store: queryable, events, metrics }), ...config.http });
    } catch (error) {
      httpError = error instanceof Error ? error : new Error(String(error));
    }
  }

  return {
    smtp, http, httpError, store, events, metrics,
    async close(graceMs) {
      await http?.close();
      await smtp.close(graceMs); // closes the store once the last session is done
    },
  };
}
