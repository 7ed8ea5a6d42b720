/**
 * The SQLite writer thread: it owns the only write connection. Theory of operation (issue 11):
 *
 * Durable first. The main thread forwards every write op as it comes (the saves of one tick in one message, their
 * bytes transferred, not copied). Ops wait in `ready` until their group is due (see commitDue: a full group, 1 ms, or
 * an indexer with nothing to do), then every op that arrived is committed together: group commit (issue 31). The
 * group's messages become records of the segment log (./segment-log.ts: one writev, one fdatasync, the bytes written
 * once); then ONE SQLite transaction writes their metadata (`message_pending`: envelope, connection; `message_segment`:
 * where the record is; `log_state`: where the log now ends) with the group's other ops, in WAL with synchronous=NORMAL
 * (no fsync of its own: the log is the truth, and recovery restores from it any row a power loss took). The writer
 * answers once that commit returns, and the server sends its 250.
 *
 * Searchable after. Every committed message joins the index queue (its bytes kept in memory up to a bound, else read
 * back). The indexer hands a slice of them to the index thread (index-thread.ts: headers and text parts, attachment
 * bodies left out, each message within a CPU-time budget past which only its headers are indexed), and commits go on
 * while they are parsed: this thread's index work between two commits is reading bytes back and writing a batch
 * (issue 25: a hostile message once held every sender's 250 for seconds here). Parsed messages are written in batches (up to 128,
 * or after 20 ms: each transaction writes a full-text segment), in one synchronous=NORMAL transaction: each `messages`
 * row and full-text entry, and its pending row deleted; then the main thread is told which messages became searchable.
 *
 * Recovery. At open, the log is read past the end `log_state` records: each record the database lacks gets its rows
 * back (a torn tail is cut off, a damaged record dropped, each with a log line). Then every pending row (a crash
 * between a commit and its index) is indexed before 'ready' is posted, so open() resolves with everything
 * acknowledged searchable.
 *
 * Failures. Ops run without savepoints first; if one fails, the transaction is rolled back and replayed with a SAVEPOINT
 * per op, so one bad op fails alone and leaves nothing. If the commit itself fails, every op in it fails and the log is
 * cut back to where the group began; a full disk (ENOSPC while appending, SQLITE_FULL) is reported as such (the server
 * answers 452 and the session goes on). Retention runs after answering, in small transactions of its own; a segment
 * none of whose records is live any more is unlinked.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Envelope } from '../../smtp/core/types.js';
import { useMemoryBlob } from '../memory/blob.js';
import type { IndexEntry } from '../parse.js';
import { IndexThread } from '../index-thread.js';
import { insertIndexed, insertPending, migrate } from './schema.js';
import { SegmentLog, isNoSpace, readRecord, type RecordLocation } from './segment-log.js';
import { moveRawToLog, recoverLog } from './log-recovery.js';
import { Compactor } from './compaction.js';
import { assertNever } from '../../assert-never.js';
import { searchCondition } from './search.js';
import { WRITER_CHANNEL, type IndexState, type OpResult, type WriteOp, type WriterCall, type WriterConfig, type WriterReply } from './protocol.js';
import type { Answer, AnswerMessage, CallMessage } from '../../request-channel.js';
import { takeSave } from '../deadline.js';
import type { MessageSummary } from '../types.js';
import { logError, logWarning } from '../../log.js';

const PRUNE_BATCH = 1000;
/** One indexer slice: at most this many messages, or this much time parsing, before commits get their turn again. */
const INDEX_SLICE_MESSAGES = 256;
const INDEX_SLICE_MS = 8;
/** Bytes of queued messages kept in memory for the indexer; past this, it reads them back from the database. */
const INDEX_QUEUE_BYTES = 64 * 1024 * 1024;
/** After a failed index transaction (disk full), the indexer waits this long before it tries again. */
const INDEX_RETRY_MS = 1000;
/** A clean close indexes what is left first, for at most this long (the rest is recovered at the next open). */
const CLOSE_INDEX_MS = 10_000;

if (parentPort === null) throw new Error('sqlite-writer must run as a worker thread');
useMemoryBlob(); // before any parse: see memory-blob.ts
const port = parentPort;
const cfg = workerData as WriterConfig;
/** Parses for the index off this thread, each message within its CPU budget (issue 25). */
const indexer = new IndexThread();
const post = (m: WriterReply): void => port.postMessage(m);
const answer = (answers: Answer[]): void => port.postMessage({ channel: WRITER_CHANNEL, answers } satisfies AnswerMessage);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** SQLITE_FULL (the disk is full or max_page_count is reached), or no space to append to the log. */
const isFull = (e: unknown): boolean => (e instanceof Error && (e as { code?: unknown }).code === 'SQLITE_FULL') || isNoSpace(e);

