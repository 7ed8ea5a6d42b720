/**
 * The memory store's webhook outbox: the same contract as the durable ones (../types.ts WebhookOutbox), kept in maps,
 * gone with the process as the memory store's messages are.
 */
import type { DeliveryAttempt, DeliveryNext, NewDelivery, WebhookDelivery, WebhookOutbox, WebhookRecord } from '../types.js';

type Row = { seq: number; d: WebhookDelivery; claimedUntil: number };

export class MemoryOutbox implements WebhookOutbox {
  readonly #hooks = new Map<string, WebhookRecord>();
  /** In insertion (seq) order. */
  readonly #rows = new Map<string, Row>();
  #seq = 0;

  async listWebhooks(): Promise<WebhookRecord[]> {
    return [...this.#hooks.values()];
  }

  async putWebhook(hook: WebhookRecord): Promise<void> {
    this.#hooks.set(hook.id, hook);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    if (!this.#hooks.delete(id)) return false;
    for (const [key, row] of this.#rows) if (row.d.webhookId === id) this.#rows.delete(key);
    return true;
  }

  async enqueue(deliveries: readonly NewDelivery[], bound: number): Promise<{ added: number; dropped: Record<string, number> }> {
    let added = 0;
    const touched = new Set<string>();
    for (const n of deliveries) {
      if (this.#rows.has(n.id)) continue;
      this.#rows.set(n.id, { seq: ++this.#seq, d: { ...n, state: 'pending', nextAt: n.createdAt, attempts: [] }, claimedUntil: 0 });
      touched.add(n.webhookId);
      added++;
    }
    const dropped: Record<string, number> = {};
    for (const hook of touched) {
      let total = 0;
      for (const r of this.#rows.values()) if (r.d.webhookId === hook) total++;
      if (total <= bound) continue;
      const pending = [...this.#rows.values()].filter((r) => r.d.webhookId === hook && r.d.state === 'pending');
      const over = pending.length - bound;
      if (over <= 0) continue;
      for (const r of pending.slice(0, over)) this.#rows.delete(r.d.id);
      dropped[hook] = over;
    }
    return { added, dropped };
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    const due = [...this.#rows.values()]
      .filter((r) => (r.d.state === 'pending' && (r.d.nextAt ?? 0) <= now) || (r.d.state === 'delivering' && r.claimedUntil <= now))
      .sort((a, b) => (a.d.nextAt ?? 0) - (b.d.nextAt ?? 0) || a.seq - b.seq)
      .slice(0, limit);
    for (const r of due) {
      r.d = { ...r.d, state: 'delivering' };
      r.claimedUntil = now + leaseMs;
    }
    return due.map((r) => r.d);
  }

  async settle(id: string, attempt: DeliveryAttempt | null, next: DeliveryNext): Promise<void> {
    const r = this.#rows.get(id);
    if (r === undefined) return;
    r.d = { ...r.d, state: next.state, nextAt: next.state === 'pending' ? next.at : null, attempts: attempt === null ? r.d.attempts : [...r.d.attempts, attempt] };
    r.claimedUntil = 0;
  }

  async listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    const out: WebhookDelivery[] = [];
    for (const r of [...this.#rows.values()].reverse()) {
      if (r.d.webhookId !== webhookId) continue;
      out.push(r.d);
      if (out.length >= limit) break;
    }
    return out;
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    return this.#rows.get(id)?.d ?? null;
  }

  async retryDelivery(webhookId: string, id: string, now: number): Promise<boolean> {
    const r = this.#rows.get(id);
    if (r === undefined || r.d.webhookId !== webhookId) return false;
    r.d = { ...r.d, state: 'pending', nextAt: now };
    r.claimedUntil = 0;
    return true;
  }

  async trimSettled(keep: number): Promise<number> {
    const seen = new Map<string, number>();
    let removed = 0;
    for (const r of [...this.#rows.values()].reverse()) {
      if (r.d.state !== 'delivered' && r.d.state !== 'failed') continue;
      const n = (seen.get(r.d.webhookId) ?? 0) + 1;
      seen.set(r.d.webhookId, n);
      if (n > keep) {
        this.#rows.delete(r.d.id);
        removed++;
      }
    }
    return removed;
  }
}
