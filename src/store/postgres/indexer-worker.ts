/**
 * The PostgreSQL store's indexer thread (see postgres-indexer.ts): one connection, one batch at a time.
 *
 * A batch is one transaction without a durable commit (everything in it can be rebuilt from the raw bytes): claim up
 * to INDEX_BATCH queued messages (FOR UPDATE SKIP LOCKED, so every instance's indexer takes different ones), parse
 * each (this instance's own from the bytes it was handed, others' read back), draw their indexed_seq values under the
 * order lock, then write their index rows, delete their queue rows and NOTIFY, and commit. A batch that fails leaves
 * its messages queued; an instance that dies mid-batch never commits it, and its claim is released with its connection.
 *
 * Batches gather: after a small one the thread waits GATHER_MS before it claims again, so that under load a batch
 * holds tens of messages (each batch costs five round trips and a GIN insert per index whatever its size) while a
 * message arriving alone is indexed at once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { assertNever } from '../../assert-never.js';
import { useMemoryBlob } from '../memory/blob.js';
import { EMPTY_PARSE, headersOnlyParse, indexEntry } from '../parse.js';
import { IndexThread } from '../index-thread.js';
import { BEGIN_ASYNC, clientConfig, nextValuesHolding, reasonOf, unavailable } from './connection.js';
import type { IndexedRow, IndexerConfig, IndexerEvent, IndexerRequest, SummaryRow } from './indexer-thread.js';
import { INDEXED_CHANNEL, LOCKS } from './schema.js';
import { noNul, tsvectorLiteral } from './search.js';

const INDEX_BATCH = 200;
const INDEX_BATCH_BYTES = 32 * 1024 * 1024;
/** Bytes of this instance's own committed messages kept until indexed, so that they need not be read back. */
const OWN_RAW_BYTES = 64 * 1024 * 1024;
/** After a batch smaller than GATHER_BELOW, wait this long before the next claim. */
const GATHER_BELOW = 32;
const GATHER_MS = 10;

if (parentPort === null) throw new Error('postgres-indexer-worker must run as a worker thread');
useMemoryBlob(); // before any parse: see memory-blob.ts
const port = parentPort;
const cfg = workerData as IndexerConfig;
const post = (m: IndexerEvent): void => port.postMessage(m);
const indexer = new IndexThread();
const ignore = (): void => undefined;

const pool = new pg.Pool({ ...clientConfig(cfg.databaseUrl, cfg.queryTimeoutMs), max: 1, idleTimeoutMillis: 30_000 });
pool.on('error', ignore); // an idle connection lost: the next batch makes a new one

/** Raw bytes of messages this instance committed, by seq, oldest first, until a batch takes them (bounded). */
const ownRaw = new Map<number, Uint8Array>();
let ownRawBytes = 0;

function keepOwn(seq: number, raw: Uint8Array): void {
  ownRaw.set(seq, raw);
  ownRawBytes += raw.byteLength;
  // Oldest out first: those another instance indexed, or left from a batch that failed, are read back if needed.
  for (const [old, bytes] of ownRaw) {
    if (ownRawBytes <= OWN_RAW_BYTES) break;
    ownRaw.delete(old);
    ownRawBytes -= bytes.byteLength;
  }
}

function takeOwn(seq: number): Uint8Array | undefined {
  const raw = ownRaw.get(seq);
  if (raw !== undefined) {
    ownRaw.delete(seq);
    ownRawBytes -= raw.byteLength;
  }
  return raw;
}

/** A batch that did not commit, already reported to the SMTP thread. */
class BatchFailed extends Error {
  constructor(reason: string, readonly unavailable: boolean) {
    super(reason);
  }
}

