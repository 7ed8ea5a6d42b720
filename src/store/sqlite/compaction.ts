/**
 * Compaction of the segment log (issue 31), run by the writer thread between commits: a sealed segment less than half
 * of whose bytes are live records has them copied forward, a slice at a time (COMPACT_SLICE_BYTES: one append with its
 * fdatasync, then one transaction moving their locations), and is unlinked once none is left in it. Saves wait at most
 * one slice. Crash-safe at every point: before a slice's transaction commits, its copies sit past the log end the
 * database knows and recovery finds their ids known, so they stay dead; after it, the old records are dead; a segment
 * left with no live record is unlinked at the next start (`unlinkAllDead`).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { logWarning } from '../../log.js';
import { readRecord, segmentName, type SegmentLog } from './segment-log.js';

const COMPACT_SLICE_BYTES = 1024 * 1024;

export class Compactor {
  readonly #db: Database.Database;
  readonly #log: SegmentLog;
  /** Segments found below half live, to be compacted in turn. */
  readonly #queue = new Set<number>();
  readonly #liveBytes: Database.Statement;
  readonly #slice: Database.Statement;
  readonly #move: Database.Statement;
  readonly #mark: Database.Statement;
  readonly #live: Database.Statement;

  constructor(db: Database.Database, log: SegmentLog) {
    this.#db = db;
    this.#log = log;
    this.#liveBytes = db.prepare('SELECT coalesce(sum(length), 0) FROM message_segment WHERE segment = ?').pluck();
    this.#slice = db.prepare('SELECT seq, offset, length FROM message_segment WHERE segment = ? ORDER BY offset LIMIT 256');
    this.#move = db.prepare('UPDATE message_segment SET segment = ?, offset = ?, length = ? WHERE seq = ? AND segment = ? AND offset = ?');
    this.#mark = db.prepare('UPDATE log_state SET segment = ?, offset = ?');
    this.#live = db.prepare('SELECT 1 FROM message_segment WHERE segment = ? LIMIT 1').pluck();
  }

  /** After records of `segments` died: each sealed one with no live record is unlinked, one below half live is queued. */
  consider(segments: Iterable<number>): void {
    for (const n of segments) {
      if (n === this.#log.active) continue;
      if (this.#live.get(n) === undefined) this.#unlink(n);
      else if ((this.#liveBytes.get(n) as number) * 2 < this.#log.sizeOf(n)) this.#queue.add(n);
    }
  }

  /** At start: every sealed segment none of whose records is live (a crash between a commit and its unlink). */
  unlinkAllDead(): void {
    const live = new Set(this.#db.prepare('SELECT DISTINCT segment FROM message_segment').pluck().all() as number[]);
    for (const n of this.#log.segments()) if (n !== this.#log.active && !live.has(n)) this.#unlink(n);
  }

  get pending(): boolean {
    return this.#queue.size > 0;
  }

  /** One slice of the first queued segment. */
  step(): void {
    const n = this.#queue.values().next().value as number | undefined;
    if (n === undefined) return;
    const rows = this.#slice.all(n) as { seq: number; offset: number; length: number }[];
    const take: { seq: number; offset: number; length: number; record: { meta: Parameters<SegmentLog['append']>[0][number]['meta']; body: Uint8Array } }[] = [];
    let bytes = 0;
    for (const r of rows) {
      if (take.length > 0 && bytes + r.length > COMPACT_SLICE_BYTES) break;
      const got = readRecord(this.#log.dir, { segment: n, offset: r.offset, length: r.length });
      if (!got.ok) {
        logWarning(`mailwire sqlite store: compaction of segment ${segmentName(n)} stopped at offset ${r.offset}: ${got.reason}`);
        this.#queue.delete(n);
        return;
      }
      take.push({ ...r, record: { meta: got.meta, body: got.body } });
      bytes += r.length;
    }
    if (take.length === 0) {
      this.#queue.delete(n);
      if (this.#live.get(n) === undefined) this.#unlink(n);
      return;
    }
    let locs;
    try {
      locs = this.#log.append(take.map((t) => t.record));
    } catch (e) {
      logWarning(`mailwire sqlite store: compaction of segment ${segmentName(n)} paused: ${e instanceof Error ? e.message : String(e)}`);
      this.#queue.delete(n);
      return;
    }
    this.#db.transaction(() => {
      take.forEach((t, i) => this.#move.run(locs[i]!.segment, locs[i]!.offset, locs[i]!.length, t.seq, n, t.offset));
      this.#mark.run(this.#log.active, this.#log.size);
    })();
  }

  #unlink(n: number): void {
    try {
      rmSync(join(this.#log.dir, segmentName(n)), { force: true });
    } catch (e) {
      logWarning(`mailwire sqlite store: cannot unlink segment ${segmentName(n)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
