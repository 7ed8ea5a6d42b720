/**
 * The server on several cores (`--workers N`): node:cluster runs N SMTP workers, each with its own event loop, on one
 * shared listening socket; the primary keeps what must be single and global: the one store writer (several processes
 * on one SQLite file would serialize on its lock and defeat group commit), the HTTP API with its events, waits and
 * metrics. A worker hands each message to the primary over IPC and answers 250 only once the primary says it is stored,
 * so durability is the same as in one process. With `--store none` the workers discard on their own, with no IPC.
 *
 * Connection limits are per process: each worker takes an equal share of --max-connections and
 * --max-clients-per-ip (the kernel spreads connections about evenly among the workers).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Envelope } from './smtp/core/types.js';
import type { Limits } from './smtp/core/limits.js';
import { startServer, type RunningServer } from './smtp/server/server.js';
import { StoreFullError, createDiscardSink, type ConnectionInfo, type MessageSink, type SessionRecord } from './store/index.js';
import { DEFAULT_SHUTDOWN_GRACE_MS } from './config.js';
import { createMetrics } from './metrics.js';
import { observerFor, smtpInfoOf, startBackend, type RunningService, type ServiceConfig } from './service.js';
import { serveFaults, workerFaultPolicy } from './faults/cluster-link.js';

/** The cluster's IPC, worker → primary: it listens, a message to store, a session to record, its live connections. */
type WorkerToPrimary =
  | Readonly<{ type: 'listening'; port: number; tlsPort?: number }>
  | Readonly<{ type: 'connections'; count: number }>
  | Readonly<{ type: 'save'; n: number; envelope: Envelope; connection: ConnectionInfo; receivedAt: number; raw: Uint8Array }>
  | Readonly<{ type: 'session'; n: number; session: SessionRecord }>;

/** The cluster's IPC, primary → worker: the answers to save and session (by `n`), and the order to stop. */
type PrimaryToWorker =
  | Readonly<{ type: 'saved'; n: number; id: string }>
  /** `full`: refused for want of room (the worker answers 452, not 451). */
  | Readonly<{ type: 'failed'; n: number; reason: string; full?: boolean }>
  | Readonly<{ type: 'shutdown'; graceMs: number }>;

const isWorkerToPrimary = (m: unknown): m is WorkerToPrimary =>
  typeof m === 'object' && m !== null && ['listening', 'connections', 'save', 'session'].includes((m as { type?: unknown }).type as string);
const isPrimaryToWorker = (m: unknown): m is PrimaryToWorker =>
  typeof m === 'object' && m !== null && ['saved', 'failed', 'shutdown'].includes((m as { type?: unknown }).type as string);

export const isClusterWorker = (): boolean => cluster.isWorker;

/** Each worker's share of the limits that count connections. */
export function shareOf(limits: Limits, workers: number): Limits {
  const share = (n: number): number => (n === 0 ? 0 : Math.max(1, Math.ceil(n / workers)));
  return { ...limits, maxClients: share(limits.maxClients), maxClientsPerIp: share(limits.maxClientsPerIp) };
}

/**
 * In the primary: the backend, then `workers` SMTP workers (each runs this same program with the same arguments and
 * calls runClusterWorker). Resolves once every worker listens.
 */
