/**
 * Mailpit's image thumbnails made off the threads that serve SMTP and HTTP: one worker thread (./thumbnail-worker.ts),
 * started on first use, keeping the process alive only while a thumbnail is being made, restarted if it dies (failing
 * only the thumbnail it had). Bounded as the HTML check's thread (src/checks/html-thread.ts): one image at a time, at
 * most `maxQueued` waiting behind it (more are refused at once with ThumbnailBusy), each failing after `timeoutMs`.
 * What reaches it has passed thumbnailRefusal (./thumbnail.ts): at most 10 MiB, at most 40 megapixels declared.
 */
import { Worker } from 'node:worker_threads';
import { RequestChannel, threadEndpoint } from '../../request-channel.js';

export const THUMBNAIL_CHANNEL = 'thumbnail';

export type ThumbnailRequest = Readonly<{ kind: 'thumbnail'; image: Uint8Array }>;
/** The JPEG's bytes, or why the image could not be decoded. */
export type ThumbnailResult = Readonly<{ ok: true; jpeg: Uint8Array }> | Readonly<{ ok: false; error: string }>;
export type ThumbnailAnswers = { thumbnail: ThumbnailResult };

/** Too many thumbnails are already being made or waiting. */
export class ThumbnailBusy extends Error {}

export type ThumbnailThreadOptions = Readonly<{ maxQueued?: number; timeoutMs?: number }>;

export class ThumbnailThread {
  readonly maxQueued: number;
  #worker: Worker | null = null;
  readonly #channel: RequestChannel<ThumbnailRequest, ThumbnailAnswers>;

  constructor(options: ThumbnailThreadOptions = {}) {
    this.maxQueued = options.maxQueued ?? 4;
    this.#channel = new RequestChannel<ThumbnailRequest, ThumbnailAnswers>({
      channel: THUMBNAIL_CHANNEL, name: 'thumbnail thread', refWhileBusy: true, deadlineMs: options.timeoutMs ?? 10_000,
      open: () => {
        const w = new Worker(new URL('./thumbnail-worker.js', import.meta.url));
        this.#worker = w;
        return threadEndpoint(w);
      },
    });
  }

  /** Thumbnails being made or waiting. */
  get inFlight(): number {
    return this.#channel.inFlight;
  }

  /** A 180x120 JPEG of `image`, as Mailpit makes it (./thumbnail-worker.ts). */
  make(image: Buffer): Promise<ThumbnailResult> {
    if (this.#channel.inFlight > this.maxQueued) {
      return Promise.reject(new ThumbnailBusy(`${this.#channel.inFlight} thumbnails are already being made or waiting: try again shortly`));
    }
    return this.#channel.call({ kind: 'thumbnail', image: new Uint8Array(image) });
  }

  async close(): Promise<void> {
    this.#channel.close('the thumbnail thread is closed');
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }
}