let db: Database.Database;
let log: SegmentLog;
try {
  db = new Database(cfg.file);
  db.pragma('journal_mode = WAL');
  // No fsync per commit: the bytes and envelope behind a 250 are fdatasync'd in the segment log first (see recoverLog).
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // Checkpoints move WAL pages into the database file; done by us after answering (see checkpointSoon), never
  // inside a commit that senders are waiting on.
  db.pragma('wal_autocheckpoint = 0');
  if (cfg.testing.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.trunc(cfg.testing.maxPageCount)}`);
  migrate(db);
  log = new SegmentLog(cfg.segmentsDir, { segmentSize: cfg.segmentSize, ...(cfg.testing.maxLogBytes === undefined ? {} : { maxBytes: cfg.testing.maxLogBytes }) });
} catch (e) {
  post({ type: 'open-failed', error: message(e) });
  throw e;
}

const journalMode = db.pragma('journal_mode', { simple: true }) as string;
const SYNCHRONOUS = ['off', 'normal', 'full', 'extra'] as const;

/** Read back for each commit's report. */
const readSync = db.prepare('PRAGMA synchronous').pluck();

const counts = {
  messages: (db.prepare('SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM message_pending) AS n').get() as { n: number }).n,
  sessions: (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n,
};
try {
  recoverLog(db, log);
  moveRawToLog(db, log);
} catch (e) {
  post({ type: 'open-failed', error: `segment log recovery: ${message(e)}` });
  throw e;
}

/** The writer picks every message's seq (one counter over indexed and pending messages, never reused), so the indexer keeps it. */
let nextSeq = Math.max((db.prepare('SELECT next_seq FROM log_state').pluck().get() as number), 1 + (db.prepare(`SELECT max((SELECT coalesce(max(seq), 0) FROM messages),
  (SELECT coalesce(max(seq), 0) FROM message_pending), (SELECT coalesce(max(seq), 0) FROM message_raw), (SELECT coalesce(max(seq), 0) FROM message_segment)) AS n`).get() as { n: number }).n);

const sql = {
  session: db.prepare(`INSERT INTO sessions (id, started_at, ended_at, end_reason, connection, message_ids, truncated, transcript, said)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  setRead: db.prepare('UPDATE messages SET read = ? WHERE id = ?'),
  setReadPending: db.prepare('UPDATE message_pending SET read = ? WHERE id = ?'),
  seqOf: db.prepare('SELECT seq FROM messages WHERE id = ?').pluck(),
  delPendingById: db.prepare('DELETE FROM message_pending WHERE id = ? RETURNING seq').pluck(),
  pendingIds: db.prepare('SELECT id FROM message_pending ORDER BY seq').pluck(),
  pendingRows: db.prepare('SELECT seq, committed_at FROM message_pending ORDER BY seq'),
  pendingBytes: db.prepare(`SELECT p.id, p.envelope, r.raw, s.segment, s.offset, s.length FROM message_pending p
    LEFT JOIN message_raw r ON r.seq = p.seq LEFT JOIN message_segment s ON s.seq = p.seq WHERE p.seq = ?`),
  delMessage: db.prepare('DELETE FROM messages WHERE seq = ?'),
  delRaw: db.prepare('DELETE FROM message_raw WHERE seq = ?'),
  /** The record of a message deleted: dead in its segment (the segment, for the unlink of segments all dead). */
  delSegment: db.prepare('DELETE FROM message_segment WHERE seq = ? RETURNING segment').pluck(),
  segmentLive: db.prepare('SELECT 1 FROM message_segment WHERE segment = ? LIMIT 1').pluck(),
  mark: db.prepare('UPDATE log_state SET segment = ?, offset = ?, next_seq = ?'),
  delFts: db.prepare('DELETE FROM messages_fts WHERE rowid = ?'),
  delLeft: db.prepare('DELETE FROM message_inbox_left WHERE message_seq = ?'),
  leave: db.prepare('INSERT OR IGNORE INTO message_inbox_left (message_seq, address) VALUES (?, ?)'),
  /** How many inboxes the message is still in: its distinct recipients, lowercased, less those it left. */
  inboxesLeft: db.prepare(`SELECT count(DISTINCT lower(r.value)) FROM messages m, json_each(m.envelope, '$.to') r WHERE m.seq = ?
    AND NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.message_seq = m.seq AND l.address = lower(r.value))`).pluck(),
  oldestMessages: db.prepare('SELECT seq FROM messages ORDER BY seq LIMIT ?').pluck(),
  expiredMessages: db.prepare('SELECT seq FROM messages WHERE received_at < ? ORDER BY received_at LIMIT ?').pluck(),
  oldestSessions: db.prepare('SELECT seq FROM sessions ORDER BY seq LIMIT ?').pluck(),
  expiredSessions: db.prepare('SELECT seq FROM sessions WHERE started_at < ? ORDER BY started_at LIMIT ?').pluck(),
  delSession: db.prepare('DELETE FROM sessions WHERE seq = ?'),
  /** For the inboxes of $1 (a JSON array), their messages beyond the newest $2 (not counting those that left). */
  overInboxLimit: db.prepare(`SELECT seq, id, address FROM (
      SELECT x.seq, x.id, x.address, row_number() OVER (PARTITION BY x.address ORDER BY x.seq DESC) AS n FROM (
        SELECT DISTINCT m.seq, m.id, lower(r.value) AS address FROM messages m, json_each(m.envelope, '$.to') r
        WHERE lower(r.value) IN (SELECT value FROM json_each(?))) x
      WHERE NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.message_seq = x.seq AND l.address = x.address))
    WHERE n > ? ORDER BY seq`),
};

