/**
 * Webhooks: what happened (a message stored or deleted, a session ended, a relay finished) told to receivers over HTTP,
 * signed (./signature.ts), retried (./schedule.ts), and recorded, through the store's outbox (WebhookOutbox).
 *
 * Theory of operation:
 * - The events come from the store (onIndexed: a message is announced once searchable, recovered ones too, and on
 *   PostgreSQL every instance hears every message) and from the service's emitter (deleted, session ended, relay).
 *   For each webhook that wants the event (its `events`, its `query` for message events) one delivery is recorded in
 *   the outbox. Its id (the `webhook-id` header) is derived from the webhook and the event, so an event recorded twice
 *   (by two instances, or again after a restart) is one delivery. The deliveries of one turn are recorded together.
 * - The dispatcher claims due deliveries from the outbox (on PostgreSQL: FOR UPDATE SKIP LOCKED, one instance each,
 *   for a lease), makes at most `concurrency` requests at once through the outbound guard, and settles each attempt:
 *   2xx delivered; 429, 5xx, a network error or no answer in `timeoutMs` tried again on the schedule; any other status
 *   failed at once. An instance killed mid-attempt leaves the claim to expire; another (or the restarted one) makes the
 *   attempt again with the same webhook-id: at least once, never lost.
 * - The outbox holds at most `bound` pending deliveries per webhook: past it the oldest are dropped, counted (GET
 *   /api/v1/webhooks/ID `dropped`) and logged. Settled ones are kept, the newest KEEP_SETTLED per webhook, for the
 *   deliveries listing.
 * - SMTP never waits for any of this: recording is after the message's 250 (it waits for the index), and delivery runs
 *   on its own, bounded in concurrency and time.
 * - Time is a Clock (wall time, epoch milliseconds) handed in: tests move it by hand and never wait for a back-off.
 */
import { createHash, randomUUID } from 'node:crypto';
import dns from 'node:dns/promises';
import type { MailwireEvents } from '../events.js';
import type { Clock } from '../net/clock.js';
import { OutboundGuard, type Lookup } from '../net/outbound-guard.js';
import { guardedFetch } from '../net/guarded-fetch.js';
import { matchSummary, parseQuery } from '../store/index.js';
import type {
  DeliveryAttempt, MessageStore, MessageSummary, NewDelivery, Page, WebhookDelivery, WebhookEventName, WebhookOutbox, WebhookRecord,
} from '../store/index.js';
import { logError } from '../log.js';
import { checkWebhookFields, WEBHOOK_EVENTS, type Checked, type WebhookFields } from './document.js';
import { generateSecret, parseSecret, signatureHeader } from './signature.js';
import { nextAttemptAt, retryAfterMs, verdictOf } from './schedule.js';

/** At start, the messages of this last stretch have their events recorded again (see #catchUp), at most this many pages of 1,000. */
const CATCH_UP_MS = 60_000;
const CATCH_UP_PAGES = 10;

/** Pending deliveries kept per webhook while its receiver is down; past it the oldest are dropped (README says so). */
export const DEFAULT_WEBHOOK_BOUND = 10_000;
/** Settled deliveries kept per webhook for GET …/deliveries. */
export const KEEP_SETTLED = 1000;
const RESPONSE_KEPT = 1024;

/** The system's wall clock, in epoch milliseconds (the outbox's times are shared by instances and survive restarts). */
export const wallClock: Clock = {
  now: () => Date.now(),
  setTimer(fire, ms, keepsAlive) {
    const t = setTimeout(fire, ms);
    if (!keepsAlive) t.unref();
    return () => clearTimeout(t);
  },
};

export type WebhookServiceOptions = Readonly<{
  store: MessageStore;
  events: MailwireEvents;
  /** Webhooks from the command line (--webhook), delivered with `secret`; they are not kept in the store. */
  configured?: readonly string[];
  /** --webhook-secret for the configured webhooks; absent: one is made at start (see configuredSecret). */
  secret?: string;
  /** Hosts and ranges webhooks may reach beyond public addresses and loopback (--webhook-allow-hosts). */
  allowHosts?: readonly string[];
  lookup?: Lookup;
  clock?: Clock;
  random?: () => number;
  bound?: number;
  /** Requests in flight at once, per instance. Default 8. */
  concurrency?: number;
  /** Per attempt. Default 10 s. */
  timeoutMs?: number;
  /** How often the outbox is looked at for due deliveries (retries, other instances' leftovers). Default 1 s. */
  pollMs?: number;
  /** How long a claim holds before another instance may take the delivery. Default 60 s. */
  leaseMs?: number;
}>;

