/** The segment log on its own (issue 31): the record format, appends and segments, and recovery over damage. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SegmentLog, damageLine, encodeRecord, readRecord, scanSegment, segmentName, type RecordMeta } from '../../src/store/sqlite/segment-log.js';
import { tempDir } from '../helpers/mail.js';

const meta = (i: number): RecordMeta => ({
  id: `id${i}`, seq: i, receivedAt: 1_700_000_000_000 + i, envelope: { helo: 'a.test', from: 'a@a.test', to: ['b@b.test'] },
  connection: { remoteAddress: '127.0.0.1', remotePort: 1000 + i, secure: false } as unknown as RecordMeta['connection'],
});
const body = (i: number, size = 40): Buffer => Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(size)}\r\n`);
const recordBytes = (i: number, size?: number): Buffer => Buffer.concat(encodeRecord(meta(i), body(i, size)));

describe('segment log', () => {
  it('appends a batch, reads each record back by its location (CRC checked), and starts a new segment past the size', () => {
    const dir = tempDir();
    try {
      const log = new SegmentLog(dir, { segmentSize: 1000 });
      const a = log.append([{ meta: meta(1), body: body(1) }, { meta: meta(2), body: body(2) }]);
      assert.deepEqual(a.map((l) => [l.segment, l.offset]), [[1, 0], [1, a[0]!.length]]);
      const b = log.append([{ meta: meta(3), body: body(3, 900) }]); // would pass 1000: a segment of its own
      assert.equal(b[0]!.segment, 2);
      assert.equal(b[0]!.offset, 0);
      log.close();
      assert.deepEqual(readdirSync(dir).sort(), [segmentName(1), segmentName(2)]);
      for (const [i, loc] of [[1, a[0]!], [2, a[1]!], [3, b[0]!]] as const) {
        const r = readRecord(dir, loc);
        assert.deepEqual(r.ok ? [r.body, r.meta] : r, [i === 3 ? body(3, 900) : body(i), meta(i)]);
      }
      // A flipped bit is found on read.
      const file = join(dir, segmentName(1));
      const bytes = readFileSync(file);
      bytes[a[1]!.offset + a[1]!.length - 3]! ^= 0x04;
      writeFileSync(file, bytes);
      assert.deepEqual(readRecord(dir, a[1]!), { ok: false, reason: 'CRC mismatch' });
      rmSync(join(dir, segmentName(2)));
      assert.deepEqual(readRecord(dir, b[0]!), { ok: false, reason: 'segment file missing' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a torn tail, cut at every byte offset inside the last record: the earlier records kept, the last dropped with its offset, the tail cut off', () => {
    const first = Buffer.concat([recordBytes(1), recordBytes(2)]);
    const last = recordBytes(3, 80);
    assert.ok(last.byteLength > 250 && last.byteLength < 350, `last record is ${last.byteLength} bytes`);
    const whole = Buffer.concat([first, last]);
    assert.deepEqual(scanSegment(whole).records.map((r) => r.meta.id), ['id1', 'id2', 'id3']);
    const dir = tempDir();
    try {
      for (let cut = first.byteLength + 1; cut < whole.byteLength; cut++) {
        // The pure scan…
        const scan = scanSegment(whole.subarray(0, cut));
        assert.deepEqual(scan.records.map((r) => r.meta.id), ['id1', 'id2'], `cut at ${cut}`);
        assert.equal(scan.end, first.byteLength);
        assert.equal(scan.damage.length, 1);
        assert.equal(scan.damage[0]!.offset, first.byteLength);
        assert.match(scan.damage[0]!.reason, /^torn tail/);
        // …and recovery over the file: the same records, the torn tail cut off so the next append follows record 2.
        const file = join(dir, segmentName(1));
        writeFileSync(file, whole.subarray(0, cut));
        const log = new SegmentLog(dir, { segmentSize: 1 << 20 });
        const got = log.recover({ segment: 1, offset: 0 });
        assert.deepEqual(got.records.map((r) => [r.meta.id, r.segment, r.offset]), [['id1', 1, 0], ['id2', 1, recordBytes(1).byteLength]]);
        assert.deepEqual(got.damage.map((d) => [d.segment, d.offset]), [[1, first.byteLength]]);
        assert.equal(statSync(file).size, first.byteLength);
        const [again] = log.append([{ meta: meta(4), body: body(4) }]);
        assert.equal(again!.offset, first.byteLength);
        log.close();
        rmSync(file);
      }
      assert.equal(damageLine({ segment: 1, offset: 123, reason: 'CRC mismatch' }),
        'mailwire sqlite store: segment 000001.log, offset 123: CRC mismatch; dropped (the records before it are kept)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a flipped bit in a record: that record dropped with its offset, the records before and after it kept', () => {
    const r1 = recordBytes(1);
    const r2 = recordBytes(2, 200);
    const r3 = recordBytes(3);
    const whole = Buffer.concat([r1, r2, r3]);
    // Every bit of record 2's meta and body, one at a time (its header's lengths and magic are the torn-tail case).
    for (let at = r1.byteLength + 16; at < r1.byteLength + r2.byteLength; at += 7) {
      const bytes = Buffer.from(whole);
      bytes[at]! ^= 1 << (at % 8);
      const scan = scanSegment(bytes);
      assert.deepEqual(scan.records.map((r) => r.meta.id), ['id1', 'id3'], `bit at ${at}`);
      assert.deepEqual(scan.damage, [{ offset: r1.byteLength, reason: 'CRC mismatch' }]);
      assert.equal(scan.end, whole.byteLength);
    }
    // In the last record: dropped, and the segment's good part ends before it.
    const bytes = Buffer.from(whole);
    bytes[whole.byteLength - 5]! ^= 0x10;
    const scan = scanSegment(bytes);
    assert.deepEqual(scan.records.map((r) => r.meta.id), ['id1', 'id2']);
    assert.equal(scan.end, r1.byteLength + r2.byteLength);
  });

  it('a failed append (disk full) leaves nothing of the batch in the segment, and the next append fits where it was', () => {
    const dir = tempDir();
    try {
      const log = new SegmentLog(dir, { segmentSize: 1 << 20, maxBytes: 600 });
      const [a] = log.append([{ meta: meta(1), body: body(1) }]);
      assert.throws(() => log.append([{ meta: meta(2), body: body(2, 1000) }]), (e: unknown) => (e as { code?: string }).code === 'ENOSPC');
      assert.equal(statSync(join(dir, segmentName(1))).size, a!.length);
      const [b] = log.append([{ meta: meta(3), body: body(3) }]);
      assert.equal(b!.offset, a!.length);
      log.close();
      truncateSync(join(dir, segmentName(1)), a!.length + b!.length); // (no-op: already that size)
      assert.deepEqual(scanSegment(readFileSync(join(dir, segmentName(1)))).records.map((r) => r.meta.id), ['id1', 'id3']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
