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
import { StoreFullError, StoreUnavailableError, createDiscardSink, type ConnectionInfo, type MessageSink, type SessionRecord } from './store/index.js';
import { SaveDeadline, withDeadline } from './store/deadline.js';
import { RequestChannel, parentProcessEndpoint, serveCalls, CodedError } from './request-channel.js';
import { DEFAULT_SHUTDOWN_GRACE_MS, storeTimeoutOf } from './config.js';
import { createMetrics } from './metrics.js';
import { observerFor, smtpInfoOf, startBackend, type RunningService, type ServiceConfig } from './service.js';
import { serveFaults, workerFaultPolicy } from './faults/cluster-link.js';
import { logWarning } from './log.js';

/** The cluster's IPC, worker → primary, besides the store's calls: it listens, its live connections. */
type WorkerToPrimary =
  | Readonly<{ type: 'listening'; port: number; tlsPort?: number }>
  | Readonly<{ type: 'connections'; count: number }>;

/** The cluster's IPC, primary → worker, besides the store's answers: the order to stop. */
type PrimaryToWorker = Readonly<{ type: 'shutdown'; graceMs: number }>;

/**
 * A worker's saves and sessions go to the primary's store on a RequestChannel of this name. A save carries its
 * deadline (`deadlineAt`, ms since the epoch): the primary's store leaves it out of its commit once that has passed,
 * less STORE_IPC_MARGIN_MS for the commit's answer to travel back, so a worker that said 451 finds nothing stored.
 */
const STORE_CHANNEL = 'cluster-store';
type StoreCall =
  | Readonly<{ kind: 'save'; envelope: Envelope; connection: ConnectionInfo; receivedAt: number; raw: Uint8Array; deadlineAt: number }>
  | Readonly<{ kind: 'session'; session: SessionRecord }>;
type StoreAnswers = { save: string; session: string };
const STORE_IPC_MARGIN_MS = 1000;
const ipcMargin = (storeTimeoutMs: number): number => Math.min(STORE_IPC_MARGIN_MS, storeTimeoutMs / 10);

const isWorkerToPrimary = (m: unknown): m is WorkerToPrimary =>
  typeof m === 'object' && m !== null && ['listening', 'connections'].includes((m as { type?: unknown }).type as string);
const isPrimaryToWorker = (m: unknown): m is PrimaryToWorker =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'shutdown';

export const isClusterWorker = (): boolean => cluster.isWorker;

/** Each worker's share of the limits that count connections. */
export function shareOf(limits: Limits, workers: number): Limits {
  const share = (n: number): number => (n === 0 ? 0 : Math.max(1, Math.ceil(n / workers)));
  return {
    ...limits, maxClients: share(limits.maxClients), maxClientsPerIp: share(limits.maxClientsPerIp),
    maxClientsPerRemoteIp: share(limits.maxClientsPerRemoteIp),
    spoolMemoryBytes: share(limits.spoolMemoryBytes), spoolDiskBytes: share(limits.spoolDiskBytes),
  };
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

  const { storeTimeoutMs } = backend;
  const deadlined = withDeadline(store, { storeTimeoutMs, watch: backend.saves });
  const answerStore = async (call: StoreCall): Promise<string> => {
    switch (call.kind) {
      case 'save': {
        const raw = Buffer.from(call.raw.buffer, call.raw.byteOffset, call.raw.byteLength);
        // The bytes arrived over IPC as a copy of their own: the store may move them to its writer as they are.
        const deadline = new SaveDeadline(call.deadlineAt - ipcMargin(storeTimeoutMs));
        try {
          // announced once indexed: see startBackend
          return await deadlined.save({ envelope: call.envelope, connection: call.connection, receivedAt: new Date(call.receivedAt), raw, transferRaw: true, deadline });
        } catch (e) {
          throw e instanceof StoreFullError ? new CodedError(e.message, 'full') : e;
        }
      }
      case 'session': {
        const id = (await store.saveSession(call.session)) ?? '';
        if (id !== '') events.emit('session-ended', { id });
        return id;
      }
    }
  };

  const onMessage = (worker: Worker, m: unknown): void => {
    if (!isWorkerToPrimary(m)) return;
    switch (m.type) {
      case 'listening':
        listening.set(worker, m.tlsPort === undefined ? { port: m.port } : { port: m.port, tlsPort: m.tlsPort });
        if (listening.size === workers) allListening();
        return;
      case 'connections':
        connections.set(worker, m.count);
        return;
    }
  };

  const fork = (): void => {
    const worker = cluster.fork();
    const serveStore = serveCalls<StoreCall>(STORE_CHANNEL, answerStore, (answer) => {
      if (worker.isConnected()) worker.send(answer);
    });
    worker.on('message', (m: unknown) => {
      if (!serveStore(m)) onMessage(worker, m);
    });
    serveFaults(worker, backend.faults);
    worker.on('exit', (code, signal) => {
      listening.delete(worker);
      connections.delete(worker);
      if (stopping) return;
      logWarning(`mailwire: SMTP worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
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
    smtp, http: backend.http, httpError: backend.httpError, compat: backend.compat, readers: backend.readers, store, events, metrics: backend.metrics, faults: backend.faults,
    ...(backend.webhooks ? { webhookSecret: backend.webhooks.configuredSecret } : {}),
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
  const sink = keeps ? createPrimarySink(storeTimeoutOf(config.store)) : createDiscardSink();
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
    storeTimeoutMs: storeTimeoutOf(config.store),
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

/**
 * A sink that stores through the primary: each save resolves with the id once the primary's store has it. Its
 * deadline (withDeadline's, in startServer) goes with it; a primary that never answers cannot hold the session past it.
 */
function createPrimarySink(storeTimeoutMs: number): MessageSink {
  const channel = new RequestChannel<StoreCall, StoreAnswers>({
    channel: STORE_CHANNEL, name: 'the cluster primary', open: parentProcessEndpoint,
    failure: (error, code) =>
      code === 'full' ? new StoreFullError(error)
        : code === 'lost' || code === 'deadline' || code === 'closed' ? new StoreUnavailableError(`${error}; the message was not stored`)
        : new Error(error),
  });
  return {
    save: (m) => {
      const deadline = m.deadline ?? new SaveDeadline(Date.now() + storeTimeoutMs);
      return channel.call({
        // A copy of its own: a small Buffer views a shared 8 KiB pool, which would otherwise cross whole.
        kind: 'save', envelope: m.envelope, connection: m.connection, receivedAt: m.receivedAt.getTime(), raw: new Uint8Array(m.raw), deadlineAt: deadline.at,
      }, { deadline: { at: deadline.at, cut: () => deadline.cut() } });
    },
    saveSession: (session) => channel.call({ kind: 'session', session }),
    close: () => Promise.resolve(),
  };
}