/** A webhook as the API shows it: the secret never, only its last characters. */
export type WebhookView = Readonly<Omit<WebhookRecord, 'secret'> & { source: 'api' | 'flag'; secretHint: string; dropped: number }>;

const defaultLookup: Lookup = async (host) => (await dns.lookup(host, { all: true })).map((a) => a.address);

export class WebhookService {
  readonly #outbox: WebhookOutbox;
  readonly #store: MessageStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #guard: OutboundGuard;
  readonly #bound: number;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #configured: readonly WebhookRecord[];
  /** The secret of the configured webhooks (given or made at start). */
  readonly configuredSecret: string;
  #stored: WebhookRecord[] = [];
  #storedAt = -Infinity;
  readonly #dropped = new Map<string, number>();
  #recording: NewDelivery[] = [];
  #recordQueued = false;
  #inFlight = 0;
  #pumping = false;
  #pumpAgain = false;
  #cancelPoll: (() => void) | null = null;
  #closed = false;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #settling = new Set<Promise<void>>();
  /** The stored webhooks' first load: events heard before it (recovered messages) wait for it. */
  readonly #loaded: Promise<void>;

  constructor(options: WebhookServiceOptions) {
    this.#store = options.store;
    this.#outbox = options.store.outbox;
    this.#clock = options.clock ?? wallClock;
    this.#random = options.random ?? Math.random;
    this.#guard = new OutboundGuard({ allowHosts: options.allowHosts ?? [], allowLoopback: true, lookup: options.lookup ?? defaultLookup, allowFlag: '--webhook-allow-hosts' });
    this.#bound = options.bound ?? DEFAULT_WEBHOOK_BOUND;
    this.#concurrency = options.concurrency ?? 8;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#leaseMs = options.leaseMs ?? 60_000;
    if (options.secret !== undefined) {
      const s = parseSecret(options.secret);
      if (!s.ok) throw new Error(`--webhook-secret: ${s.reason}`);
    }
    this.configuredSecret = options.secret ?? generateSecret();
    this.#configured = (options.configured ?? []).map((url) => {
      const checked = checkWebhookFields({ url }, false);
      if (!checked.ok) throw new Error(`--webhook ${url}: ${checked.error.replace(/^"url" /, '')}`);
      return {
        id: `flag-${createHash('sha256').update(checked.value.url ?? url).digest('hex').slice(0, 12)}`, url: checked.value.url ?? url, events: WEBHOOK_EVENTS,
        query: '', payload: 'summary', secret: this.configuredSecret, createdAt: new Date(this.#clock.now()).toISOString(),
      } satisfies WebhookRecord;
    });
    this.#loaded = this.#refresh(true).catch((e: unknown) => logError('mailwire webhooks: cannot read the stored webhooks:', e));
    const { events, store } = options;
    this.#unsubscribe.push(
      store.onIndexed((m) => void this.#messageStored(m)),
      events.on('message-deleted', ({ id }) => void this.#record('message-deleted', id, { id })),
      events.on('session-ended', ({ id }) => void this.#record('session-ended', id, { id })),
      events.on('relay-finished', (r) => void this.#record('relay-finished', r.id, r)),
    );
  }

  /** Checks the configured URLs against the guard, loads the stored webhooks and starts delivering. */
  async start(): Promise<void> {
    for (const hook of this.#configured) {
      const verdict = await this.#guard.check(new URL(hook.url));
      if (!verdict.ok) throw new Error(`--webhook ${hook.url}: ${verdict.reason}`);
    }
    await this.#loaded;
    await this.#catchUp();
    this.#poll();
  }

  /**
   * A process killed between a message's index commit and the record of its events (one hop from the store's thread
   * to this one) would lose them: at start, the messages received in the last CATCH_UP_MS are announced again.
   * Recording is idempotent (a delivery already recorded, by webhook and event, is left as it is), so only the lost
   * ones are added; the cost is that a webhook made less than that long before a restart can hear of a message stored
   * just before it was made.
   */
  async #catchUp(): Promise<void> {
    if (!this.#all().some((h) => h.events.includes('message-stored'))) return;
    const query = `after:${new Date(this.#clock.now() - CATCH_UP_MS).toISOString()}`;
    let cursor: string | null = null;
    try {
      for (let page = 0; page < CATCH_UP_PAGES; page++) {
        const found: Page<MessageSummary> = await this.#store.listMessages({ query, limit: 1000, cursor });
        for (const m of found.items) await this.#messageStored(m);
        if (found.nextCursor === null) break;
        cursor = found.nextCursor;
      }
    } catch (e) {
      logError('mailwire webhooks: cannot read the last minute\'s messages to record their events again:', e);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const u of this.#unsubscribe) u();
    this.#cancelPoll?.();
    await this.#flush();
    await Promise.allSettled([...this.#settling]);
  }

  // ---- the webhooks ----------------------------------------------------------------------------------------------

  async list(): Promise<WebhookView[]> {
    await this.#refresh(true);
    return this.#all().map((h) => this.#view(h));
  }

  async get(id: string): Promise<WebhookView | null> {
    const h = await this.#find(id);
    return h === null ? null : this.#view(h);
  }

  /** Creates a webhook from a POST body: its record (with the secret, shown this once) or why not. */
  async create(body: unknown): Promise<Checked<WebhookRecord>> {
    const checked = await this.#check(body, false);
    if (!checked.ok) return checked;
    const f = checked.value;
    const hook: WebhookRecord = {
      id: `wh_${randomUUID().replaceAll('-', '').slice(0, 20)}`, url: f.url ?? '', events: f.events ?? WEBHOOK_EVENTS, query: f.query ?? '',
      payload: f.payload ?? 'summary', secret: f.secret ?? generateSecret(), createdAt: new Date(this.#clock.now()).toISOString(),
    };
    await this.#outbox.putWebhook(hook);
    await this.#refresh(true);
    return { ok: true, value: hook };
  }

  /** PATCH: null when no such webhook; 'configured' for one from --webhook, which is changed by changing the flag. */
  async update(id: string, body: unknown): Promise<Checked<WebhookView> | 'configured' | null> {
    const hook = await this.#find(id);
    if (hook === null) return null;
    if (this.#isConfigured(id)) return 'configured';
    const checked = await this.#check(body, true);
    if (!checked.ok) return checked;
    const next: WebhookRecord = { ...hook, ...checked.value };
    await this.#outbox.putWebhook(next);
    await this.#refresh(true);
    return { ok: true, value: this.#view(next) };
  }

  /** 'gone' when deleted, null when no such webhook, 'configured' for one from --webhook. */
  async remove(id: string): Promise<'gone' | 'configured' | null> {
    if (this.#isConfigured(id)) return 'configured';
    const gone = await this.#outbox.deleteWebhook(id);
    await this.#refresh(true);
    return gone ? 'gone' : null;
  }

  async deliveries(id: string, limit: number): Promise<WebhookDelivery[] | null> {
    if ((await this.#find(id)) === null) return null;
    return this.#outbox.listDeliveries(id, limit);
  }

  /** Makes a delivery due now: false when the webhook has no such delivery. */
  async retry(id: string, deliveryId: string): Promise<boolean> {
    const done = await this.#outbox.retryDelivery(id, deliveryId, this.#clock.now());
    if (done) this.#wake();
    return done;
  }

  #isConfigured(id: string): boolean {
    return this.#configured.some((h) => h.id === id);
  }

  #all(): WebhookRecord[] {
    return [...this.#configured, ...this.#stored];
  }

  async #find(id: string): Promise<WebhookRecord | null> {
    const known = this.#all().find((h) => h.id === id);
    if (known !== undefined) return known;
    await this.#refresh(true);
    return this.#all().find((h) => h.id === id) ?? null;
  }

  #view(h: WebhookRecord): WebhookView {
    const { secret, ...rest } = h;
    return { ...rest, source: this.#isConfigured(h.id) ? 'flag' : 'api', secretHint: `whsec_…${secret.slice(-4)}`, dropped: this.#dropped.get(h.id) ?? 0 };
  }

  async #check(body: unknown, partial: boolean): Promise<Checked<Partial<WebhookFields>>> {
    const checked = checkWebhookFields(body, partial);
    if (!checked.ok || checked.value.url === undefined) return checked;
    const verdict = await this.#guard.check(new URL(checked.value.url));
    if (!verdict.ok) return { ok: false, error: `"url": ${verdict.reason}` };
    return checked;
  }

  /** The stored webhooks, read again at most once per poll (another instance may have changed them) unless `now`. */
  async #refresh(now: boolean): Promise<void> {
    if (!now && this.#clock.now() - this.#storedAt < this.#pollMs) return;
    this.#stored = await this.#outbox.listWebhooks();
    this.#storedAt = this.#clock.now();
  }

  // ---- recording events ------------------------------------------------------------------------------------------

  async #messageStored(m: MessageSummary): Promise<void> {
    await this.#loaded;
    const now = this.#clock.now();
    for (const hook of this.#all()) {
      if (!hook.events.includes('message-stored')) continue;
      if (!(await this.#matches(hook, m))) continue;
      this.#recording.push(deliveryFor(hook, 'message-stored', m.id, m, now));
    }
    this.#queueRecord();
  }

  /** Does the message match the webhook's query: from its summary, or (words maybe in the body) by the store's search. */
  async #matches(hook: WebhookRecord, m: MessageSummary): Promise<boolean> {
    if (hook.query.trim() === '') return true;
    try {
      const answer = matchSummary(parseQuery(hook.query), m);
      if (answer !== 'maybe') return answer === 'yes';
      const at = Date.parse(m.receivedAt);
      const within = `after:${new Date(at).toISOString()} before:${new Date(at + 1).toISOString()}`;
      const page = await this.#store.listMessages({ query: `${hook.query} ${within}`, limit: 1000 });
      return page.items.some((x) => x.id === m.id);
    } catch (e) {
      logError(`mailwire webhooks: webhook ${hook.id}: cannot match message ${m.id} against its query:`, e);
      return false;
    }
  }

  /**
   * Events without a summary to match: a query is about messages, so a deleted message (gone, nothing to test) is told
   * only to webhooks without one; session-ended and relay-finished go to every webhook that wants them, query or not.
   */
  async #record(event: WebhookEventName, subject: string, data: unknown): Promise<void> {
    await this.#loaded;
    if (this.#closed) return;
    const now = this.#clock.now();
    for (const hook of this.#all()) {
      if (!hook.events.includes(event)) continue;
      if (hook.query.trim() !== '' && event === 'message-deleted') continue;
      this.#recording.push(deliveryFor(hook, event, subject, data, now));
    }
    this.#queueRecord();
  }

  #queueRecord(): void {
    if (this.#recordQueued || this.#recording.length === 0) return;
    this.#recordQueued = true;
    setImmediate(() => {
      this.#recordQueued = false;
      void this.#flush();
    });
  }

  /** Records what this turn saw, in one outbox call; on failure it is kept and tried again at the next poll. */
  async #flush(): Promise<void> {
    const batch = this.#recording;
    if (batch.length === 0) return;
    this.#recording = [];
    try {
      const { dropped } = await this.#outbox.enqueue(batch, this.#bound);
      for (const [hook, n] of Object.entries(dropped)) {
        const total = (this.#dropped.get(hook) ?? 0) + n;
        this.#dropped.set(hook, total);
        logError(`mailwire webhooks: webhook ${hook} has more than ${this.#bound} deliveries waiting; dropped the ${n} oldest (${total} dropped since start)`);
      }
      this.#wake();
    } catch (e) {
      this.#recording = [...batch, ...this.#recording];
      logError(`mailwire webhooks: cannot record ${batch.length} deliveries (tried again in ${this.#pollMs} ms):`, e);
    }
  }

  // ---- delivering ------------------------------------------------------------------------------------------------

  #poll(): void {
    if (this.#closed) return;
    this.#cancelPoll = this.#clock.setTimer(() => {
      void (async () => {
        try {
          await this.#flush();
          await this.#refresh(false);
          await this.#outbox.trimSettled(KEEP_SETTLED);
        } catch (e) {
          logError('mailwire webhooks: outbox poll failed:', e);
        }
        this.#wake();
        this.#poll();
      })();
    }, this.#pollMs, false);
  }

  #wake(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    void this.#pump();
  }

  /** Claims due deliveries while there is room for more requests. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        while (!this.#closed && this.#inFlight < this.#concurrency) {
          const batch = await this.#outbox.claim(this.#clock.now(), this.#concurrency - this.#inFlight, this.#leaseMs);
          if (batch.length === 0) break;
          for (const d of batch) {
            this.#inFlight++;
            const p = this.#deliver(d).catch((e: unknown) => logError(`mailwire webhooks: delivery ${d.id} failed:`, e)).finally(() => {
              this.#inFlight--;
              this.#settling.delete(p);
              this.#wake();
            });
            this.#settling.add(p);
          }
        }
      } while (this.#pumpAgain && !this.#closed);
    } catch (e) {
      logError('mailwire webhooks: cannot claim deliveries (tried again at the next poll):', e);
    } finally {
      this.#pumping = false;
    }
  }

  async #deliver(d: WebhookDelivery): Promise<void> {
    const hook = this.#all().find((h) => h.id === d.webhookId);
    const now = this.#clock.now();
    if (hook === undefined) {
      // A webhook of another instance's flags (or one gone): left for an instance that knows it, failed after a day.
      const attempt = { at: new Date(now).toISOString(), status: null, ms: 0, response: '', error: `no webhook ${d.webhookId} in this instance` };
      if (now - d.createdAt > 24 * 3_600_000) await this.#outbox.settle(d.id, attempt, { state: 'failed' });
      else await this.#outbox.settle(d.id, null, { state: 'pending', at: now + 5_000 });
      return;
    }
    const key = parseSecret(hook.secret);
    const { body, contentType } = await this.#payload(hook, d);
    const timestamp = Math.floor(now / 1000);
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'mailwire-webhook',
      'webhook-id': d.id,
      'webhook-timestamp': String(timestamp),
      'webhook-event': d.event,
      ...(key.ok ? { 'webhook-signature': signatureHeader(key.key, d.id, timestamp, body) } : {}),
    };
    const res = await guardedFetch(this.#guard, hook.url, { method: 'POST', headers, body, timeoutMs: this.#timeoutMs, maxRedirects: 0, maxBodyBytes: RESPONSE_KEPT });
    const at = new Date(now).toISOString();
    const ms = Math.round(res.ms);
    const after = this.#clock.now();
    if (!res.ok) {
      const attempt: DeliveryAttempt = { at, status: null, ms, response: '', error: res.reason };
      // The guard refusing the address is for good (the name now resolves somewhere it may not go); the rest is retried.
      const next = res.refused ? null : nextAttemptAt(d.attempts.length + 1, d.createdAt, after, null, this.#random());
      await this.#outbox.settle(d.id, attempt, next === null ? { state: 'failed' } : { state: 'pending', at: next });
      return;
    }
    const attempt: DeliveryAttempt = { at, status: res.status, ms, response: res.body.subarray(0, RESPONSE_KEPT).toString('utf8'), error: null };
    const verdict = verdictOf(res.status);
    if (verdict === 'delivered') await this.#outbox.settle(d.id, attempt, { state: 'delivered' });
    else if (verdict === 'failed') await this.#outbox.settle(d.id, attempt, { state: 'failed' });
    else {
      const header = res.headers['retry-after'];
      const wait = retryAfterMs(Array.isArray(header) ? header[0] : header, Date.now());
      const next = nextAttemptAt(d.attempts.length + 1, d.createdAt, after, wait, this.#random());
      await this.#outbox.settle(d.id, attempt, next === null ? { state: 'failed' } : { state: 'pending', at: next });
    }
  }

  /** The body of a delivery: `{type, timestamp, data}` JSON, or the message's .eml for `raw`. */
  async #payload(hook: WebhookRecord, d: WebhookDelivery): Promise<{ body: Buffer; contentType: string }> {
    const json = (data: unknown): { body: Buffer; contentType: string } => ({
      body: Buffer.from(JSON.stringify({ type: d.event, timestamp: new Date(d.createdAt).toISOString(), data })), contentType: 'application/json',
    });
    const recorded = JSON.parse(d.data) as unknown;
    if (d.event === 'message-stored' && hook.payload === 'raw') {
      const raw = await this.#store.getRaw(d.subject);
      if (raw !== null) return { body: raw, contentType: 'message/rfc822' };
    } else if (d.event === 'message-stored' && hook.payload === 'message') {
      const m = await this.#store.getMessage(d.subject);
      if (m !== null) return json(m);
    } else if (d.event === 'session-ended') {
      const s = await this.#store.getSession(d.subject);
      if (s !== null) {
        if (hook.payload === 'summary') {
          const { transcript: _t, ...summary } = s;
          return json(summary);
        }
        return json(s);
      }
    }
    // The summary recorded with the event (a message deleted since is still told of as it was).
    return json(recorded);
  }
}

/** One delivery of an event to a webhook; its id is the same whoever records it, however often. */
function deliveryFor(hook: WebhookRecord, event: WebhookEventName, subject: string, data: unknown, now: number): NewDelivery {
  const id = `msg_${createHash('sha256').update(`${hook.id}\n${event}\n${subject}`).digest('base64url').slice(0, 27)}`;
  return { id, webhookId: hook.id, event, subject, createdAt: now, data: JSON.stringify(data) };
}

