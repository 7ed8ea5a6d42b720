/**
 * The HTML check off the threads that serve SMTP and HTTP: one worker thread (./html-worker.ts), started on first use,
 * keeping the process alive only while a check is in flight and restarted if it dies (failing only the checks it had).
 * Bounded: it runs one check at a time, at most `maxQueued` wait behind it (more are refused at once with
 * HtmlCheckBusy, so a flood of requests costs its senders a refusal rather than everyone a growing wait), and each
 * check fails after `timeoutMs`. The check itself is linear in the HTML's size (src/checks/html.ts).
 */
import { Worker } from 'node:worker_threads';
import { RequestChannel, threadEndpoint } from '../request-channel.js';
import type { HtmlCheckReport } from './html.js';

export const HTML_CHECK_CHANNEL = 'html-check';

export type HtmlCheckRequest = Readonly<{ kind: 'html'; html: string; clients: readonly string[] | null }>;
export type HtmlCheckAnswers = { html: HtmlCheckReport };

/** Too many HTML checks are already running or waiting. */
export class HtmlCheckBusy extends Error {}

export type HtmlCheckThreadOptions = Readonly<{ maxQueued?: number; timeoutMs?: number }>;

export class HtmlCheckThread {
  readonly maxQueued: number;
  #worker: Worker | null = null;
  readonly #channel: RequestChannel<HtmlCheckRequest, HtmlCheckAnswers>;

  constructor(options: HtmlCheckThreadOptions = {}) {
    this.maxQueued = options.maxQueued ?? 32;
    this.#channel = new RequestChannel<HtmlCheckRequest, HtmlCheckAnswers>({
      channel: HTML_CHECK_CHANNEL, name: 'HTML check thread', refWhileBusy: true, deadlineMs: options.timeoutMs ?? 30_000,
      open: () => {
        const w = new Worker(new URL('./html-worker.js', import.meta.url));
        this.#worker = w;
        return threadEndpoint(w);
      },
    });
  }

  /** Checks running or waiting. */
  get inFlight(): number {
    return this.#channel.inFlight;
  }

  /** checkHtml(html, clients) on the thread. */
  check(html: string, clients?: readonly string[]): Promise<HtmlCheckReport> {
    if (this.#channel.inFlight > this.maxQueued) {
      return Promise.reject(new HtmlCheckBusy(`${this.#channel.inFlight} HTML checks are already running or waiting: try again shortly`));
    }
    return this.#channel.call({ kind: 'html', html, clients: clients ?? null });
  }

  async close(): Promise<void> {
    this.#channel.close('the HTML check thread is closed');
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }
}