// ---- the index queue ---------------------------------------------------------------------------------------------

/** A message durable but not yet indexed. `raw`/`envelope` null: read them back from the database when its turn comes. */
type Queued = { seq: number; committedAt: number; raw: Uint8Array | null; envelope: Envelope | null };
let queue: Queued[] = [];
let queueHead = 0;
let queuedBytes = 0;

/** Messages durable but not yet searchable: queued, or parsed and waiting for their batch to be written. */
const backlog = (): number => queue.length - queueHead + parsed.length;
const indexState = (): IndexState => ({ backlog: backlog(), oldestPendingAt: parsed[0]?.queued.committedAt ?? queue[queueHead]?.committedAt ?? null });

function enqueue(q: Queued): void {
  if (q.raw !== null) {
    if (queuedBytes + q.raw.byteLength > INDEX_QUEUE_BYTES) {
      q.raw = null;
      q.envelope = null;
    } else queuedBytes += q.raw.byteLength;
  }
  queue.push(q);
}

function dequeue(): Queued | undefined {
  const q = queue[queueHead];
  if (q === undefined) return undefined;
  queue[queueHead++] = undefined as unknown as Queued; // let its bytes go
  if (queueHead > 4096 && queueHead * 2 > queue.length) {
    queue = queue.slice(queueHead);
    queueHead = 0;
  }
  if (q.raw !== null) queuedBytes -= q.raw.byteLength;
  return q;
}

for (const row of sql.pendingRows.all() as { seq: number; committed_at: number }[]) {
  enqueue({ seq: row.seq, committedAt: row.committed_at, raw: null, envelope: null });
}

type Parsed = { seq: number; entry: IndexEntry; queued: Queued; bytes: number };
type PendingBytes = { id: string; envelope: string; raw: Buffer | null; segment: number | null; offset: number; length: number };

/** A pending message's bytes: from its record in the log (CRC checked), or from message_raw for a row older than v8. */
function rawOf(row: PendingBytes): Uint8Array | null {
  if (row.segment === null) return row.raw;
  const r = readRecord(log.dir, { segment: row.segment, offset: row.offset, length: row.length }, row.id);
  if (r.ok) return r.body;
  logWarning(`mailwire sqlite store: message ${row.id} (segment ${row.segment}, offset ${row.offset}): ${r.reason}; not indexed`);
  return null;
}

/** The index transaction: each parsed message becomes searchable, in seq order; returns their summaries. */
const writeIndex = db.transaction((batch: readonly Parsed[]): MessageSummary[] => {
  const out: MessageSummary[] = [];
  for (const { seq, entry } of batch) {
    const row = insertIndexed(db, seq, entry);
    if (row === null) continue; // deleted while it waited
    out.push({
      id: row.id, receivedAt: new Date(row.received_at).toISOString(), size: row.size, read: row.read === 1, ...entry.summary,
      envelope: JSON.parse(row.envelope) as Envelope,
    });
  }
  return out;
});

/**
 * Parsed, not yet written: the indexer parses in small slices (a group of saves that is due stops it between two
 * parses) but writes in batches, since each transaction writes a new full-text segment and merges segments: batches
 * of 12 cost about twice as much per message as batches of 80 (measured at 20 connections × 1 KB).
 */
let parsed: Parsed[] = [];
/** Write the parsed batch once it holds this many messages, or once its oldest waited this long (the index lag it adds). */
const INDEX_WRITE_BATCH = 128;
const INDEX_WRITE_WAIT_MS = 20;
/**
 * Or once it holds this many bytes of messages: the full-text write costs about its text's length (0.4 ms for 100 KB),
 * and saves wait behind it. 128 messages of 100 KB made one transaction of some 50 ms; with 1 MiB, 20 senders of
 * 100 KB saw the 250 after the data p99 47-56 ms against 58-70 (`mailwire bench --connections 20 --size 100KB
 * --duration 10s` against `mailwire server --dialect smtp`; `npm run bench -- --only ours-sqlite-smtp` has the row).
 */
const INDEX_WRITE_BATCH_BYTES = 1024 * 1024;
let parsedSince = 0;
let parsedBytes = 0;
/** Wakes the indexer when a parsed batch that is not full becomes due. */
let indexWriteTimer: NodeJS.Timeout | null = null;

/**
 * One slice of indexing: parse up to `maxMessages` queued messages (or for `budgetMs`, or until a save arrives), then
 * write the parsed batch when it is due, in one transaction without an fsync (all of it can be rebuilt from the raw
 * bytes), and announce those messages. Returns how many messages it moved on (parsed or written).
 */
