/**
 * What the SQLite writer does with the segment log at start, before it takes any write (issue 31): recovery of the
 * rows a power loss took from the database, and the one-time move of a pre-log data directory's bytes into the log.
 */
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import type { Envelope } from '../../smtp/core/types.js';
import type { ConnectionInfo } from '../types.js';
import { logWarning } from '../../log.js';
import { insertPending } from './schema.js';
import { damageLine, type SegmentLog } from './segment-log.js';

/**
 * Recovery from the log: every record past the end `log_state` records that the database lacks (a commit a power loss
 * took) gets its pending row and location back, in log order; damage is logged and dropped. Returns how many.
 */
export function recoverLog(db: Database.Database, log: SegmentLog): number {
  const mark = db.prepare('SELECT segment, offset FROM log_state').get() as { segment: number; offset: number };
  const found = log.recover(mark);
  for (const d of found.damage) logWarning(damageLine(d));
  const known = db.prepare('SELECT 1 FROM message_pending WHERE id = ? UNION ALL SELECT 1 FROM messages WHERE id = ?').pluck();
  const seqTaken = db.prepare('SELECT 1 FROM message_segment WHERE seq = ? UNION ALL SELECT 1 FROM message_raw WHERE seq = ?').pluck();
  let restored = 0;
  db.transaction(() => {
    for (const r of found.records) {
      const m = r.meta;
      if (known.get(m.id, m.id) !== undefined) continue;
      let seq = m.seq;
      if (seqTaken.get(seq, seq) !== undefined) seq = 1 + (db.prepare('SELECT max(coalesce((SELECT max(seq) FROM message_segment), 0), coalesce((SELECT max(seq) FROM message_raw), 0))').pluck().get() as number);
      insertPending(db, seq, { id: m.id, receivedAt: m.receivedAt, size: r.body.byteLength, read: false, envelope: m.envelope, connection: m.connection },
        { segment: r.segment, offset: r.offset, length: r.length }, Date.now());
      restored++;
    }
    log.followMark(mark);
    db.prepare('UPDATE log_state SET segment = ?, offset = ?').run(log.active, log.size);
  })();
  if (restored > 0) logWarning(`mailwire sqlite store: restored ${restored} messages from the segment log that the database had lost (an unclean stop)`);
  return restored;
}
/**
 * Migration of a data directory from before the log (schema v6 and older, which kept the bytes in `message_raw`):
 * each message's bytes become a record, in seq order, 500 at a time (one append and fdatasync, then one transaction
 * that records where each went and drops its `message_raw` row). Rows, seqs (order, cursors, IMAP UIDs), read flags
 * and inbox membership are untouched. A crash midway leaves records the next start finds known (recoverLog skips
 * them) and moves the rest again. Returns how many messages moved.
 */
export function moveRawToLog(db: Database.Database, log: SegmentLog): number {
  const page = db.prepare(`SELECT r.seq, r.raw, coalesce(m.id, p.id) AS id, coalesce(m.received_at, p.received_at) AS received_at,
      coalesce(m.envelope, p.envelope) AS envelope, coalesce(m.connection, p.connection) AS connection
    FROM message_raw r LEFT JOIN messages m ON m.seq = r.seq LEFT JOIN message_pending p ON p.seq = r.seq ORDER BY r.seq LIMIT 500`);
  type Row = { seq: number; raw: Buffer; id: string | null; received_at: number; envelope: string; connection: string };
  const t0 = performance.now();
  let moved = 0;
  // Bounded: each turn removes its page's rows from message_raw.
  for (let rows = page.all() as Row[]; rows.length > 0; rows = page.all() as Row[]) {
    const live = rows.filter((r) => r.id !== null);
    const locs = log.append(live.map((r) => ({
      meta: { id: r.id!, seq: r.seq, receivedAt: r.received_at, envelope: JSON.parse(r.envelope) as Envelope, connection: JSON.parse(r.connection) as ConnectionInfo }, body: r.raw,
    })));
    db.transaction(() => {
      live.forEach((r, i) => db.prepare('INSERT INTO message_segment (seq, segment, offset, length) VALUES (?, ?, ?, ?)').run(r.seq, locs[i]!.segment, locs[i]!.offset, locs[i]!.length));
      for (const r of rows) db.prepare('DELETE FROM message_raw WHERE seq = ?').run(r.seq);
      db.prepare('UPDATE log_state SET segment = ?, offset = ?').run(log.active, log.size);
    })();
    moved += live.length;
  }
  if (moved > 0) {
    db.exec('VACUUM'); // give back the pages the bytes held
    logWarning(`mailwire sqlite store: moved the bytes of ${moved} messages from the database into the segment log in ${((performance.now() - t0) / 1000).toFixed(1)} s (a one-time migration)`);
  }
  return moved;
}
