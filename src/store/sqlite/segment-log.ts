/**
 * The segment log (issue 31): each message's raw bytes, once, in append-only files `segments/000001.log`, … under the
 * data directory. SQLite keeps where each record is (segment, offset, length), never the bytes.
 *
 * A record: a 16-byte header, then its meta (UTF-8 JSON: id, seq, receivedAt, envelope, connection: enough to restore
 * the message's row after a crash), then the message's bytes.
 *
 *   0  magic "MWL1"            4  meta length (u32 LE)     8  body length (u32 LE)
 *   12 CRC-32 (u32 LE) of bytes 0..12, the meta and the body (Node's zlib.crc32, native, no package: Node ≥ 20.15)
 *
 * Appends: the records of one batch go out in one pwritev at the segment's end (looped only if the kernel wrote part),
 * then one fdatasync; a new segment is started before a batch that would take the current one past `segmentSize`
 * (unless it is empty), and the directory is fsync'd before anything is written to it, so the new file's name is as
 * durable as the records acknowledged from it. A failed append (disk full) cuts the segment back to where it was.
 *
 * Recovery: `scanSegment` reads records from an offset and stops at a torn tail (a record cut short by a crash);
 * a record whose CRC fails is dropped (its lengths, if plausible, are used to go on to the next one). Both are
 * reported with the segment and offset, never read back as a message.
 */
import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, writevSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Envelope } from '../../smtp/core/types.js';
import type { ConnectionInfo } from '../types.js';

export const RECORD_MAGIC = 0x314c574d; // "MWL1" read as u32 LE
export const RECORD_HEADER_BYTES = 16;
/** A meta longer than this is not one we wrote: the header is damaged. */
const MAX_META_BYTES = 1024 * 1024;
export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

/** What a record says about its message besides the bytes: what recovery needs to restore its row. */
export type RecordMeta = Readonly<{ id: string; seq: number; receivedAt: number; envelope: Envelope; connection: ConnectionInfo }>;

/** Where a record is: its segment's number, the offset of its header, and its whole length (header, meta, body). */
export type RecordLocation = Readonly<{ segment: number; offset: number; length: number }>;

export const segmentName = (n: number): string => `${String(n).padStart(6, '0')}.log`;
const SEGMENT_FILE = /^(\d{6,})\.log$/;

/** A record's bytes, as the buffers one writev takes: the header and meta, then the body itself (not copied). */
export function encodeRecord(meta: RecordMeta, body: Uint8Array): [Buffer, Uint8Array] {
  const m = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.allocUnsafe(RECORD_HEADER_BYTES + m.byteLength);
  head.writeUInt32LE(RECORD_MAGIC, 0);
  head.writeUInt32LE(m.byteLength, 4);
  head.writeUInt32LE(body.byteLength, 8);
  m.copy(head, RECORD_HEADER_BYTES);
  const crc = crc32(body, crc32(m, crc32(head.subarray(0, 12))));
  head.writeUInt32LE(crc, 12);
  return [head, body];
}

export type Damage = Readonly<{ offset: number; reason: string }>;
export type ScannedRecord = Readonly<{ offset: number; length: number; meta: RecordMeta; body: Uint8Array }>;
export type Scan = Readonly<{
  records: ScannedRecord[];
  /** Damaged records dropped, and a torn tail (the last entry, if any, when `torn`). */
  damage: Damage[];
  /** Where the next record goes: just past the last good record (or `from`); anything after it is damage. */
  end: number;
}>;

/** The record at `offset` of `bytes`, or why it is not one. Pure. */
function readRecordAt(bytes: Uint8Array, offset: number): { ok: true; record: ScannedRecord } | { ok: false; reason: string; skip: number | null } {
  const left = bytes.byteLength - offset;
  if (left < RECORD_HEADER_BYTES) return { ok: false, reason: `torn tail: ${left} bytes, not a whole record header`, skip: null };
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER_BYTES);
  if (view.getUint32(0, true) !== RECORD_MAGIC) return { ok: false, reason: 'no record header here (bad magic)', skip: null };
  const metaBytes = view.getUint32(4, true);
  const bodyBytes = view.getUint32(8, true);
  if (metaBytes > MAX_META_BYTES) return { ok: false, reason: `implausible meta length ${metaBytes}`, skip: null };
  const length = RECORD_HEADER_BYTES + metaBytes + bodyBytes;
  if (length > left) return { ok: false, reason: `torn tail: a record of ${length} bytes with ${left} written`, skip: null };
  const meta = bytes.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + metaBytes);
  const body = bytes.subarray(offset + RECORD_HEADER_BYTES + metaBytes, offset + length);
  const crc = crc32(body, crc32(meta, crc32(bytes.subarray(offset, offset + 12))));
  if (crc !== view.getUint32(12, true)) return { ok: false, reason: 'CRC mismatch', skip: length };
  let parsed: RecordMeta;
  try {
    parsed = JSON.parse(Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength).toString('utf8')) as RecordMeta;
  } catch {
    return { ok: false, reason: 'meta is not JSON', skip: length };
  }
  return { ok: true, record: { offset, length, meta: parsed, body } };
}