export async function startClusterPrimary(config: ServiceConfig, workers: number): Promise<RunningService> {
  // Connections go straight from the kernel to the workers, not through the primary (round-robin would make the
  // primary touch every connection, the cost a cluster is meant to spread).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ serialization: 'advanced' }); // Buffers cross as bytes, not as JSON arrays
  const aggregator = new AggregatorRegistry();
  const backend = await startBackend(config, { traffic: false, more: () => aggregator.clusterMetrics() });
  const { store, events } = backend;

  let stopping = false;
  const listening = new Map<Worker, { port: number; tlsPort?: number }>();
  const connections = new Map<Worker, number>(); // each worker's last report
  let allListening!: () => void;
  const ready = new Promise<void>((resolve) => (allListening = resolve));

  const onMessage = (worker: Worker, m: unknown): void => {
    if (!isWorkerToPrimary(m)) return;
    const answer = (reply: PrimaryToWorker): void => {
      if (worker.isConnected()) worker.send(reply);
    };
    switch (m.type) {
      case 'listening':
        listening.set(worker, m.tlsPort === undefined ? { port: m.port } : { port: m.port, tlsPort: m.tlsPort });
        if (listening.size === workers) allListening();
        return;
      case 'connections':
        connections.set(worker, m.count);
        return;
      case 'save': {
        const raw = Buffer.from(m.raw.buffer, m.raw.byteOffset, m.raw.byteLength);
        // The bytes arrived over IPC as a copy of their own: the store may move them to its writer as they are.
        store.save({ envelope: m.envelope, connection: m.connection, receivedAt: new Date(m.receivedAt), raw, transferRaw: true }).then(
          (id) => answer({ type: 'saved', n: m.n, id }), // announced once indexed: see startBackend
          (e: unknown) => answer({ type: 'failed', n: m.n, reason: e instanceof Error ? e.message : String(e), full: e instanceof StoreFullError }),
        );
        return;
      }
      case 'session':
        store.saveSession(m.session).then(
          (id) => {
            answer({ type: 'saved', n: m.n, id: id ?? '' });
            if (typeof id === 'string') events.emit('session-ended', { id });
          },
          (e: unknown) => answer({ type: 'failed', n: m.n, reason: String(e) }),
        );
        return;
    }
  };

  const fork = (): void => {
    const worker = cluster.fork();
    worker.on('message', (m: unknown) => onMessage(worker, m));
    serveFaults(worker, backend.faults);
    worker.on('exit', (code, signal) => {
      listening.delete(worker);
      connections.delete(worker);
      if (stopping) return;
      console.error(`mailwire: SMTP worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      fork();
    });
  };
  for (let i = 0; i < workers; i++) fork();
  await ready;
  const first = [...listening.values()][0] ?? { port: config.smtp.port };

  const smtp: RunningServer = {
    host: config.smtp.host,
    port: first.port,
    ...(first.tlsPort === undefined ? {} : { tlsPort: first.tlsPort }),
    // Counted in each worker (the kernel hands them their connections) and reported here as it changes.
    connectionCount: () => [...connections.values()].reduce((sum, n) => sum + n, 0),
    async close(graceMs = DEFAULT_SHUTDOWN_GRACE_MS) {
      stopping = true;
      const exits = Object.values(cluster.workers ?? {}).map((w) =>
        w === undefined || w.isDead() ? Promise.resolve() : new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
          w.send({ type: 'shutdown', graceMs } satisfies PrimaryToWorker);
        }));
      // Bounded: a worker that does not finish within the grace (plus a margin) is ended.
      const late = setTimeout(() => Object.values(cluster.workers ?? {}).forEach((w) => w?.kill('SIGKILL')), graceMs + 2000);
      await Promise.all(exits);
      clearTimeout(late);
    },
  };
  backend.describeSmtp(smtpInfoOf(config.smtp, smtp));
  return {
    smtp, http: backend.http, httpError: backend.httpError, store, events, metrics: backend.metrics, faults: backend.faults,
    async close(graceMs) {
      await smtp.close(graceMs); // the workers' last messages are stored through the primary's store
      await backend.close();
    },
  };
}

/** In a worker: the SMTP server alone, storing through the primary. Returns once listening; exits on 'shutdown'. */
export async function runClusterWorker(config: ServiceConfig, workers: number): Promise<void> {
  const metrics = createMetrics({ processMetrics: false });
  // The primary's /metrics asks every worker for these; constructing an AggregatorRegistry is what makes prom-client
  // answer those requests in a worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  const keeps = config.store.kind !== 'none';
  const sink = keeps ? createPrimarySink() : createDiscardSink();
  // The live count goes to the primary at most once per turn of the event loop, however many connections come and go.
  let count = 0;
  let scheduled = false;
  const reportConnections = (n: number): void => {
    count = n;
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      send({ type: 'connections', count });
    });
  };
  const smtp = await startServer({
    ...config.smtp,
    limits: shareOf(config.smtp.limits, workers),
    sink,
    recordSessions: keeps,
    faults: workerFaultPolicy(),
    observer: { ...observerFor(metrics, null), connectionsChanged: reportConnections },
  });
  process.on('message', (m: unknown) => {
    if (isPrimaryToWorker(m) && m.type === 'shutdown') {
      void smtp.close(m.graceMs).then(() => sink.close()).then(() => process.exit(0));
    }
  });
  // Ctrl-C reaches the whole process group: the primary decides when each worker stops.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  send({ type: 'listening', port: smtp.port, ...(smtp.tlsPort === undefined ? {} : { tlsPort: smtp.tlsPort }) });
}

function send(m: WorkerToPrimary): void {
  if (process.connected) process.send?.(m);
}

/** A sink that stores through the primary: each save resolves with the id once the primary's store has it. */
function createPrimarySink(): MessageSink {
  let next = 0;
  const pending = new Map<number, { resolve: (id: string) => void; reject: (e: Error) => void }>();
  process.on('message', (m: unknown) => {
    if (!isPrimaryToWorker(m) || m.type === 'shutdown') return;
    const p = pending.get(m.n);
    pending.delete(m.n);
    if (m.type === 'saved') p?.resolve(m.id);
    else p?.reject(m.full === true ? new StoreFullError(m.reason) : new Error(m.reason));
  });
  const ask = (make: (n: number) => WorkerToPrimary): Promise<string> =>
    new Promise((resolve, reject) => {
      const n = ++next;
      pending.set(n, { resolve, reject });
      send(make(n));
    });
  return {
    save: (m) => ask((n) => ({
      // A copy of its own: a small Buffer views a shared 8 KiB pool, which would otherwise cross whole.
      type: 'save', n, envelope: m.envelope, connection: m.connection, receivedAt: m.receivedAt.getTime(), raw: new Uint8Array(m.raw),
    })),
    saveSession: (session) => ask((n) => ({ type: 'session', n, session })),
    close: () => Promise.resolve(),
  };
}
