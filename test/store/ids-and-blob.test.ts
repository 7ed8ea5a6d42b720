import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeOrderedId } from '../../src/store/ids.js';
import { useMemoryBlob } from '../../src/store/memory/blob.js';

describe('timeOrderedId', () => {
  it('is UUID-shaped and sorts by the time it was made', () => {
    const earlier = timeOrderedId(Date.UTC(2026, 0, 1));
    const later = timeOrderedId(Date.UTC(2026, 0, 1, 0, 0, 1));
    assert.match(earlier, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(earlier < later);
    assert.equal(earlier.slice(0, 13), '019b76da-a800'); // 2026-01-01T00:00:00Z in ms, hex
  });
});

describe('the writer thread\'s in-memory Blob', () => {
  it('joins strings, buffers, views and blobs into the exact bytes arrayBuffer() gives back', async () => {
    const NodeBlob = globalThis.Blob;
    try {
      useMemoryBlob();
      const inner = new Blob(['é']);
      const bytes = new Uint8Array([0, 1, 2, 3, 4]);
      const blob = new Blob(['ab', bytes.subarray(1, 3), bytes.buffer.slice(3), inner], { type: 'application/octet-stream' });
      assert.deepEqual(Buffer.from(await blob.arrayBuffer()), Buffer.from([0x61, 0x62, 1, 2, 3, 4, 0xc3, 0xa9]));
      assert.equal(blob.size, 8);
      assert.equal(blob.type, 'application/octet-stream');
      assert.equal(Object.prototype.toString.call(blob), '[object Blob]');
    } finally {
      globalThis.Blob = NodeBlob;
    }
  });

  it('gives the bytes Node\'s own Blob gives for lines and one-character strings, ASCII or not', async () => {
    const NodeBlob = globalThis.Blob;
    const line = new TextEncoder().encode('line one\r');
    const parts = [line, '\n', 'é', '\n', '\u{1F600}', '\ud800', 'x', '', line.subarray(2), '\n', '\u007f', '\u0080'];
    const expected = Buffer.from(await new NodeBlob(parts).arrayBuffer());
    try {
      useMemoryBlob();
      const blob = new Blob(parts);
      assert.deepEqual(Buffer.from(await blob.arrayBuffer()), expected);
      assert.equal(blob.size, expected.byteLength);
    } finally {
      globalThis.Blob = NodeBlob;
    }
  });
});
