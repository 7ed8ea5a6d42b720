/**
 * Screenshots of a message's HTML in headless Chromium (playwright-core, an optional dependency): one browser process,
 * started on first use and reused; a fresh context per render with JavaScript disabled; every request blocked but
 * `data:` (cid: images are inlined as data: URIs before the render) unless the caller allows remote content, and then
 * each request goes past the outbound guard first. At most 2 renders at a time, each with a time limit.
 */
import { existsSync } from 'node:fs';
import type { OutboundGuard } from '../net/outbound-guard.js';
import { withHeadStart } from '../store/html.js';

/**
 * Without remote content, the page itself forbids every load but data: URIs, so that Chromium refuses them where
 * they start (a mail's own policy can only narrow it: every policy given must pass), instead of asking the route
 * handler below once per image; the browser context is offline as well, and the route handler stays as the last word.
 */
const LOCAL_ONLY = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline' data:; font-src data:; media-src data:">`;

export type ScreenshotFormat = 'png' | 'jpeg';
export type ScreenshotOptions = Readonly<{ width: number; format: ScreenshotFormat; full: boolean; remote: boolean }>;

/** Why screenshots cannot be taken here (the API's 501), with what to install. */
export class ScreenshotUnavailable extends Error {}

const CHROMIUM_PLACES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium'];

/** Chromium at `given` (--chromium), or in the usual places; null when there is none. */
export function findChromium(given?: string): string | null {
  if (given !== undefined && given !== '') return existsSync(given) ? given : null;
  return CHROMIUM_PLACES.find((p) => existsSync(p)) ?? null;
}

type Browser = import('playwright-core').Browser;

export class Screenshotter {
  #browser: Promise<Browser> | null = null;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly config: Readonly<{ chromium?: string; guard: OutboundGuard; timeoutMs?: number; concurrency?: number }>) {}

  async #launch(): Promise<Browser> {
    const executablePath = findChromium(this.config.chromium);
    if (executablePath === null) {
      throw new ScreenshotUnavailable(this.config.chromium
        ? `no Chromium at --chromium ${this.config.chromium}`
        : 'no Chromium found (looked in /usr/bin): install it (Debian: apt-get install chromium) or give --chromium PATH');
    }
    let playwright: typeof import('playwright-core');
    try {
      playwright = await import('playwright-core');
    } catch {
      throw new ScreenshotUnavailable('screenshots need the optional dependency playwright-core: npm install playwright-core');
    }
    return playwright.chromium.launch({
      executablePath, headless: true,
      // As root Chromium has no sandbox of its own: README advises a non-root user for this feature.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
  }

  #browserReady(): Promise<Browser> {
    if (this.#browser === null) {
      const launching = this.#launch();
      this.#browser = launching;
      launching.then((b) => b.on('disconnected', () => { if (this.#browser === launching) this.#browser = null; }),
        () => { if (this.#browser === launching) this.#browser = null; });
    }
    return this.#browser;
  }

  async render(html: string, options: ScreenshotOptions): Promise<Buffer> {
    if (this.#running >= (this.config.concurrency ?? 2)) await new Promise<void>((resolve) => this.#waiting.push(resolve)); // handed a slot
    else this.#running++;
    try {
      return await this.#render(html, options);
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#running--;
      else next();
    }
  }

  async #render(html: string, options: ScreenshotOptions): Promise<Buffer> {
    const browser = await this.#browserReady();
    const context = await browser.newContext({
      javaScriptEnabled: false, offline: !options.remote, viewport: { width: options.width, height: Math.round(options.width * 1.6) },
    });
    const timeout = this.config.timeoutMs ?? 15_000;
    context.setDefaultTimeout(timeout);
    try {
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        if (url.startsWith('data:')) return route.continue();
        if (options.remote) {
          let parsed: URL | null = null;
          try {
            parsed = new URL(url);
          } catch {
            parsed = null;
          }
          if (parsed !== null && (await this.config.guard.check(parsed)).ok) return route.continue();
        }
        return route.abort('blockedbyclient');
      });
      const page = await context.newPage();
      await page.setContent(options.remote ? html : withHeadStart(html, LOCAL_ONLY), { waitUntil: options.remote ? 'load' : 'domcontentloaded', timeout });
      return await page.screenshot({ type: options.format, fullPage: options.full, timeout });
    } finally {
      await context.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const b = this.#browser;
    this.#browser = null;
    if (b !== null) await (await b.catch(() => null))?.close().catch(() => undefined);
  }
}
