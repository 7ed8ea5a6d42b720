/**
 * The checks a message can be put through, over the store's public interface: HTML compatibility, links, spam score,
 * headers, screenshots. One instance per server, shared by the API, MCP and the Mailpit-compatible routes; what a check
 * computes from the message alone is cached per message.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { OutboundGuard, type Lookup } from '../net/outbound-guard.js';
import { scanHtml } from '../store/html.js';
import { extractLinks } from '../store/extract.js';
import type { MessageStore } from '../store/types.js';
import { checkHeaders, type HeaderReport } from './headers.js';
import { selectClients, type HtmlCheckReport } from './html.js';
import { HtmlCheckBusy, HtmlCheckThread } from './html-thread.js';
import { LinkChecker, type LinkKind, type LinkReport } from './links.js';
import { ScreenshotUnavailable, Screenshotter, type ScreenshotOptions } from './screenshot.js';
import { rspamdChecker, spamdChecker, type SpamChecker, type SpamReport } from './spam.js';

export type ChecksConfig = Readonly<{
  /** --checks-allow-hosts: names, addresses and CIDR ranges the link check and screenshots may reach. */
  allowHosts?: readonly string[];
  /** --spamd HOST:PORT or a unix socket path. */
  spamd?: string;
  /** --rspamd URL. */
  rspamd?: string;
  /** --chromium PATH. */
  chromium?: string;
  /** DNS, injectable for tests. */
  lookup?: Lookup;
  linkTimeoutMs?: number;
}>;

export type CheckName = 'html' | 'links' | 'spam' | 'headers';

/** A check that cannot run as asked: `status` is the API's (400, 404, 501), the message says why and what to do. */
export class CheckError extends Error {
  constructor(readonly status: 400 | 404 | 501 | 502 | 503, message: string) {
    super(message);
  }
}

const defaultLookup: Lookup = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Small per-message caches: the newest N answers. */
class Recent<T> {
  readonly #items = new Map<string, T>();
  constructor(readonly size: number) {}
  get(key: string): T | undefined {
    return this.#items.get(key);
  }
  set(key: string, value: T): void {
    this.#items.delete(key);
    this.#items.set(key, value);
    if (this.#items.size > this.size) this.#items.delete(this.#items.keys().next().value as string);
  }
}

export class MessageChecks {
  readonly guard: OutboundGuard;
  readonly #links: LinkChecker;
  readonly #spam: SpamChecker | null;
  readonly #screens: Screenshotter;
  readonly #html = new Recent<HtmlCheckReport>(200);
  /** HTML checks in progress, by cache key: a second request for the same waits for the first. */
  readonly #htmlRunning = new Map<string, Promise<HtmlCheckReport>>();
  readonly #htmlThread = new HtmlCheckThread();
  readonly #headers = new Recent<HeaderReport>(200);

  constructor(private readonly store: MessageStore, config: ChecksConfig = {}) {
    this.guard = new OutboundGuard({ allowHosts: config.allowHosts ?? [], lookup: config.lookup ?? defaultLookup, allowFlag: '--checks-allow-hosts' });
    this.#links = new LinkChecker({ guard: this.guard, ...(config.linkTimeoutMs === undefined ? {} : { timeoutMs: config.linkTimeoutMs }) });
    this.#spam = config.rspamd ? rspamdChecker(config.rspamd) : config.spamd ? spamdChecker(config.spamd) : null;
    this.#screens = new Screenshotter({ guard: this.guard, ...(config.chromium === undefined ? {} : { chromium: config.chromium }) });
  }

  get spamConfigured(): boolean {
    return this.#spam !== null;
  }

  async #message(id: string): Promise<NonNullable<Awaited<ReturnType<MessageStore['getMessage']>>>> {
    const m = await this.store.getMessage(id);
    if (m === null) throw new CheckError(404, `no message ${id}`);
    return m;
  }

