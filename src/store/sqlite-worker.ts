/**
 * The SQLite writer thread. Theory of operation: this thread owns the only write connection. The main thread
 * forwards every write op as it comes (saves made in the same tick travel in one message). Each op is parsed on
 * arrival (MIME parsing is CPU work the SMTP event loop should not do) and queued; a commit is scheduled with
 * setImmediate, so it runs once the port's queued messages have all been handled, and takes every parsed op in
 * ONE transaction: group commit. While a commit (and its fsync: WAL + synchronous=FULL) blocks this thread, new ops
 * pile up in the port and become the next group. Only after the commit returns does the worker answer, so every
 * save() resolves after its bytes are on disk. Ops run without savepoints first; if one fails the transaction is
 * rolled back and replayed with a SAVEPOINT per op, so one bad op fails alone and leaves nothing. If the commit
 * itself fails, every op in it fails. Retention runs after answering, in small transactions of its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { useMemoryBlob } from './memory-blob.js';
import { parseMessage, type ParsedMessage } from './parse.js';
import { insertRows, migrate } from './sqlite-schema.js';
import { assertNever } from '../assert-never.js';
import { searchCondition } from './sqlite-search.js';
import type { FromWorker, OpResult, ToWorker, WorkerConfig, WriteOp } from './sqlite-protocol.js';

const PRUNE_BATCH = 1000;

if (parentPort === null) throw new Error('sqlite-worker must run as a worker thread');
useMemoryBlob(); // before any parse: see memory-blob.ts
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
  // Checkpoints move WAL pages into the database file; done by us after answering (see checkpointSoon), never
  // inside a commit that senders are waiting on.
  db.pragma('wal_autocheckpoint = 0');
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
  delRaw: db.prepare('DELETE FROM message_raw WHERE seq = ?'),
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
    sql.delRaw.run(seq);
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
        db.exec("DELETE FROM messages; DELETE FROM message_raw; INSERT INTO messages_fts(messages_fts) VALUES('delete-all');");
      } else deleteSeqs(rows.map((r) => r.seq));
      delta.messages -= rows.length;
      return { count: rows.length, ids: rows.map((r) => r.id) };
    }
    default:
      return assertNever(op);
  }
}

const applyOne = db.transaction(applyOp); // nested inside a batch: a SAVEPOINT per op

type Ready = { n: number; op: WriteOp; parsed: ParsedMessage | undefined };

/** The fast path: every op straight into one transaction; any failure throws and rolls it all back. */
const applyAll = db.transaction((ops: readonly Ready[], delta: Delta): OpResult[] =>
  ops.map(({ op, parsed }): OpResult => ({ ok: true, ...applyOp(op, parsed, delta) })));

/** The careful path, after a failure: each op in its own savepoint, so only the bad ones fail. */
const applyEach = db.transaction((ops: readonly Ready[], delta: Delta): OpResult[] =>
  ops.map(({ op, parsed }): OpResult => {
    const opDelta: Delta = { messages: 0, sessions: 0 };
    try {
      const r = applyOne(op, parsed, opDelta);
      delta.messages += opDelta.messages;
      delta.sessions += opDelta.sessions;
      return { ok: true, ...r };
    } catch (e) {
      if (!db.inTransaction) throw e; // SQLite rolled the whole transaction back (disk full, I/O): fail the batch
      return { ok: false, error: message(e) };
    }
  }),
);

let ready: Ready[] = [];
let commitScheduled = false;

async function receive(ops: readonly { n: number; op: WriteOp }[]): Promise<void> {
  for (const { n, op } of ops) {
    let parsed: ParsedMessage | undefined;
    if (op.op === 'message') parsed = await parseMessage(op.raw);
    ready.push({ n, op, parsed });
  }
  scheduleCommit();
}

function scheduleCommit(): void {
  if (commitScheduled || ready.length === 0) return;
  commitScheduled = true;
  setImmediate(commit);
}

function commit(): void {
  commitScheduled = false;
  const group = ready;
  ready = [];
  if (group.length === 0) return;
  const ns = group.map((r) => r.n);
  try {
    let delta: Delta = { messages: 0, sessions: 0 };
    let results: OpResult[];
    try {
      results = applyAll(group, delta);
    } catch {
      delta = { messages: 0, sessions: 0 };
      results = applyEach(group, delta);
    }
    counts.messages += delta.messages;
    counts.sessions += delta.sessions;
    post({ type: 'done', committed: true, ns, results });
  } catch (e) {
    post({ type: 'done', committed: false, ns, error: message(e) });
  }
  if (overLimit()) schedulePrune();
  if (++commitsSinceCheckpoint >= CHECKPOINT_EVERY) checkpointSoon();
}

const CHECKPOINT_EVERY = 100;
let commitsSinceCheckpoint = 0;
let checkpointScheduled = false;
function checkpointSoon(): void {
  if (checkpointScheduled) return;
  checkpointScheduled = true;
  setImmediate(() => {
    checkpointScheduled = false;
    if (closing) return;
    commitsSinceCheckpoint = 0;
    db.pragma('wal_checkpoint(PASSIVE)');
  });
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
    case 'ops':
      return receive(m.ops);
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
      commit(); // anything parsed but not yet committed was promised
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
