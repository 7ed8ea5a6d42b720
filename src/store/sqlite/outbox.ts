/**
 * The SQLite store's webhook outbox: a database of its own beside the messages (webhooks.sqlite in the data directory),
 * so that the message writer thread and its schema are untouched and the outbox's small writes never wait for a
 * message commit. It runs on the main thread: each call is one short statement or transaction (a batch of recorded
 * events, one claim, one settled attempt) in WAL mode with synchronous=NORMAL, which survives a SIGKILL of the process
 * (the WAL is written before the call returns) though not a power cut. One process owns a data directory, so claim()
 * needs no locking beyond the transaction, and a delivery found claimed at open was in flight when the last process
 * died: it is due again at once.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import type { DeliveryAttempt, DeliveryNext, DeliveryState, NewDelivery, WebhookDelivery, WebhookEventName, WebhookOutbox, WebhookRecord } from '../types.js';

export const OUTBOX_FILE_NAME = 'webhooks.sqlite';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    next_at INTEGER,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    attempts TEXT NOT NULL DEFAULT '[]',
    data TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_at);
  CREATE INDEX IF NOT EXISTS deliveries_hook ON deliveries(webhook_id, state, seq);
`;

type Row = {
  id: string; webhook_id: string; event: string; subject: string; created_at: number; state: string; next_at: number | null; attempts: string; data: string;
};

export const deliveryOfRow = (r: Row): WebhookDelivery => ({
  id: r.id, webhookId: r.webhook_id, event: r.event as WebhookEventName, subject: r.subject, createdAt: Number(r.created_at),
  state: r.state as DeliveryState, nextAt: r.next_at === null ? null : Number(r.next_at), attempts: JSON.parse(r.attempts) as DeliveryAttempt[], data: r.data,
});

const COLUMNS = 'id, webhook_id, event, subject, created_at, state, next_at, attempts, data';

export class SqliteOutbox implements WebhookOutbox {
  readonly #db: Db;
  readonly #insert: Statement;
  readonly #claimed: Statement;
  readonly #due: Statement;

  constructor(dataDir: string) {
    this.#db = new Database(join(dataDir, OUTBOX_FILE_NAME));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 1000');
    this.#db.exec(SCHEMA);
    this.#insert = this.#db.prepare(`INSERT OR IGNORE INTO deliveries (id, webhook_id, event, subject, created_at, state, next_at, data)
      VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`);
    this.#due = this.#db.prepare(`SELECT ${COLUMNS} FROM deliveries
      WHERE (state = 'pending' AND next_at <= ?) OR (state = 'delivering' AND claimed_until <= ?) ORDER BY next_at, seq LIMIT ?`);
    this.#claimed = this.#db.prepare("UPDATE deliveries SET state = 'delivering', claimed_until = ? WHERE id = ?");
    // One process owns a data directory: a delivery still claimed at open was in flight when the last one died.
    this.#db.prepare("UPDATE deliveries SET state = 'pending', claimed_until = 0 WHERE state = 'delivering'").run();
  }

  async listWebhooks(): Promise<WebhookRecord[]> {
    return (this.#db.prepare('SELECT record FROM webhooks ORDER BY rowid').all() as { record: string }[]).map((r) => JSON.parse(r.record) as WebhookRecord);
  }

  async putWebhook(hook: WebhookRecord): Promise<void> {
    this.#db.prepare('INSERT INTO webhooks (id, record) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET record = excluded.record').run(hook.id, JSON.stringify(hook));
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.#db.transaction(() => {
      const gone = this.#db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
      if (gone) this.#db.prepare('DELETE FROM deliveries WHERE webhook_id = ?').run(id);
      return gone;
    })();
  }

  async enqueue(deliveries: readonly NewDelivery[], bound: number): Promise<{ added: number; dropped: Record<string, number> }> {
    return this.#db.transaction(() => {
      let added = 0;
      const touched = new Set<string>();
      for (const d of deliveries) {
        const changes = this.#insert.run(d.id, d.webhookId, d.event, d.subject, d.createdAt, d.createdAt, d.data).changes;
        if (changes > 0) {
          added++;
          touched.add(d.webhookId);
        }
      }
      const dropped: Record<string, number> = {};
      for (const hook of touched) {
        // The bound is checked by the newest pending row's rank: only past it are the oldest counted and removed.
        const over = this.#db.prepare("SELECT seq FROM deliveries WHERE webhook_id = ? AND state = 'pending' ORDER BY seq DESC LIMIT 1 OFFSET ?")
          .get(hook, bound) as { seq: number } | undefined;
        if (over === undefined) continue;
        const n = this.#db.prepare("DELETE FROM deliveries WHERE webhook_id = ? AND state = 'pending' AND seq <= ?").run(hook, over.seq).changes;
        if (n > 0) dropped[hook] = n;
      }
      return { added, dropped };
    })();
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    return this.#db.transaction(() => {
      const rows = this.#due.all(now, now, limit) as Row[];
      for (const r of rows) this.#claimed.run(now + leaseMs, r.id);
      return rows.map((r) => ({ ...deliveryOfRow(r), state: 'delivering' as const }));
    })();
  }

  async settle(id: string, attempt: DeliveryAttempt | null, next: DeliveryNext): Promise<void> {
    const nextAt = next.state === 'pending' ? next.at : null;
    if (attempt === null) {
      this.#db.prepare('UPDATE deliveries SET state = ?, next_at = ?, claimed_until = 0 WHERE id = ?').run(next.state, nextAt, id);
      return;
    }
    this.#db.prepare("UPDATE deliveries SET state = ?, next_at = ?, claimed_until = 0, attempts = json_insert(attempts, '$[#]', json(?)) WHERE id = ?")
      .run(next.state, nextAt, JSON.stringify(attempt), id);
  }

  async listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    return (this.#db.prepare(`SELECT ${COLUMNS} FROM deliveries WHERE webhook_id = ? ORDER BY seq DESC LIMIT ?`).all(webhookId, limit) as Row[]).map(deliveryOfRow);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM deliveries WHERE id = ?`).get(id) as Row | undefined;
    return r === undefined ? null : deliveryOfRow(r);
  }

  async retryDelivery(webhookId: string, id: string, now: number): Promise<boolean> {
    return this.#db.prepare("UPDATE deliveries SET state = 'pending', next_at = ?, claimed_until = 0 WHERE id = ? AND webhook_id = ?").run(now, id, webhookId).changes > 0;
  }

  async trimSettled(keep: number): Promise<number> {
    return this.#db.prepare(`DELETE FROM deliveries WHERE seq IN (
      SELECT seq FROM (SELECT seq, row_number() OVER (PARTITION BY webhook_id ORDER BY seq DESC) AS n FROM deliveries WHERE state IN ('delivered', 'failed'))
      WHERE n > ?)`).run(keep).changes;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