  /** `clients`: `gmail.*,outlook.windows` (400 naming an unknown one). */
  async html(id: string, clients?: string): Promise<HtmlCheckReport> {
    let wanted: string[] | undefined;
    if (clients !== undefined && clients !== '') {
      try {
        wanted = selectClients(clients);
      } catch (e) {
        throw new CheckError(400, (e as Error).message);
      }
    }
    const key = `${id}\n${wanted?.join(',') ?? '*'}`;
    const hit = this.#html.get(key);
    if (hit !== undefined) return hit;
    const running = this.#htmlRunning.get(key);
    if (running !== undefined) return running;
    const work = (async (): Promise<HtmlCheckReport> => {
      const m = await this.#message(id);
      if (m.html === '') throw new CheckError(404, 'the message has no HTML part');
      try {
        const report = await this.#htmlThread.check(m.html, wanted);
        this.#html.set(key, report);
        return report;
      } catch (e) {
        if (e instanceof HtmlCheckBusy) throw new CheckError(503, e.message);
        throw e;
      }
    })();
    this.#htmlRunning.set(key, work);
    try {
      return await work;
    } finally {
      this.#htmlRunning.delete(key);
    }
  }

  async headers(id: string): Promise<HeaderReport> {
    const hit = this.#headers.get(id);
    if (hit !== undefined) return hit;
    const m = await this.#message(id);
    const raw = await this.store.getRaw(id);
    if (raw === null) throw new CheckError(404, `no message ${id}`);
    const report = checkHeaders({ raw, text: m.text, html: m.html });
    this.#headers.set(id, report);
    return report;
  }

  async links(id: string): Promise<LinkReport> {
    const m = await this.#message(id);
    return this.#links.check(messageUrls(m.text, m.html));
  }

  async spam(id: string): Promise<SpamReport> {
    if (this.#spam === null) throw new CheckError(404, 'no spam checker is configured: start the server with --spamd HOST:PORT (SpamAssassin) or --rspamd URL');
    const raw = await this.store.getRaw(id);
    if (raw === null) throw new CheckError(404, `no message ${id}`);
    try {
      return await this.#spam.check(raw);
    } catch (e) {
      throw new CheckError(502, (e as Error).message);
    }
  }

  async screenshot(id: string, options: ScreenshotOptions): Promise<Buffer> {
    const m = await this.#message(id);
    if (m.html === '') throw new CheckError(404, 'the message has no HTML part');
    let html = m.html;
    if (m.attachments.some((a) => a.contentId !== null)) html = await this.#inlineCid(id, html, m.attachments);
    try {
      return await this.#screens.render(html, options);
    } catch (e) {
      if (e instanceof ScreenshotUnavailable) throw new CheckError(501, e.message);
      throw e;
    }
  }

  /** `cid:` references as data: URIs of the attachments they name (the browser never requests cid:). */
  async #inlineCid(id: string, html: string, attachments: ReadonlyArray<{ index: number; contentId: string | null; contentType: string }>): Promise<string> {
    const byCid = new Map<string, string>();
    for (const a of attachments) {
      if (a.contentId === null) continue;
      const content = await this.store.getAttachment(id, a.index);
      if (content !== null) byCid.set(a.contentId.replace(/^<|>$/g, '').toLowerCase(), `data:${a.contentType};base64,${content.content.toString('base64')}`);
    }
    let out = '';
    let from = 0;
    for (let at = html.indexOf('cid:', 0); at !== -1; at = html.indexOf('cid:', at + 4)) {
      let end = at + 4;
      while (end < html.length && !'"\'> \t\r\n)'.includes(html[end] as string)) end++;
      const uri = byCid.get(html.slice(at + 4, end).toLowerCase());
      if (uri === undefined) continue;
      out += html.slice(from, at) + uri;
      from = end;
    }
    return out + html.slice(from);
  }

  async close(): Promise<void> {
    await Promise.all([this.#screens.close(), this.#htmlThread.close()]);
  }
}

/** Every http(s) link of the text and HTML, and every image URL of the HTML, each once. */
export function messageUrls(text: string, html: string): Array<{ url: string; kind: LinkKind }> {
  const out = new Map<string, LinkKind>();
  for (const url of extractLinks(text, html)) out.set(url, 'link');
  scanHtml(html, {
    tag: (tag) => {
      if (tag.closing || (tag.name !== 'img' && tag.name !== 'source')) return;
      const attrs = tag.attributes;
      for (let k = 0; k < attrs.length; k++) {
        if (!attrs.is(k, 'src')) continue;
        const src = attrs.value(k).trim();
        if (/^https?:\/\//i.test(src) && !out.has(src)) out.set(src, 'image');
      }
    },
  });
  return [...out].map(([url, kind]) => ({ url, kind }));
}
