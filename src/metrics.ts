/**
 * Prometheus metrics. One registry per instance (no prom-client globals), handed to the server, which records,
 * and to the web app, which serves /metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreStats } from './store/types.js';

export type Metrics = Readonly<{
  registry: Registry;
  /** The Prometheus exposition text served at /metrics (Content-Type: registry.contentType). */
  text(): Promise<string>;
  /** After a save resolved: one message of `bytes` raw bytes is durable. */
  messageStored(bytes: number): void;
  /** A session ended; `end` is SessionRecord['end']. */
  sessionEnded(end: string): void;
  /** The server answered with a 4xx/5xx reply `code` (e.g. 451, 550). */
  rejection(code: number): void;
  /** Time from a command's last byte to its reply, in seconds; `verb` e.g. 'MAIL', 'DATA'. */
  commandResponse(verb: string, seconds: number): void;
}>;

export type MetricsOptions = Readonly<{
  /** Node process metrics (CPU, heap, event-loop lag); default true. */
  processMetrics?: boolean;
  /**
   * The SMTP traffic metrics (messages, sessions, rejections, response times); default true. Off in a cluster's
   * primary, whose SMTP workers count traffic in registries of their own (see `more`).
   */
  traffic?: boolean;
  /** More exposition text appended to this registry's, e.g. the workers' metrics aggregated by the primary. */
  more?: () => Promise<string>;
  /** When given, its write counters are exported as gauges (group commit shows as transactions < saved). */
  storeStats?: () => StoreStats;
}>;

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mailwire_' });
  const traffic = options.traffic ?? true ? [registry] : [];
  const stored = new Counter({ name: 'mailwire_messages_stored_total', help: 'Messages stored durably', registers: traffic });
  const bytes = new Counter({ name: 'mailwire_message_bytes_total', help: 'Raw bytes of messages stored', registers: traffic });
  const sessions = new Counter({ name: 'mailwire_sessions_total', help: 'SMTP sessions ended, by how they ended', labelNames: ['end'], registers: traffic });
  const rejections = new Counter({ name: 'mailwire_rejections_total', help: 'Replies with a 4xx or 5xx code, by code', labelNames: ['code'], registers: traffic });
  const response = new Histogram({
    name: 'mailwire_command_response_seconds', help: 'Time from a command to its reply', labelNames: ['verb'], registers: traffic,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  const responseByVerb = new Map<string, ReturnType<typeof response.labels>>();
  const statsOf = options.storeStats;
  if (statsOf) {
    const gauge = (name: string, help: string, key: keyof StoreStats): void => {
      new Gauge({ name, help, registers: [registry], collect() { this.set(statsOf()[key]); } });
    };
    gauge('mailwire_store_saves', 'save() calls that resolved since start', 'saved');
    gauge('mailwire_store_transactions', 'Write transactions committed since start', 'transactions');
    gauge('mailwire_store_failures', 'save() calls that rejected since start', 'failed');
  }
  const more = options.more;
  return {
    registry,
    text: async () => (more === undefined ? registry.metrics() : `${await registry.metrics()}\n${await more()}`),
    messageStored: (n) => { stored.inc(); bytes.inc(n); },
    sessionEnded: (end) => sessions.inc({ end }),
    rejection: (code) => rejections.inc({ code: String(code) }),
    commandResponse: (verb, seconds) => {
      // One labelled child per verb, looked up once: observe() with a label object hashes it on every call.
      const key = verb.toUpperCase();
      let child = responseByVerb.get(key);
      if (child === undefined) responseByVerb.set(key, (child = response.labels({ verb: key })));
      child.observe(seconds);
    },
  };
}