/** Every record of a segment's `bytes` from `from` on, what is damaged, and where the good part ends. Pure. */
export function scanSegment(bytes: Uint8Array, from = 0): Scan {
  const records: ScannedRecord[] = [];
  const damage: Damage[] = [];
  let end = from;
  let offset = from;
  // Bounded: each turn moves past a record (at least a header) or stops.
  while (offset < bytes.byteLength) {
    const r = readRecordAt(bytes, offset);
    if (r.ok) {
      records.push(r.record);
      offset += r.record.length;
      end = offset;
      continue;
    }
    damage.push({ offset, reason: r.reason });
    if (r.skip === null) break;
    offset += r.skip;
  }
  return { records, damage, end };
}

/** One record's bytes, read back whole (as located), checked: its body, or why it cannot be trusted. Pure. */
export function decodeRecord(bytes: Uint8Array): { ok: true; body: Uint8Array; meta: RecordMeta } | { ok: false; reason: string } {
  const r = readRecordAt(bytes, 0);
  if (!r.ok) return { ok: false, reason: r.reason };
  if (r.record.length !== bytes.byteLength) return { ok: false, reason: `record is ${r.record.length} bytes, ${bytes.byteLength} were located` };
  return { ok: true, body: r.record.body, meta: r.record.meta };
}

/** Reads the record at `loc` from `dir` and checks its CRC (and that it is message `id`'s); else says why not. */
export function readRecord(dir: string, loc: RecordLocation, id?: string): { ok: true; body: Uint8Array; meta: RecordMeta } | { ok: false; reason: string } {
  let fd: number;
  try {
    fd = openSync(join(dir, segmentName(loc.segment)), 'r');
  } catch (e) {
    return { ok: false, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'segment file missing' : String(e) };
  }
  try {
    const bytes = Buffer.allocUnsafe(loc.length);
    let got = 0;
    // Bounded: each read returns more bytes or ends the loop.
    while (got < loc.length) {
      const n = readSync(fd, bytes, got, loc.length - got, loc.offset + got);
      if (n === 0) break;
      got += n;
    }
    if (got < loc.length) return { ok: false, reason: `segment ends ${loc.length - got} bytes short of the record` };
    const r = decodeRecord(bytes);
    if (r.ok && id !== undefined && r.meta.id !== id) return { ok: false, reason: `the record there is message ${r.meta.id}'s` };
    return r;
  } finally {
    closeSync(fd);
  }
}