async function indexSlice(maxMessages: number, budgetMs: number, flush = false): Promise<number> {
  const t0 = performance.now();
  let took = 0;
  // The parses run on the index thread (index-thread.ts), all of the slice's at once: while they run, this thread
  // commits the saves that arrive; its own share is reading the bytes back and, below, the index transaction.
  const asked: Promise<Parsed | null>[] = [];
  let askedBytes = 0;
  while (queue.length - queueHead > 0 && took < maxMessages && parsedBytes + askedBytes < INDEX_WRITE_BATCH_BYTES && performance.now() - t0 < budgetMs) {
    const q = dequeue();
    if (q === undefined) break;
    took++;
    let raw = q.raw;
    let envelope = q.envelope;
    if (raw === null || envelope === null) {
      const row = sql.pendingBytes.get(q.seq) as PendingBytes | undefined;
      if (row === undefined) continue; // deleted while it waited
      raw = rawOf(row);
      if (raw === null) continue; // its segment is gone (logged): nothing to index
      envelope = JSON.parse(row.envelope) as Envelope;
    }
    const bytes = raw.byteLength;
    askedBytes += bytes;
    asked.push(indexer.entry(raw, envelope).then((entry) => ({ seq: q.seq, entry, queued: q, bytes }), () => null));
  }
  takeWaitingRequests(); // saves that came while the bytes were read back
  for (const p of await Promise.all(asked)) {
    if (p === null) continue; // the index thread closed under it: recovered at the next open
    if (parsed.length === 0) parsedSince = performance.now();
    parsed.push(p);
    parsedBytes += p.bytes;
  }
  if (parsed.length === 0 || closed) return took;
  const waited = performance.now() - parsedSince;
  const due = parsed.length >= INDEX_WRITE_BATCH || parsedBytes >= INDEX_WRITE_BATCH_BYTES || waited >= INDEX_WRITE_WAIT_MS ||
    (flush && queue.length - queueHead === 0);
  if (!due) {
    indexWriteTimer ??= setTimeout(() => {
      indexWriteTimer = null;
      scheduleWork();
    }, INDEX_WRITE_WAIT_MS - waited).unref();
    return took;
  }
  const batch = parsed;
  parsed = [];
  parsedBytes = 0;
  let summaries: MessageSummary[];
  try {
    summaries = writeIndex(batch);
  } catch (e) {
    // Disk full or an I/O error: the messages stay pending (and durable); put them back and try again later.
    queue.splice(queueHead, 0, ...batch.map((b) => b.queued));
    for (const b of batch) if (b.queued.raw !== null) queuedBytes += b.queued.raw.byteLength;
    if (!indexFailing) logWarning(`mailwire sqlite writer: indexing failed, retrying: ${message(e)}`);
    indexFailing = true;
    return 0;
  }
  indexFailing = false;
  if (cfg.maxMessagesPerInbox > 0 && summaries.length > 0) {
    for (const s of summaries) for (const a of s.envelope.to) inboxesToPrune.add(a.toLowerCase());
    schedulePrune();
  }
  if (summaries.length > 0) post({ type: 'indexed', summaries: JSON.stringify(summaries), count: summaries.length, index: indexState() });
  wroteToWal();
  return took + batch.length;
}
let indexFailing = false;

// ---- durable commits ---------------------------------------------------------------------------------------------

type Delta = { messages: number; sessions: number };

/** Segments that lost a record since the last commit: unlinked after it if none of theirs is live (see unlinkDead). */
const touchedSegments = new Set<number>();

function deleteSeqs(seqs: readonly number[]): number {
  let n = 0;
  for (const seq of seqs) {
    n += sql.delMessage.run(seq).changes;
    sql.delRaw.run(seq);
    deadRecord(seq);
    sql.delFts.run(seq);
    sql.delLeft.run(seq);
  }
  return n;
}

/**
 * The messages `seqs` leave inbox `address` (message_inbox_left); those that no inbox holds any more are deleted.
 * Returns the ids deleted.
 */
function leaveInbox(address: string, rows: readonly { seq: number; id: string }[]): string[] {
  for (const r of rows) sql.leave.run(r.seq, address);
  const gone = rows.filter((r) => (sql.inboxesLeft.get(r.seq) as number) === 0);
  deleteSeqs(gone.map((r) => r.seq));
  return gone.map((r) => r.id);
}

function deadRecord(seq: number): void {
  const segment = sql.delSegment.get(seq) as number | undefined;
  if (segment !== undefined) touchedSegments.add(segment);
}

/**
 * After a commit that deleted: each segment (but the one appended to) that no live message has a record in any more
 * is unlinked. A power loss can undo the deletions of the last commits (synchronous=NORMAL): those messages then
 * answer 404, with a log line, as for a segment deleted by hand.
 */
