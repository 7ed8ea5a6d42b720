/**
 * The PostgreSQL store's webhook outbox (tables in ./schema.ts v3), shared by every instance on the database: each
 * records the deliveries of the events it sees (ON CONFLICT DO NOTHING on the derived id, so an event seen by two
 * instances is one delivery), and claim() takes due rows with FOR UPDATE SKIP LOCKED, so two instances never claim
 * the same one; a claim holds for a lease, after which a delivery whose instance died is due again.
 */
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import type { DeliveryAttempt, DeliveryNext, DeliveryState, NewDelivery, WebhookDelivery, WebhookEventName, WebhookOutbox, WebhookRecord } from '../types.js';

export type PgQuery = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<QueryResult<R>>;
export type PgTx = <T>(work: (c: PoolClient) => Promise<T>, durable: boolean) => Promise<T>;

type Row = {
  id: string; webhook_id: string; event: string; subject: string; created_at: string; state: string; next_at: string | null; attempts: DeliveryAttempt[]; data: string;
};
const COLUMNS = 'id, webhook_id, event, subject, created_at, state, next_at, attempts, data';
const deliveryOf = (r: Row): WebhookDelivery => ({
  id: r.id, webhookId: r.webhook_id, event: r.event as WebhookEventName, subject: r.subject, createdAt: Number(r.created_at),
  state: r.state as DeliveryState, nextAt: r.next_at === null ? null : Number(r.next_at), attempts: r.attempts, data: r.data,
});

export class PgOutbox implements WebhookOutbox {
  readonly #query: PgQuery;
  readonly #tx: PgTx;

  constructor(query: PgQuery, tx: PgTx) {
    this.#query = query;
    this.#tx = tx;
  }

  async listWebhooks(): Promise<WebhookRecord[]> {
    const r = await this.#query<{ record: WebhookRecord }>('SELECT record FROM webhooks ORDER BY created_seq');
    return r.rows.map((row) => row.record);
  }

  async putWebhook(hook: WebhookRecord): Promise<void> {
    await this.#query('INSERT INTO webhooks (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = excluded.record', [hook.id, JSON.stringify(hook)]);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.#tx(async (c) => {
      const gone = ((await c.query('DELETE FROM webhooks WHERE id = $1', [id])).rowCount ?? 0) > 0;
      if (gone) await c.query('DELETE FROM webhook_deliveries WHERE webhook_id = $1', [id]);
      return gone;
    }, true);
  }

  async enqueue(deliveries: readonly NewDelivery[], bound: number): Promise<{ added: number; dropped: Record<string, number> }> {
    if (deliveries.length === 0) return { added: 0, dropped: {} };
    return this.#tx(async (c) => {
      const r = await c.query<{ webhook_id: string }>(`INSERT INTO webhook_deliveries (id, webhook_id, event, subject, created_at, state, next_at, data)
        SELECT d.id, d.webhook_id, d.event, d.subject, d.created_at, 'pending', d.created_at, d.data
        FROM json_to_recordset($1::json) AS d(id text, webhook_id text, event text, subject text, created_at bigint, data text)
        ON CONFLICT (id) DO NOTHING RETURNING webhook_id`,
      [JSON.stringify(deliveries.map((d) => ({ id: d.id, webhook_id: d.webhookId, event: d.event, subject: d.subject, created_at: d.createdAt, data: d.data })))]);
      const touched = new Set(r.rows.map((row) => row.webhook_id));
      const dropped: Record<string, number> = {};
      for (const hook of touched) {
        const over = await c.query<{ seq: string }>(`SELECT seq FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'pending' ORDER BY seq DESC LIMIT 1 OFFSET $2`, [hook, bound]);
        const seq = over.rows[0]?.seq;
        if (seq === undefined) continue;
        const d = await c.query(`DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'pending' AND seq <= $2`, [hook, seq]);
        if ((d.rowCount ?? 0) > 0) dropped[hook] = d.rowCount ?? 0;
      }
      return { added: r.rows.length, dropped };
    }, true);
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    const r = await this.#query<Row>(`UPDATE webhook_deliveries SET state = 'delivering', claimed_until = $2
      WHERE seq IN (SELECT seq FROM webhook_deliveries
        WHERE (state = 'pending' AND next_at <= $1) OR (state = 'delivering' AND claimed_until <= $1)
        ORDER BY next_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
      RETURNING ${COLUMNS}`, [now, now + leaseMs, limit]);
    return r.rows.map(deliveryOf).sort((a, b) => (a.nextAt ?? 0) - (b.nextAt ?? 0));
  }

  async settle(id: string, attempt: DeliveryAttempt | null, next: DeliveryNext): Promise<void> {
    const nextAt = next.state === 'pending' ? next.at : null;
    if (attempt === null) await this.#query('UPDATE webhook_deliveries SET state = $1, next_at = $2, claimed_until = 0 WHERE id = $3', [next.state, nextAt, id]);
    else {
      await this.#query('UPDATE webhook_deliveries SET state = $1, next_at = $2, claimed_until = 0, attempts = attempts || jsonb_build_array($3::jsonb) WHERE id = $4',
        [next.state, nextAt, JSON.stringify(attempt), id]);
    }
  }

  async listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    const r = await this.#query<Row>(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY seq DESC LIMIT $2`, [webhookId, limit]);
    return r.rows.map(deliveryOf);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | null> {
    const r = await this.#query<Row>(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE id = $1`, [id]);
    const row = r.rows[0];
    return row === undefined ? null : deliveryOf(row);
  }

  async retryDelivery(webhookId: string, id: string, now: number): Promise<boolean> {
    const r = await this.#query(`UPDATE webhook_deliveries SET state = 'pending', next_at = $1, claimed_until = 0 WHERE id = $2 AND webhook_id = $3`, [now, id, webhookId]);
    return (r.rowCount ?? 0) > 0;
  }

  async trimSettled(keep: number): Promise<number> {
    const r = await this.#query(`DELETE FROM webhook_deliveries WHERE seq IN (
      SELECT seq FROM (SELECT seq, row_number() OVER (PARTITION BY webhook_id ORDER BY seq DESC) AS n
        FROM webhook_deliveries WHERE state IN ('delivered', 'failed')) t WHERE n > $1)`, [keep]);
    return r.rowCount ?? 0;
  }
}