/** Writes every byte of `buffers` at `position`, one pwritev each time (the kernel may take fewer bytes or buffers). */
function writeAll(fd: number, buffers: readonly Uint8Array[], position: number): void {
  let bufs = buffers.filter((b) => b.byteLength > 0);
  let pos = position;
  // Bounded: each write takes at least one byte or throws.
  while (bufs.length > 0) {
    let n = writevSync(fd, bufs.slice(0, 1024), pos);
    pos += n;
    let i = 0;
    while (i < bufs.length && n >= bufs[i]!.byteLength) n -= bufs[i++]!.byteLength;
    bufs = bufs.slice(i);
    if (n > 0 && bufs.length > 0) bufs[0] = bufs[0]!.subarray(n);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export type SegmentLogOptions = Readonly<{
  segmentSize: number;
  /** Test hook: appends past this many bytes in all segments fail as a full disk would (ENOSPC, part written). */
  maxBytes?: number;
}>;

/** A full disk, as `write` reports it. */
export const isNoSpace = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'ENOSPC' || (e as { code?: unknown } | null)?.code === 'EDQUOT';

/** The writer's handle on the log: the numbers of its segments, and the last one open for appends. */
export class SegmentLog {
  readonly dir: string;
  readonly #options: SegmentLogOptions;
  #active: number;
  #fd: number;
  #size: number;

  constructor(dir: string, options: SegmentLogOptions) {
    this.dir = dir;
    this.#options = options;
    if (mkdirSync(dir, { recursive: true }) !== undefined) fsyncDir(dirname(dir)); // the new folder's name, durable
    const segments = this.segments();
    this.#active = segments[segments.length - 1] ?? 1;
    // Not O_APPEND: Linux's pwrite would ignore the offset. Appends go at #size, which a failed batch cut back to.
    this.#fd = openSync(join(dir, segmentName(this.#active)), constants.O_RDWR | constants.O_CREAT, 0o644);
    this.#size = fstatSync(this.#fd).size;
    if (segments.length === 0) fsyncDir(dir);
  }

  /** The segments there are, oldest first. */
  segments(): number[] {
    return readdirSync(this.dir).flatMap((f) => {
      const m = SEGMENT_FILE.exec(f);
      return m === null ? [] : [Number(m[1])];
    }).sort((a, b) => a - b);
  }

  get active(): number {
    return this.#active;
  }

  get size(): number {
    return this.#size;
  }

  sizeOf(n: number): number {
    const fd = openSync(join(this.dir, segmentName(n)), 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  }

  /** Every byte of segment `n` from `from` on (recovery: past the last record the metadata knows). */
  readFrom(n: number, from: number): Uint8Array {
    const fd = openSync(join(this.dir, segmentName(n)), 'r');
    try {
      const size = fstatSync(fd).size;
      const bytes = Buffer.allocUnsafe(Math.max(0, size - from));
      let got = 0;
      while (got < bytes.byteLength) {
        const r = readSync(fd, bytes, got, bytes.byteLength - got, from + got);
        if (r === 0) break;
        got += r;
      }
      return bytes.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  }

  /** Cuts the active segment back to `size` (a torn tail at start, or a batch that failed). */
  truncate(size: number): void {
    ftruncateSync(this.#fd, size);
    fdatasyncSync(this.#fd);
    this.#size = size;
  }

  /**
   * Appends `records` (one writev, one fdatasync), in a new segment first if they would take this one past its size;
   * returns where each went. On failure nothing of the batch stays (the segment is cut back) and the error is thrown.
   */
  append(records: readonly Readonly<{ meta: RecordMeta; body: Uint8Array }>[]): RecordLocation[] {
    if (records.length === 0) return [];
    const buffers: Uint8Array[] = [];
    const lengths: number[] = [];
    let total = 0;
    for (const r of records) {
      const [head, body] = encodeRecord(r.meta, r.body);
      buffers.push(head, body);
      lengths.push(head.byteLength + body.byteLength);
      total += head.byteLength + body.byteLength;
    }
    if (this.#size > 0 && this.#size + total > this.#options.segmentSize) this.#rotate();
    const start = this.#size;
    try {
      const max = this.#options.maxBytes;
      const sealed = max === undefined ? 0 : this.segments().reduce((sum, n) => sum + (n === this.#active ? 0 : this.sizeOf(n)), 0);
      if (max !== undefined && sealed + start + total > max) {
        const room = Math.max(0, max - sealed - start);
        if (room > 0) writeAll(this.#fd, [Buffer.concat(buffers).subarray(0, room)], start);
        throw Object.assign(new Error('ENOSPC: no space left on device, write (test limit)'), { code: 'ENOSPC' });
      }
      writeAll(this.#fd, buffers, start);
      fdatasyncSync(this.#fd);
    } catch (e) {
      try {
        this.truncate(start);
      } catch {
        // the next recovery cuts the torn tail instead
      }
      throw e;
    }
    this.#size = start + total;
    const out: RecordLocation[] = [];
    let offset = start;
    for (const length of lengths) {
      out.push({ segment: this.#active, offset, length });
      offset += length;
    }
    return out;
  }

  /**
   * At start: if the metadata knows records past this log's end (its segment was deleted or cut short by hand), appends
   * go to a new segment, so that no location the metadata holds is ever written again.
   */
  followMark(mark: Readonly<{ segment: number; offset: number }>): void {
    if (mark.segment > this.#active || (mark.segment === this.#active && mark.offset > this.#size)) this.#rotate(Math.max(mark.segment, this.#active) + 1);
  }

  /** Seals the active segment and opens the next one, its name made durable (directory fsync) before any record in it. */
  #rotate(to = this.#active + 1): void {
    const next = to;
    const fd = openSync(join(this.dir, segmentName(next)), 'wx+');
    try {
      fsyncDir(this.dir);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    closeSync(this.#fd);
    this.#fd = fd;
    this.#active = next;
    this.#size = 0;
  }

  /**
   * Recovery: every record from `from` (the end of the last record the metadata knows) to the end of the log, and what
   * is damaged on the way (a record failing its CRC is dropped; a torn tail of the active segment is cut off, so the
   * next append follows the last good record).
   */
  recover(from: Readonly<{ segment: number; offset: number }>): { records: (ScannedRecord & { segment: number })[]; damage: (Damage & { segment: number })[] } {
    const records: (ScannedRecord & { segment: number })[] = [];
    const damage: (Damage & { segment: number })[] = [];
    for (const n of this.segments()) {
      if (n < from.segment) continue;
      const start = n === from.segment ? from.offset : 0;
      const bytes = this.readFrom(n, start);
      const scan = scanSegment(bytes, 0);
      for (const r of scan.records) records.push({ ...r, offset: r.offset + start, segment: n });
      for (const d of scan.damage) damage.push({ ...d, offset: d.offset + start, segment: n });
      if (n === this.#active && start + scan.end < this.#size) this.truncate(start + scan.end);
    }
    return { records, damage };
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** The log line for a damaged record or torn tail found by recovery: which segment, which offset, what. */
export const damageLine = (d: Damage & { segment: number }): string =>
  `mailwire sqlite store: segment ${segmentName(d.segment)}, offset ${d.offset}: ${d.reason}; dropped (the records before it are kept)`;
