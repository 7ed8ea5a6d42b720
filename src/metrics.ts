/**
 * Prometheus metrics. One registry per instance (no prom-client globals), handed to the server, which records,
 * and to the web app, which serves /metrics.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { StoreHealth, StoreStats } from './store/types.js';

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
  /** Fault injection: rule `rule` (numbered from 1) injected one fault. */
  faultInjected(rule: number): void;
  /** A connection closed by an internal error (answered 421). */
  internalError(): void;
  /** IMAP / POP3: a command read (its verb), a login decided, bytes sent to a client (src/mailbox/listeners.ts). */
  readerCommand(protocol: 'imap' | 'pop3', verb: string): void;
  readerLogin(protocol: 'imap' | 'pop3', outcome: 'ok' | 'wrong' | 'throttled'): void;
  readerBytes(protocol: 'imap' | 'pop3', bytes: number): void;
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
  /** When given, the index backlog and lag are exported as gauges. */
  storeHealth?: () => StoreHealth;
}>;

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'mailwire_' });
  const traffic = options.traffic ?? true ? [registry] : [];
  const stored = new Counter({ name: 'mailwire_messages_stored_total', help: 'Messages stored durably', registers: traffic });
  const bytes = new Counter({ name: 'mailwire_message_bytes_total', help: 'Raw bytes of messages stored', registers: traffic });
  const sessions = new Counter({ name: 'mailwire_sessions_total', help: 'SMTP sessions ended, by how they ended', labelNames: ['end'], registers: traffic });
  const rejections = new Counter({ name: 'mailwire_rejections_total', help: 'Replies with a 4xx or 5xx code, by code', labelNames: ['code'], registers: traffic });
  // Counted where the rules live (the primary, with --workers), so in `registry` whatever `traffic` says.
  const internalErrors = new Counter({ name: 'mailwire_internal_errors_total', help: 'Connections closed by an internal error (answered 421)', registers: traffic });
  const faults = new Counter({ name: 'mailwire_faults_injected_total', help: 'Faults injected, by rule number (from 1, in document order)', labelNames: ['rule'], registers: [registry] });
  const readerCommands = new Counter({ name: 'mailwire_reader_commands_total', help: 'IMAP and POP3 commands read, by protocol and command', labelNames: ['protocol', 'command'], registers: [registry] });
  const readerLogins = new Counter({ name: 'mailwire_reader_logins_total', help: 'IMAP and POP3 logins, by protocol and outcome (ok, wrong, throttled)', labelNames: ['protocol', 'outcome'], registers: [registry] });
  const readerBytes = new Counter({ name: 'mailwire_reader_bytes_sent_total', help: 'Bytes sent to IMAP and POP3 clients, by protocol', labelNames: ['protocol'], registers: [registry] });
  const response = new VerbHistogram(
    'mailwire_command_response_seconds', 'Time from a command to its reply',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  for (const r of traffic) r.registerMetric(response as unknown as Metric);
  const statsOf = options.storeStats;
  if (statsOf) {
    const gauge = (name: string, help: string, key: keyof StoreStats): void => {
      new Gauge({ name, help, registers: [registry], collect() { this.set(statsOf()[key]); } });
    };
    gauge('mailwire_store_saves', 'save() calls that resolved since start', 'saved');
    gauge('mailwire_store_transactions', 'Write transactions committed since start', 'transactions');
    gauge('mailwire_store_failures', 'save() calls that rejected since start', 'failed');
  }
  const healthOf = options.storeHealth;
  if (healthOf) {
    new Gauge({ name: 'mailwire_index_backlog', help: 'Messages durable (250 sent) but not yet searchable', registers: [registry], collect() { this.set(healthOf().indexBacklog); } });
    new Gauge({ name: 'mailwire_index_lag_seconds', help: 'Age of the oldest message not yet searchable', registers: [registry], collect() { this.set(healthOf().indexLagMs / 1000); } });
  }
  const more = options.more;
  return {
    registry,
    text: async () => (more === undefined ? registry.metrics() : `${await registry.metrics()}\n${await more()}`),
    messageStored: (n) => { stored.inc(); bytes.inc(n); },
    sessionEnded: (end) => sessions.inc({ end }),
    rejection: (code) => rejections.inc({ code: String(code) }),
    commandResponse: (verb, seconds) => response.observe(verb.toUpperCase(), seconds),
    faultInjected: (rule) => faults.inc({ rule: String(rule) }),
    internalError: () => internalErrors.inc(),
    readerCommand: (protocol, command) => readerCommands.inc({ protocol, command }),
    readerLogin: (protocol, outcome) => readerLogins.inc({ protocol, outcome }),
    readerBytes: (protocol, n) => readerBytes.inc({ protocol }, n),
  };
}

/**
 * A histogram labelled by SMTP verb, observed on every reply. prom-client's Histogram hashes and validates its labels
 * on each observe(), about 2 µs, several times a message; this keeps plain counts per verb and hands prom-client the
 * same histogram (cumulative `le` buckets, `_sum`, `_count`) only when it is scraped.
 */
type SeriesValue = { metricName: string; labels: Record<string, string | number>; value: number };

class VerbHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, { counts: Float64Array; sum: number }>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = bounds;
  }

  observe(verb: string, value: number): void {
    let s = this.#series.get(verb);
    if (s === undefined) this.#series.set(verb, (s = { counts: new Float64Array(this.#bounds.length + 1), sum: 0 }));
    let i = 0;
    while (i < this.#bounds.length && value > (this.#bounds[i] ?? Infinity)) i++;
    s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
  }

  /** What prom-client's registry reads from a metric (its own Histogram.get() gives the same shape). */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: SeriesValue[] }> {
    const values: SeriesValue[] = [];
    for (const [verb, s] of this.#series) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i] ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, verb }, value: cumulative });
      });
      cumulative += s.counts[this.#bounds.length] ?? 0;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', verb }, value: cumulative });
      values.push({ metricName: `${this.name}_sum`, labels: { verb }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { verb }, value: cumulative });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.#series.clear();
  }
}
