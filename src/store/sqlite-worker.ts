/**
 * The SQLite writer thread. Theory of operation: this thread owns the only write connection. The main thread sends
 * it one batch at a time (everything that arrived while the previous batch was committing: group commit). For a
 * batch it parses each new message (MIME parsing is CPU work the SMTP event loop should not do), then applies every
 * op in ONE transaction, each op in its own savepoint so one bad op fails alone, and commits; with WAL and
 * synchronous=FULL the commit returns only after fsync. Only then does it answer, so every save()'s promise
 * resolves after its bytes are on disk. If the commit itself fails, the whole batch is rolled back and every op
 * in it fails. Retention runs after answering, in small transactions of its own, off the commit path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { parseMessage, type ParsedMessage } from './parse.js';
import { insertRows, migrate } from './sqlite-schema.js';
import { searchCondition, assertNever } from './sqlite-search.js';
import type { FromWorker, OpResult, ToWorker, WorkerConfig, WriteOp } from './sqlite-protocol.js';

const PRUNE_BATCH = 1000;

if (parentPort === null) throw new Error('sqlite-worker must run as a worker thread');
const port = parentPort;
const cfg = workerData as WorkerConfig;
const post = (m: FromWorker): void => port.postMessage(m);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

let db: Database.Database;
try {
  db = new Database(cfg.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL'); // fsync the WAL at every commit: a resolved save survives power loss
  db.pragma('busy_timeout = 5000');
  const version = migrate(db);
  post({ type: 'ready', version });
} catch (e) {
  post({ type: 'open-failed', error: message(e) });
  throw e;
}

const counts = {
  messages: (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n,
  sessions: (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n,
};

const sql = {
  session: db.prepare(`INSERT INTO sessions (id, started_at, ended_at, end_reason, connection, message_ids, truncated, transcript)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  setRead: db.prepare('UPDATE messages SET read = ? WHERE id = ?'),
  seqOf: db.prepare('SELECT seq FROM messages WHERE id = ?').pluck(),
  delMessage: db.prepare('DELETE FROM messages WHERE seq = ?'),
  delBody: db.prepare('DELETE FROM message_body WHERE seq = ?'),
  delFts: db.prepare('DELETE FROM messages_fts WHERE rowid = ?'),
  oldestMessages: db.prepare('SELECT seq FROM messages ORDER BY seq LIMIT ?').pluck(),
  expiredMessages: db.prepare('SELECT seq FROM messages WHERE received_at < ? ORDER BY received_at LIMIT ?').pluck(),
  oldestSessions: db.prepare('SELECT seq FROM sessions ORDER BY seq LIMIT ?').pluck(),
  expiredSessions: db.prepare('SELECT seq FROM sessions WHERE started_at < ? ORDER BY started_at LIMIT ?').pluck(),
  delSession: db.prepare('DELETE FROM sessions WHERE seq = ?'),
};

type Delta = { messages: number; sessions: number };

function deleteSeqs(seqs: readonly number[]): number {
  let n = 0;
  for (const seq of seqs) {
    n += sql.delMessage.run(seq).changes;
    sql.delBody.run(seq);
    sql.delFts.run(seq);
  }
  return n;
}

function applyOp(op: WriteOp, parsed: ParsedMessage | undefined, delta: Delta): Omit<OpResult & { ok: true }, 'ok'> {
  switch (op.op) {
    case 'message': {
      if (parsed === undefined) throw new Error('message op without a parse');
      const raw = Buffer.from(op.raw.buffer, op.raw.byteOffset, op.raw.byteLength);
      insertRows(db, { id: op.id, receivedAt: op.receivedAt, size: raw.byteLength, read: false, envelope: op.envelope, connection: op.connection, raw }, parsed);
      delta.messages++;
      return { count: 1, ids: [] };
    }
    case 'session':
      sql.session.run(op.id, op.startedAt, op.endedAt, op.end, JSON.stringify(op.connection), JSON.stringify(op.messageIds),
        op.truncated ? 1 : 0, JSON.stringify(op.transcript));
      delta.sessions++;
      return { count: 1, ids: [] };
    case 'set-read':
      return { count: sql.setRead.run(op.read ? 1 : 0, op.id).changes, ids: [] };
    case 'delete': {
      const seq = sql.seqOf.get(op.id) as number | undefined;
      const n = seq === undefined ? 0 : deleteSeqs([seq]);
      delta.messages -= n;
      return { count: n, ids: n > 0 ? [op.id] : [] };
    }
    case 'delete-query': {
      const cond = searchCondition(op.query);
      const rows = db.prepare(`SELECT m.seq, m.id FROM messages m WHERE ${cond.sql} ORDER BY m.seq`).all(...cond.params) as { seq: number; id: string }[];
      if (op.query.clauses.length === 0) {
        db.exec("DELETE FROM messages; DELETE FROM message_body; INSERT INTO messages_fts(messages_fts) VALUES('delete-all');");
      } else deleteSeqs(rows.map((r) => r.seq));
      delta.messages -= rows.length;
      return { count: rows.length, ids: rows.map((r) => r.id) };
    }
    default:
      return assertNever(op);
  }
}

const applyOne = db.transaction(applyOp); // nested inside applyBatch: a SAVEPOINT per op
const applyBatch = db.transaction((ops: readonly WriteOp[], parsed: ReadonlyMap<number, ParsedMessage>, delta: Delta): OpResult[] =>
  ops.map((op, i): OpResult => {
    const opDelta: Delta = { messages: 0, sessions: 0 };
    try {
      const r = applyOne(op, parsed.get(i), opDelta);
      delta.messages += opDelta.messages;
      delta.sessions += opDelta.sessions;
      return { ok: true, ...r };
    } catch (e) {
      if (!db.inTransaction) throw e; // SQLite rolled the whole transaction back (disk full, I/O): fail the batch
      return { ok: false, error: message(e) };
    }
  }),
);

async function runBatch(batch: number, ops: readonly WriteOp[]): Promise<void> {
  const parsed = new Map<number, ParsedMessage>();
  for (const [i, op] of ops.entries()) if (op.op === 'message') parsed.set(i, await parseMessage(op.raw));
  const delta: Delta = { messages: 0, sessions: 0 };
  try {
    const results = applyBatch(ops, parsed, delta);
    counts.messages += delta.messages;
    counts.sessions += delta.sessions;
    post({ type: 'done', batch, committed: true, results });
  } catch (e) {
    post({ type: 'done', batch, committed: false, error: message(e) });
  }
  if (overLimit()) schedulePrune();
}

// ---- retention ---------------------------------------------------------------------------------------------------

const pruneStep = db.transaction((now: number): Delta => {
  const take = (excess: number): number => Math.min(Math.max(excess, 0), PRUNE_BATCH);
  const seqs = new Set<number>();
  if (cfg.maxMessages > 0) for (const s of sql.oldestMessages.all(take(counts.messages - cfg.maxMessages)) as number[]) seqs.add(s);
  if (cfg.maxAgeMs > 0) for (const s of sql.expiredMessages.all(now - cfg.maxAgeMs, PRUNE_BATCH) as number[]) seqs.add(s);
  const sessions = new Set<number>();
  if (cfg.maxMessages > 0) for (const s of sql.oldestSessions.all(take(counts.sessions - cfg.maxMessages)) as number[]) sessions.add(s);
  if (cfg.maxAgeMs > 0) for (const s of sql.expiredSessions.all(now - cfg.maxAgeMs, PRUNE_BATCH) as number[]) sessions.add(s);
  let s = 0;
  for (const seq of sessions) s += sql.delSession.run(seq).changes;
  return { messages: deleteSeqs([...seqs]), sessions: s };
});

function pruneOnce(): Delta {
  const d = pruneStep(Date.now());
  counts.messages -= d.messages;
  counts.sessions -= d.sessions;
  return d;
}

const overLimit = (): boolean =>
  cfg.maxMessages > 0 && (counts.messages > cfg.maxMessages || counts.sessions > cfg.maxMessages);

let pruneScheduled = false;
function schedulePrune(): void {
  if (pruneScheduled) return;
  pruneScheduled = true;
  // setImmediate: batches that arrived meanwhile are handled first; each step is one short transaction.
  setImmediate(() => {
    pruneScheduled = false;
    if (closing) return;
    const d = pruneOnce();
    if (d.messages > 0 || d.sessions > 0) schedulePrune();
  });
}

const ageTimer = cfg.maxAgeMs > 0 ? setInterval(schedulePrune, Math.min(60_000, Math.max(1000, cfg.maxAgeMs / 10))) : null;
ageTimer?.unref();

// ---- the loop ----------------------------------------------------------------------------------------------------

let closing = false;
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: ToWorker) => {
  chain = chain.then(() => handle(m)).catch((e: unknown) => {
    console.error('mailwire sqlite writer:', e);
  });
});

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'batch':
      return runBatch(m.batch, m.ops);
    case 'prune': {
      const total: Delta = { messages: 0, sessions: 0 };
      // Bounded: each step deletes at least one row or ends the loop.
      for (let i = 0; i < 1_000_000; i++) {
        const d = pruneOnce();
        total.messages += d.messages;
        total.sessions += d.sessions;
        if (d.messages === 0 && d.sessions === 0) break;
      }
      post({ type: 'pruned', request: m.request, ...total });
      return;
    }
    case 'close':
      closing = true;
      if (ageTimer !== null) clearInterval(ageTimer);
      db.close();
      post({ type: 'closed' });
      port.close();
      return;
    default:
      assertNever(m);
  }
}