function unlinkDead(): void {
  compactor.consider(touchedSegments);
  touchedSegments.clear();
  if (compactor.pending) scheduleCompaction();
}

/** Compaction (./compaction.ts), one slice per turn of the event loop, so that saves arriving meanwhile go first. */
const compactor = new Compactor(db, log);
compactor.unlinkAllDead();
let compactionScheduled = false;
function scheduleCompaction(): void {
  if (compactionScheduled || closed) return;
  compactionScheduled = true;
  setImmediate(() => {
    compactionScheduled = false;
    if (closed) return;
    if (ready.length > 0) commit();
    compactor.step();
    if (compactor.pending) scheduleCompaction();
  });
}

/** Messages committed by the transaction in progress; they join the index queue only once it has committed. */
let committing: Queued[] = [];
/** The group's messages appended to the log: each one's seq and record, by id. */
let appended = new Map<string, { seq: number; loc: RecordLocation }>();

function applyOp(op: WriteOp, delta: Delta, now: number): Omit<OpResult & { ok: true }, 'ok'> {
  switch (op.op) {
    case 'message': {
      const at = appended.get(op.id);
      if (at === undefined) throw new Error('no record in the log for this message');
      const raw = Buffer.from(op.raw.buffer, op.raw.byteOffset, op.raw.byteLength);
      insertPending(db, at.seq, { id: op.id, receivedAt: op.receivedAt, size: raw.byteLength, read: false, envelope: op.envelope, connection: op.connection }, at.loc, now);
      committing.push({ seq: at.seq, committedAt: now, raw, envelope: op.envelope });
      delta.messages++;
      return { count: 1, ids: [] };
    }
    case 'session':
      sql.session.run(op.id, op.startedAt, op.endedAt, op.end, op.connection, op.messageIds, op.truncated ? 1 : 0, op.transcript, op.said);
      delta.sessions++;
      return { count: 1, ids: [] };
    case 'set-read': {
      const n = sql.setRead.run(op.read ? 1 : 0, op.id).changes || sql.setReadPending.run(op.read ? 1 : 0, op.id).changes;
      return { count: n, ids: [] };
    }
    case 'delete': {
      const seq = sql.seqOf.get(op.id) as number | undefined;
      let n = seq === undefined ? 0 : deleteSeqs([seq]);
      if (n === 0) {
        const pending = sql.delPendingById.get(op.id) as number | undefined;
        if (pending !== undefined) {
          n = 1;
          sql.delRaw.run(pending);
          deadRecord(pending);
        }
      }
      delta.messages -= n;
      return { count: n, ids: n > 0 ? [op.id] : [] };
    }
    case 'delete-query': {
      const cond = searchCondition(op.query);
      const rows = db.prepare(`SELECT m.seq, m.id FROM messages m WHERE ${cond.sql} ORDER BY m.seq`).all(...cond.params) as { seq: number; id: string }[];
      const ids = rows.map((r) => r.id);
      if (op.query.clauses.length === 0) {
        // Everything, the messages not yet indexed included (an empty query matches every message).
        ids.push(...(sql.pendingIds.all() as string[]));
        for (const seg of db.prepare('SELECT DISTINCT segment FROM message_segment').pluck().all() as number[]) touchedSegments.add(seg);
        db.exec("DELETE FROM messages; DELETE FROM message_pending; DELETE FROM message_raw; DELETE FROM message_segment; DELETE FROM message_inbox_left; INSERT INTO messages_fts(messages_fts) VALUES('delete-all');");
      } else deleteSeqs(rows.map((r) => r.seq));
      delta.messages -= ids.length;
      return { count: ids.length, ids };
    }
    case 'set-read-query': {
      const cond = searchCondition(op.query);
      const flag = op.read ? 1 : 0;
      const n = db.prepare(`UPDATE messages SET read = ? WHERE read <> ? AND seq IN (SELECT m.seq FROM messages m WHERE ${cond.sql})`)
        .run(flag, flag, ...cond.params).changes;
      return { count: n, ids: [] };
    }
    case 'delete-inbox': {
      const cond = searchCondition(op.query);
      const rows = db.prepare(`SELECT m.seq, m.id FROM messages m WHERE ${cond.sql} ORDER BY m.seq`).all(...cond.params) as { seq: number; id: string }[];
      const ids = leaveInbox(op.address, rows);
      delta.messages -= ids.length;
      return { count: rows.length, ids };
    }
    default:
      return assertNever(op);
  }
}

const applyOne = db.transaction(applyOp); // nested inside a batch: a SAVEPOINT per op

type Ready = { n: number; op: WriteOp };

/** Where the log ends, and the next seq, in the transaction that holds the group's records (recovery reads on from it). */
function markLogEnd(): void {
  if (appended.size > 0) sql.mark.run(log.active, log.size, nextSeq);
}

/** The fast path: every op straight into one transaction; any failure throws and rolls it all back. */
const applyAll = db.transaction((ops: readonly Ready[], delta: Delta, now: number): OpResult[] => {
  const out = ops.map(({ op }): OpResult => ({ ok: true, ...applyOp(op, delta, now) }));
  markLogEnd();
  return out;
});

