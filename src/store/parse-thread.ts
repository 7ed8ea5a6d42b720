/**
 * MIME parsing on a thread of its own, for the PostgreSQL store's reads: a message's bodies, headers and attachments,
 * parsed from the stored bytes (its indexer parses on its own thread: postgres/indexer-worker.ts). postal-mime takes
 * over a second on a 25 MB message: on the SMTP thread that would stall every session for as long. One thread,
 * started on first use, keeping the process alive only while a request is in flight; it is restarted if it dies,
 * failing only the requests it had. (The SQLite store parses on its own writer and reader threads.)
 */
import { Worker } from 'node:worker_threads';
import { RequestChannel, threadEndpoint } from '../request-channel.js';
import type { ParsedMessage } from './parse.js';
import type { AttachmentContent, AttachmentInfo } from './types.js';

export const PARSE_CHANNEL = 'mime-parser';

export type ParseRequest =
  | Readonly<{ kind: 'message'; raw: Uint8Array }>
  | Readonly<{ kind: 'attachment'; raw: Uint8Array; index: number }>;

export type ParseAnswers = {
  message: ParsedMessage;
  attachment: { info: AttachmentInfo; content: Uint8Array } | null;
};

export class ParserThread {
  #worker: Worker | null = null;
  readonly #channel = new RequestChannel<ParseRequest, ParseAnswers>({
    channel: PARSE_CHANNEL, name: 'MIME parser thread', refWhileBusy: true,
    open: () => {
      const w = new Worker(new URL('./parse-worker.js', import.meta.url));
      this.#worker = w;
      return threadEndpoint(w);
    },
  });

  message(raw: Uint8Array): Promise<ParsedMessage> {
    return this.#channel.call({ kind: 'message', raw });
  }

  async attachment(raw: Uint8Array, index: number): Promise<AttachmentContent | null> {
    const a = await this.#channel.call({ kind: 'attachment', raw, index });
    return a === null ? null : { info: a.info, content: Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength) };
  }

  async close(): Promise<void> {
    this.#channel.close('MIME parser thread is closed');
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }
}