/** Claims, parses and indexes one batch in one commit; resolves with how many it indexed. */
async function indexBatch(): Promise<number> {
  let c: PoolClient;
  try {
    c = await pool.connect();
  } catch (e) {
    post({ type: 'failed', reason: reasonOf(e), unavailable: true });
    throw new BatchFailed(reasonOf(e), true);
  }
  // A connection cut between two queries (while parsing) reports on the client; the next query fails and says so.
  if (!c.listeners('error').includes(ignore)) c.on('error', ignore);
  let broken = false;
  let indexed: IndexedRow[];
  try {
    await c.query(BEGIN_ASYNC);
    // Locking the message rows too (KEY SHARE) makes a concurrent delete wait for this commit instead of
    // deadlocking with it over the index row's foreign key. The queue rows are claimed first and the messages
    // looked up by key: as a join ordered by seq, PostgreSQL merge-joined and walked the messages' primary key from
    // the oldest message up to the queue's first row, each batch (12 ms at 20,000 stored, growing with the store).
    const claimed = await c.query<SummaryRow & { seq: number }>({
      name: 'mw_claim',
      text: `SELECT m.seq, m.id, m.received_at, m.size, m.read, m.envelope FROM messages m
       WHERE m.seq = ANY (ARRAY(SELECT q.seq FROM index_queue q ORDER BY q.seq LIMIT $1 FOR UPDATE SKIP LOCKED))
       ORDER BY m.seq FOR KEY SHARE OF m SKIP LOCKED`,
      values: [INDEX_BATCH],
    });
    const rows: (SummaryRow & { seq: number; raw: Uint8Array | undefined })[] = [];
    let bytes = 0;
    for (const r of claimed.rows) {
      if (rows.length > 0 && bytes + r.size > INDEX_BATCH_BYTES) break; // the rest stay queued for the next batch
      rows.push({ ...r, seq: Number(r.seq), raw: takeOwn(Number(r.seq)) });
      bytes += r.size;
    }
    if (rows.length === 0) {
      await c.query('COMMIT');
      indexed = [];
    } else {
      // Read back only what this instance did not save itself (or no longer holds).
      const missing = rows.filter((r) => r.raw === undefined).map((r) => r.seq);
      if (missing.length > 0) {
        const raws = await c.query<{ seq: number; raw: Buffer }>('SELECT seq, raw FROM messages WHERE seq = ANY($1)', [missing]);
        const bySeq = new Map(raws.rows.map((r) => [Number(r.seq), r.raw]));
        for (const r of rows) r.raw ??= bySeq.get(r.seq);
      }
      // Parsed on the index thread, each within its CPU budget (index-thread.ts), all of the batch at once.
      const entries = await Promise.all(rows.map(async ({ raw, ...row }) => {
        const entry = raw === undefined ? indexEntry(EMPTY_PARSE, row.envelope)
          : await indexer.entry(raw, row.envelope).catch(async () => indexEntry(await headersOnlyParse(raw), row.envelope));
        return { row, summary: entry.summary, s: entry.search };
      }));
      // From here to the commit the order lock is held: three round trips (values, rows, commit).
      const order = await nextValuesHolding(c, LOCKS.indexOrder, 'message_indexed_seq', entries.length);
      const last = order[order.length - 1] ?? 0;
      post({ type: 'ordering', upTo: last });
      await c.query({
        name: 'mw_index',
        text: `WITH indexed AS (
           INSERT INTO message_index (seq, indexed_seq, summary, from_lc, to_lc, subject_lc, has_attachment, fts)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::json[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::tsvector[])),
         dequeued AS (DELETE FROM index_queue WHERE seq = ANY($1::bigint[]))
         SELECT pg_notify($9, $10)`,
        values: [entries.map((e) => e.row.seq), order, entries.map((e) => JSON.stringify(e.summary)), entries.map((e) => noNul(e.s.fromLc)),
          entries.map((e) => noNul(e.s.toLc)), entries.map((e) => noNul(e.s.subjectLc)), entries.map((e) => e.s.hasAttachment),
          entries.map((e) => tsvectorLiteral(e.s)), INDEXED_CHANNEL, String(last)],
      });
      await c.query('COMMIT');
      indexed = entries.map(({ row: { seq: _seq, ...row }, summary }, i): IndexedRow => ({ ...row, summary, indexed_seq: order[i] ?? 0 }));
    }
  } catch (e) {
    broken = unavailable(e);
    if (!broken) await c.query('ROLLBACK').catch(() => { broken = true; });
    post({ type: 'failed', reason: reasonOf(e), unavailable: broken });
    throw new BatchFailed(reasonOf(e), broken);
  } finally {
    c.release(broken);
  }
  post({ type: 'batch', rows: indexed.length === 0 ? '' : JSON.stringify(indexed), count: indexed.length });
  return indexed.length;
}

// ---- the loop: batches while there is work, woken by the SMTP thread ---------------------------------------------

let running: Promise<void> | null = null;
let wanted = false;
let closing = false;
/** Drain requests waiting for the queue to be empty; with `drain`, no gathering waits. */
let drains = 0;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function wake(): void {
  wanted = true;
  if (running !== null || closing) return;
  running = run().finally(() => {
    running = null;
    if (wanted && !closing) wake(); // woken after the loop's last look
  });
}

async function run(): Promise<void> {
  let messages = 0;
  let error: { reason: string; unavailable: boolean } | null = null;
  // Bounded: each round indexes a batch or ends the loop; a longer run is woken again by the next save or poll.
  for (let i = 0; i < 100_000 && !closing; i++) {
    wanted = false;
    let n: number;
    try {
      n = await indexBatch();
    } catch (e) {
      // Reported already; the SMTP thread's poll wakes us once the database answers again.
      error = { reason: reasonOf(e), unavailable: e instanceof BatchFailed ? e.unavailable : false };
      wanted = false;
      break;
    }
    messages += n;
    if (n === 0 && !wanted) break;
    if (n < GATHER_BELOW && drains === 0 && !closing) await sleep(GATHER_MS);
  }
  if (drains > 0) {
    for (; drains > 0; drains--) post({ type: 'drained', messages, error });
  }
}

port.on('message', (m: IndexerRequest) => {
  switch (m.type) {
    case 'own':
      for (const { seq, raw } of m.items) keepOwn(seq, raw);
      return;
    case 'wake':
      wake();
      return;
    case 'drain':
      drains++;
      wake();
      return;
    case 'close':
      closing = true;
      void (async () => {
        await running;
        await indexer.close();
        await pool.end().catch(ignore);
        post({ type: 'closed' });
        port.close();
      })();
      return;
    default:
      assertNever(m);
  }
});