/** The careful path, after a failure: each op in its own savepoint, so only the bad ones fail. */
const applyEach = db.transaction((ops: readonly Ready[], delta: Delta, now: number): OpResult[] => {
  const out = ops.map(({ op }): OpResult => {
    const opDelta: Delta = { messages: 0, sessions: 0 };
    const before = committing.length;
    try {
      const r = applyOne(op, opDelta, now);
      delta.messages += opDelta.messages;
      delta.sessions += opDelta.sessions;
      return { ok: true, ...r };
    } catch (e) {
      committing.length = before; // its savepoint rolled back
      if (!db.inTransaction) throw e; // SQLite rolled the whole transaction back (disk full, I/O): fail the batch
      return { ok: false, error: message(e), full: isFull(e) };
    }
  });
  markLogEnd();
  return out;
});

let ready: Ready[] = [];
/** When the oldest op in `ready` arrived. */
let readySince = 0;

function makeReady(ops: readonly Ready[]): void {
  if (ops.length === 0) return;
  if (ready.length === 0) readySince = performance.now();
  for (const op of ops) ready.push(op);
  scheduleWork();
}

/**
 * Group commit. Each commit that promises a message costs an fsync and about 90 µs of CPU whatever its size (measured
 * here: 100 µs per message committed alone, 11 µs in groups of 20), so while the indexer has work and saves are
 * arriving together, ops wait for it to gather a larger group: the commit is due once GROUP_MAX ops are ready, once
 * the oldest has waited GROUP_WAIT_MS, as soon as the indexer has nothing to do, or at once when the last commit held
 * a single message (one client sending alone is never kept waiting, even while a backlog is indexed).
 */
const GROUP_MAX = 64;
const GROUP_WAIT_MS = 1;
/**
 * Saves wait only behind the parses of small messages: a large one costs far more to index than a commit (a 100 KB
 * text body about 0.7 ms against 0.1), so grouping gains little and the wait showed (20 × 100 KB: 1,152 against
 * 1,242 msg/s without it, medians of 3).
 */
const GROUP_PARSE_MAX_BYTES = 16 * 1024;
/** Messages in the last commit that held any. */
let lastGroupMessages = 0;
function commitDue(): boolean {
  if (ready.length === 0) return false;
  if (ready.length >= GROUP_MAX || lastGroupMessages <= 1 || performance.now() - readySince >= GROUP_WAIT_MS) return true;
  const next = queue[queueHead];
  return next === undefined || !indexCanRun() || next.raw === null || next.raw.byteLength > GROUP_PARSE_MAX_BYTES;
}
const indexCanRun = (): boolean => cfg.testing.pauseIndexer !== true && indexRetry === null && !closed;

/** An op's answer from its result. */
const answerOf = (n: number, r: OpResult | undefined): Answer =>
  r === undefined ? { n, ok: false, error: 'writer sent no result' }
    : r.ok ? { n, ok: true, value: { count: r.count, ids: r.ids } }
    : { n, ok: false, error: r.error, ...(r.full ? { code: 'full' } : {}) };

