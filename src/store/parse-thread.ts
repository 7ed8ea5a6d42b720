/**
 * MIME parsing on a thread of its own, for the PostgreSQL store's reads: a message's bodies, headers and attachments,
 * parsed from the stored bytes (its indexer parses on its own thread: postgres-indexer-worker.ts). postal-mime takes
 * over a second on a 25 MB message: on the SMTP thread that would stall every session for as long. One thread,
 * started on first use, keeping the process alive only while a request is in flight; it is restarted if it dies,
 * failing only the requests it had. (The SQLite store parses on its own writer and reader threads.)
 */
import { Worker } from 'node:worker_threads';
import type { ParsedMessage } from './parse.js';
import type { AttachmentContent, AttachmentInfo } from './types.js';

export type ParseRequest =
  | Readonly<{ n: number; kind: 'message'; raw: Uint8Array }>
  | Readonly<{ n: number; kind: 'attachment'; raw: Uint8Array; index: number }>;

export type ParseReply =
  | Readonly<{ n: number; kind: 'message'; parsed: ParsedMessage }>
  | Readonly<{ n: number; kind: 'attachment'; attachment: { info: AttachmentInfo; content: Uint8Array } | null }>
  | Readonly<{ n: number; kind: 'failed'; error: string }>;

type Waiting = { resolve: (r: ParseReply) => void; reject: (e: Error) => void };

export class ParserThread {
  #worker: Worker | null = null;
  readonly #waiting = new Map<number, Waiting>();
  #next = 1;

  async message(raw: Uint8Array): Promise<ParsedMessage> {
    const r = await this.#ask((n) => ({ n, kind: 'message', raw }));
    if (r.kind !== 'message') throw new Error(r.kind === 'failed' ? r.error : `unexpected ${r.kind} reply`);
    return r.parsed;
  }

  async attachment(raw: Uint8Array, index: number): Promise<AttachmentContent | null> {
    const r = await this.#ask((n) => ({ n, kind: 'attachment', raw, index }));
    if (r.kind !== 'attachment') throw new Error(r.kind === 'failed' ? r.error : `unexpected ${r.kind} reply`);
    const a = r.attachment;
    return a === null ? null : { info: a.info, content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength) };
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }

  #ask(request: (n: number) => ParseRequest): Promise<ParseReply> {
    const n = this.#next++;
    return new Promise<ParseReply>((resolve, reject) => {
      this.#waiting.set(n, { resolve, reject });
      const w = this.#thread();
      w.ref(); // a read in flight keeps the process alive, as any I/O would
      w.postMessage(request(n));
    });
  }

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const w = new Worker(new URL('./parse-worker.js', import.meta.url));
    w.on('message', (r: ParseReply) => {
      const waiting = this.#waiting.get(r.n);
      this.#waiting.delete(r.n);
      if (this.#waiting.size === 0) w.unref();
      waiting?.resolve(r);
    });
    const lost = (why: string): void => {
      if (this.#worker === w) this.#worker = null;
      for (const waiting of this.#waiting.values()) waiting.reject(new Error(`MIME parser thread ${why}`));
      this.#waiting.clear();
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited (${code})`));
    this.#worker = w;
    return w;
  }
}
