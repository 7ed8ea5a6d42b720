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
    this.#bytes = join(parts);
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

/**
 * The parts' bytes in one buffer. postal-mime's parts alternate a line and the string '\n' (a 100 KB body is 2,500 of
 * them), so a line is copied in place and a one-character ASCII string written as its byte, with no buffer made for
 * either.
 */
function join(parts: readonly Part[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += typeof part === 'string' ? stringLength(part) : toBytes(part).byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const part of parts) {
    if (typeof part === 'string') {
      if (isOneAscii(part)) out[at++] = part.charCodeAt(0);
      else at += out.write(part, at, 'utf8');
    } else {
      const bytes = toBytes(part);
      out.set(bytes, at);
      at += bytes.byteLength;
    }
  }
  return out;
}

const isOneAscii = (s: string): boolean => s.length === 1 && s.charCodeAt(0) < 0x80;
const stringLength = (s: string): number => (isOneAscii(s) ? 1 : Buffer.byteLength(s, 'utf8'));

function toBytes(part: Exclude<Part, string>): Uint8Array {
  if (part instanceof Uint8Array) return part; // postal-mime's usual part: one per line, so no view made for each
  if (part instanceof MemoryBlob) return part.bytes();
  if (part instanceof ArrayBuffer) return new Uint8Array(part);
  return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
}

/** Makes `Blob` in this thread the in-memory one. Call once, in a thread that owns its globals (the writer worker). */
export function useMemoryBlob(): void {
  (globalThis as { Blob: unknown }).Blob = MemoryBlob;
}