function commit(): void {
  let group = ready;
  ready = [];
  if (group.length === 0) return;
  const promises = group.some((r) => r.op.op === 'message');
  if (promises && cfg.testing.stallCommitsMs !== undefined) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, cfg.testing.stallCommitsMs);
  // Each save is taken for this commit, or left out of it when its deadline has cut it: the client was (or is now)
  // told 451, and nothing of it is stored. A save taken is answered by this commit, however late.
  const now = Date.now();
  const expired: Answer[] = [];
  group = group.filter(({ n, op }) => {
    if (op.op !== 'message' || takeSave(op.deadline.cell, op.deadline.at, now)) return true;
    expired.push({ n, ok: false, error: 'past its deadline: left out of the commit, not stored', code: 'expired' });
    return false;
  });
  if (expired.length > 0) answer(expired);
  if (group.length === 0) return;
  // The messages' records, in one append and one fdatasync; if that fails, they fail (452 when the disk is full)
  // and the group's other ops go on.
  const before = { segment: log.active, size: log.size };
  appended = new Map();
  const messages = group.flatMap(({ op }) => (op.op === 'message' ? [op] : []));
  if (messages.length > 0) {
    const seqs = messages.map(() => nextSeq++);
    try {
      const locs = log.append(messages.map((op, i) => ({
        meta: { id: op.id, seq: seqs[i]!, receivedAt: op.receivedAt, envelope: op.envelope, connection: op.connection }, body: op.raw,
      })));
      messages.forEach((op, i) => appended.set(op.id, { seq: seqs[i]!, loc: locs[i]! }));
    } catch (e) {
      const failed: Answer[] = [];
      group = group.filter(({ n, op }) => {
        if (op.op !== 'message') return true;
        failed.push({ n, ok: false, error: `cannot append to the segment log: ${message(e)}`, ...(isFull(e) ? { code: 'full' } : {}) });
        return false;
      });
      answer(failed);
      if (group.length === 0) return;
    }
  }
  try {
    let delta: Delta = { messages: 0, sessions: 0 };
    let results: OpResult[];
    committing = [];
    try {
      results = applyAll(group, delta, now);
    } catch {
      delta = { messages: 0, sessions: 0 };
      committing = [];
      results = applyEach(group, delta, now);
    }
    counts.messages += delta.messages;
    counts.sessions += delta.sessions;
    if (committing.length > 0) lastGroupMessages = committing.length;
    for (const q of committing) {
      enqueue(q);
    }
    committing = [];
    if (touchedSegments.size > 0) unlinkDead(); // before the answers: a deletion answered has let go of its segment
    post({ type: 'committed', index: indexState(), durability: { journalMode, synchronous: SYNCHRONOUS[readSync.get() as number] ?? 'off', logSynced: appended.size > 0 } });
    answer(group.map(({ n }, i) => answerOf(n, results[i])));
  } catch (e) {
    committing = [];
    touchedSegments.clear();
    // Nothing of the group is committed: its records go too, so that recovery never restores a message refused.
    if (appended.size > 0) {
      try {
        log.truncate(log.active === before.segment ? before.size : 0);
      } catch (t) {
        logError('mailwire sqlite writer: cannot cut the log back after a failed commit:', t);
      }
    }
    answer(group.map(({ n }) => ({ n, ok: false, error: `commit failed: ${message(e)}`, ...(isFull(e) ? { code: 'full' } : {}) })));
  }
  appended = new Map();
  if (overLimit()) schedulePrune();
  wroteToWal();
}

// ---- the work loop: commits first, then a slice of indexing --------------------------------------------------------

let workScheduled = false;
let indexing = false;
let indexRetry: NodeJS.Timeout | null = null;

function scheduleWork(): void {
  if (workScheduled || closed) return;
  workScheduled = true;
  setImmediate(work);
}

function work(): void {
  workScheduled = false;
  if (closed) return;
  if (commitDue()) commit();
  if (indexing || backlog() === 0 || !indexCanRun()) return;
  indexing = true;
  void indexSlice(INDEX_SLICE_MESSAGES, INDEX_SLICE_MS).then((n) => {
    indexing = false;
    if (n === 0 && indexFailing) {
      indexRetry = setTimeout(() => {
        indexRetry = null;
        scheduleWork();
      }, INDEX_RETRY_MS);
      return;
    }
    // A parsed batch that is not due yet waits for its timer, not for a busy loop.
    if (queue.length - queueHead > 0 || ready.length > 0) scheduleWork();
  }, (e: unknown) => {
    indexing = false;
    logError('mailwire sqlite writer: indexer:', e);
  });
}

// ---- checkpoints -------------------------------------------------------------------------------------------------

/**
 * A checkpoint copies the WAL's pages into the database file (and fsyncs it); done by us, never inside a commit that
 * senders wait on. Each page is copied once however often it changed since the last checkpoint, so rare checkpoints
 * cost less per message: one after CHECKPOINT_COMMITS commits (the WAL holds metadata only: the bytes are in the
 * segment log), and one once writes have paused for CHECKPOINT_IDLE_MS, so that reads (mapped, see sqlite-reader.ts) find
 * the pages in the database file rather than in the WAL. (A checkpoint after every index batch, as before, was a fifth
 * of the writer's time at 20 connections × 1 KB.)
 */
const CHECKPOINT_COMMITS = 100;
const CHECKPOINT_IDLE_MS = 100;
let walCommits = 0;
let lastWriteAt = 0;
let idleTimer: NodeJS.Timeout | null = null;

/** After every commit. */
function wroteToWal(): void {
  walCommits++;
  lastWriteAt = performance.now();
  if (walCommits >= CHECKPOINT_COMMITS) checkpointSoon();
  else if (idleTimer === null) idleTimer = setTimeout(checkpointWhenIdle, CHECKPOINT_IDLE_MS).unref();
}

function checkpointWhenIdle(): void {
  idleTimer = null;
  if (closed || walCommits === 0) return;
  const quietMs = performance.now() - lastWriteAt;
  if (quietMs >= CHECKPOINT_IDLE_MS) checkpointSoon();
  else idleTimer = setTimeout(checkpointWhenIdle, CHECKPOINT_IDLE_MS - quietMs).unref();
}

