/**
 * A Blob kept in memory, for the store's writer thread. postal-mime gathers every MIME part's bytes into a Blob only
 * to read them straight back with arrayBuffer(); Node 20's Blob does that read through an asynchronous native reader,
 * chunk by chunk, which cost more than the rest of the parse (about 75 µs of a 1 KB message's). The writer thread uses
 * Blob for nothing else, so there Blob is this: the same constructor and arrayBuffer(), the bytes already joined.
 */
type Part = string | ArrayBuffer | ArrayBufferView | MemoryBlob;

class MemoryBlob {
  readonly #bytes: Uint8Array;
  readonly type: string;

  constructor(parts: readonly Part[] = [], options: { type?: string } = {}) {
    this.#bytes = Buffer.concat(parts.map(toBytes));
    this.type = options.type ?? '';
  }

  get size(): number {
    return this.#bytes.byteLength;
  }

  get [Symbol.toStringTag](): string {
    return 'Blob';
  }

  bytes(): Uint8Array {
    return this.#bytes;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.#bytes;
    return Promise.resolve(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }

  text(): Promise<string> {
    return Promise.resolve(Buffer.from(this.#bytes).toString('utf8'));
  }
}

function toBytes(part: Part): Uint8Array {
  if (part instanceof Uint8Array) return part; // postal-mime's usual part: one per line, so no view made for each
  if (typeof part === 'string') return Buffer.from(part, 'utf8');
  if (part instanceof MemoryBlob) return part.bytes();
  if (part instanceof ArrayBuffer) return new Uint8Array(part);
  return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
}

/** Makes `Blob` in this thread the in-memory one. Call once, in a thread that owns its globals (the writer worker). */
export function useMemoryBlob(): void {
  (globalThis as { Blob: unknown }).Blob = MemoryBlob;
}