let checkpointScheduled = false;
function checkpointSoon(): void {
  if (checkpointScheduled) return;
  checkpointScheduled = true;
  setImmediate(() => {
    checkpointScheduled = false;
    if (closed) return;
    walCommits = 0;
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
  let messages = deleteSeqs([...seqs]);
  // Inboxes that got messages since the last step: each keeps its newest maxMessagesPerInbox, the older ones leave it
  // (one pass over the messages for all of them).
  if (inboxesToPrune.size > 0) {
    const over = new Map<string, { seq: number; id: string }[]>();
    for (const r of sql.overInboxLimit.all(JSON.stringify([...inboxesToPrune]), cfg.maxMessagesPerInbox) as { seq: number; id: string; address: string }[]) {
      const rows = over.get(r.address);
      if (rows === undefined) over.set(r.address, [r]);
      else rows.push(r);
    }
    for (const [address, rows] of over) messages += leaveInbox(address, rows).length;
    inboxesToPrune.clear();
  }
  return { messages, sessions: s };
});

/** Inboxes whose size the next prune step checks against maxMessagesPerInbox (every one at start). */
const inboxesToPrune = new Set<string>(cfg.maxMessagesPerInbox > 0
  ? db.prepare("SELECT DISTINCT lower(r.value) FROM messages m, json_each(m.envelope, '$.to') r").pluck().all() as string[]
  : []);

function pruneOnce(): Delta {
  const d = pruneStep(Date.now());
  if (touchedSegments.size > 0) unlinkDead();
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
    if (closed) return;
    const d = pruneOnce();
    if (d.messages > 0 || d.sessions > 0) schedulePrune();
  });
}

const ageTimer = cfg.maxAgeMs > 0 ? setInterval(schedulePrune, Math.min(60_000, Math.max(1000, cfg.maxAgeMs / 10))) : null;
ageTimer?.unref();

// ---- start: recovery, then the loop ------------------------------------------------------------------------------

let closed = false;

async function indexAll(deadlineMs: number): Promise<number> {
  const t0 = performance.now();
  const before = backlog();
  // Bounded: each slice moves at least one message on (parsed or written), or the loop ends.
  while (backlog() > 0 && performance.now() - t0 < deadlineMs) {
    if ((await indexSlice(1000, 250, true)) === 0) break;
  }
  return before - backlog();
}

async function start(): Promise<void> {
  const t0 = performance.now();
  const recovered = backlog() > 0 ? await indexAll(Infinity) : 0;
  if (backlog() > 0) throw new Error(`cannot index the ${backlog()} messages left from the last run (is the disk full?)`);
  post({ type: 'ready', version: db.pragma('user_version', { simple: true }) as number, recovered, recoveryMs: performance.now() - t0, index: indexState() });
  listening = true;
  port.on('message', receive);
}

let chain: Promise<void> = Promise.resolve();
let listening = false;

/**
 * Takes the requests already waiting on the port without waiting for the event loop (the indexer asks between two
 * parses, so a due group of saves never waits for a whole slice): ops join the next commit, anything else is handled
 * in turn as if it had just arrived.
 */
function takeWaitingRequests(): void {
  if (!listening) return; // during recovery nothing is asked yet
  for (let i = 0; i < 1000; i++) {
    const got = receiveMessageOnPort(port);
    if (got === undefined) break;
    receive(got.message);
  }
}

/** Writes join the next commit; a prune or the close is handled in turn, after what came before it. */
function receive(m: unknown): void {
  const calls = (m as Partial<CallMessage<WriterCall>>).calls;
  if ((m as { channel?: unknown }).channel === WRITER_CHANNEL && Array.isArray(calls)) {
    const writes: Ready[] = [];
    for (const { n, request } of calls) {
      if (request.kind === 'write') writes.push({ n, op: request.op });
      else later(() => prune(n));
    }
    makeReady(writes);
  } else if ((m as { type?: unknown }).type === 'close') later(closeWriter);
}

function later(task: () => void | Promise<void>): void {
  chain = chain.then(task).catch((e: unknown) => logError('mailwire sqlite writer:', e));
}

function prune(n: number): void {
  const total: Delta = { messages: 0, sessions: 0 };
  // Bounded: each step deletes at least one row or ends the loop.
  for (let i = 0; i < 1_000_000; i++) {
    const d = pruneOnce();
    total.messages += d.messages;
    total.sessions += d.sessions;
    if (d.messages === 0 && d.sessions === 0) break;
  }
  answer([{ n, ok: true, value: { ...total } }]);
}

async function closeWriter(): Promise<void> {
  commit(); // anything received but not yet committed was promised
  // A clean stop leaves nothing to recover: what is pending gets indexed now (bounded; the rest waits for the next open).
  while (indexing) await new Promise((resolve) => setImmediate(resolve));
  if (cfg.testing.pauseIndexer !== true) await indexAll(CLOSE_INDEX_MS);
  closed = true;
  if (ageTimer !== null) clearInterval(ageTimer);
  if (indexRetry !== null) clearTimeout(indexRetry);
  if (idleTimer !== null) clearTimeout(idleTimer);
  if (indexWriteTimer !== null) clearTimeout(indexWriteTimer);
  await indexer.close();
  db.close();
  log.close();
  post({ type: 'closed' });
  port.close();
}

void start().catch((e: unknown) => {
  post({ type: 'open-failed', error: message(e) });
  throw e;
});
