/**
 * The PostgreSQL schema, in schema `mailwire` of the database named by --database-url, as ordered migrations:
 * MIGRATIONS[i] takes the database from version i to i + 1. All of them run in one transaction holding an advisory
 * lock, so when several instances start together one migrates and the others wait for it, then find nothing to do.
 *
 * Theory of operation (see postgres.ts for who writes what, when):
 *   messages       what the 250 promises: raw bytes, envelope, connection facts. One row per message, written by
 *                  save() in a durable commit. `seq` is the row's identity only: sequence values commit out of order
 *                  when several connections insert at once, so nothing pages on it.
 *   index_queue    one row per message not yet indexed, written in the same commit as the message; the indexers of
 *                  every instance claim rows with FOR UPDATE SKIP LOCKED and delete them in the commit that writes
 *                  the index row, so each message is indexed once, and again only if that commit never happened.
 *   message_index  what lists and search read: the summary, the lowercased address and subject columns (pg_trgm GIN
 *                  indexes for substrings) and the tsvector (GIN). `indexed_seq` is the listing order and the
 *                  cursor: it is drawn while holding an advisory transaction lock that is released only by the
 *                  commit, so indexed_seq values become visible in their own order, and a reader that has seen N has
 *                  seen every message below N that will ever exist. Cursors on it never skip or repeat a message.
 *   sessions       session records, numbered the same way (their own lock), so session pages hold too.
 *   message_inbox_left  (v2, issue 15) the inboxes (lowercased envelope recipients) a message was taken out of by
 *                  deleting an inbox's messages; `inbox:` and the inbox listing skip them. A message no inbox holds
 *                  any more is deleted in the same transaction.
 *   workspaces     (v3, issue 26) the workspaces (../workspace.ts), one JSON document each, shared by every instance;
 *                  messages and sessions get a `workspace` column generated from their connection JSON (which carries
 *                  it), so no write changes and every query of a workspace's handle filters on an indexed column.
 */
import type { PoolClient } from 'pg';

/** Advisory lock keys: (LOCK_CLASS, one of these). The class is "mw" in ASCII. */
export const LOCK_CLASS = 0x6d77;
export const LOCKS = { migrate: 1, indexOrder: 2, prune: 3, sessionOrder: 4 } as const;

/** The notification channel: an indexer's commit sends its highest indexed_seq. */
export const INDEXED_CHANNEL = 'mailwire_indexed';

export const SCHEMA = 'mailwire';

const v1 = `
  CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA ${SCHEMA};
  CREATE TABLE ${SCHEMA}.messages (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    received_at bigint NOT NULL,
    size integer NOT NULL,
    read boolean NOT NULL DEFAULT FALSE,
    envelope json NOT NULL,
    connection json NOT NULL,
    raw bytea NOT NULL
  );
  CREATE INDEX messages_received_at ON ${SCHEMA}.messages (received_at);
  CREATE TABLE ${SCHEMA}.index_queue (
    seq bigint PRIMARY KEY REFERENCES ${SCHEMA}.messages ON DELETE CASCADE,
    queued_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE SEQUENCE ${SCHEMA}.message_indexed_seq;
  CREATE TABLE ${SCHEMA}.message_index (
    seq bigint PRIMARY KEY REFERENCES ${SCHEMA}.messages ON DELETE CASCADE,
    indexed_seq bigint NOT NULL UNIQUE,
    summary json NOT NULL,
    from_lc text NOT NULL,
    to_lc text NOT NULL,
    subject_lc text NOT NULL,
    has_attachment boolean NOT NULL,
    fts tsvector NOT NULL
  );
  CREATE INDEX message_index_fts ON ${SCHEMA}.message_index USING gin (fts);
  CREATE INDEX message_index_from ON ${SCHEMA}.message_index USING gin (from_lc gin_trgm_ops);
  CREATE INDEX message_index_to ON ${SCHEMA}.message_index USING gin (to_lc gin_trgm_ops);
  CREATE INDEX message_index_subject ON ${SCHEMA}.message_index USING gin (subject_lc gin_trgm_ops);
  CREATE SEQUENCE ${SCHEMA}.session_seq;
  CREATE TABLE ${SCHEMA}.sessions (
    seq bigint PRIMARY KEY,
    id text NOT NULL UNIQUE,
    started_at bigint NOT NULL,
    ended_at bigint NOT NULL,
    end_reason text NOT NULL,
    connection json NOT NULL,
    message_ids json NOT NULL,
    truncated boolean NOT NULL,
    transcript json NOT NULL
  );
  CREATE INDEX sessions_started_at ON ${SCHEMA}.sessions (started_at);
`;

const v2 = `
  CREATE TABLE ${SCHEMA}.message_inbox_left (
    seq bigint NOT NULL REFERENCES ${SCHEMA}.messages ON DELETE CASCADE,
    address text NOT NULL,
    PRIMARY KEY (seq, address)
  );
`;

const v3 = `
  CREATE TABLE ${SCHEMA}.workspaces (name text PRIMARY KEY, doc json NOT NULL);
  ALTER TABLE ${SCHEMA}.messages ADD COLUMN workspace text GENERATED ALWAYS AS (coalesce(connection->>'workspace', 'default')) STORED;
  ALTER TABLE ${SCHEMA}.sessions ADD COLUMN workspace text GENERATED ALWAYS AS (connection->>'workspace') STORED;
  CREATE INDEX messages_workspace ON ${SCHEMA}.messages (workspace, seq);
  CREATE INDEX sessions_workspace ON ${SCHEMA}.sessions (workspace, seq);
`;

/**
 * v4 (issue 30): the webhooks made through the API and the outbox of their deliveries (see src/webhooks). Every instance
 * records each event's deliveries (the id is derived from webhook and event, so a second recording is a no-op) and
 * claims due ones with FOR UPDATE SKIP LOCKED for a lease, so each attempt is made by one instance.
 */
const v4 = `
  CREATE TABLE ${SCHEMA}.webhooks (
    id text PRIMARY KEY,
    record json NOT NULL,
    created_seq bigserial
  );
  CREATE TABLE ${SCHEMA}.webhook_deliveries (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    webhook_id text NOT NULL,
    event text NOT NULL,
    subject text NOT NULL,
    created_at bigint NOT NULL,
    state text NOT NULL,
    next_at bigint,
    claimed_until bigint NOT NULL DEFAULT 0,
    attempts jsonb NOT NULL DEFAULT '[]',
    data text NOT NULL
  );
  CREATE INDEX webhook_deliveries_due ON ${SCHEMA}.webhook_deliveries (state, next_at);
  CREATE INDEX webhook_deliveries_hook ON ${SCHEMA}.webhook_deliveries (webhook_id, state, seq);
`;

/** v5 (issue 32): what the session's client said (HELO name, MAIL FROM, RCPT TOs), so the list reads no transcript. */
const v5 = `ALTER TABLE ${SCHEMA}.sessions ADD COLUMN said json;`;

export const MIGRATIONS: readonly string[] = [v1, v2, v3, v4, v5];
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to the latest version under the migration lock; resolves with the version. Refuses a
 * database from a newer release.
 */
export async function migrate(client: PoolClient): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCKS.migrate]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_version (version integer NOT NULL)`);
    const r = await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.schema_version`);
    let version = r.rows[0]?.version ?? 0;
    if (r.rows.length === 0) await client.query(`INSERT INTO ${SCHEMA}.schema_version (version) VALUES (0)`);
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this mailwire understands (${SCHEMA_VERSION})`);
    }
    for (; version < SCHEMA_VERSION; version++) {
      const step = MIGRATIONS[version];
      if (step !== undefined) await client.query(step);
    }
    await client.query(`UPDATE ${SCHEMA}.schema_version SET version = $1`, [version]);
    await client.query('COMMIT');
    return version;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * The role a workspace's reads run under (issue 26): row-level security binds neither a superuser nor a table's owner,
 * so scoped queries `SET LOCAL ROLE` to this one, of this database's own (roles are cluster-wide). Its policies show it
 * the rows of the workspace set by `set_config('mailwire.workspace', …, true)` in the same transaction, and nothing
 * when none is set. It may only read.
 */
export const rlsRoleOf = (database: string): string => `mailwire_ws_${database.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`.slice(0, 63);

/**
 * Sets up that role and its policies; null (and a reason) when the database user may not make roles: the workspace
 * handle stays the one wall then. Idempotent, under the migration lock, so instances starting together agree.
 */
export async function setUpRowSecurity(client: PoolClient): Promise<{ role: string } | { role: null; reason: string }> {
  const db = (await client.query<{ d: string }>('SELECT current_database() AS d')).rows[0]?.d ?? '';
  const role = rlsRoleOf(db);
  const mine = `current_setting('mailwire.workspace', true)`;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCKS.migrate]);
    const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rows.length > 0;
    if (!exists) await client.query(`CREATE ROLE ${role} NOLOGIN`);
    await client.query(`GRANT ${role} TO current_user`);
    await client.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${role}`);
    await client.query(`GRANT SELECT ON ${SCHEMA}.messages, ${SCHEMA}.message_index, ${SCHEMA}.sessions, ${SCHEMA}.message_inbox_left TO ${role}`);
    for (const [table, using] of [
      ['messages', `workspace = ${mine}`],
      ['sessions', `workspace = ${mine}`],
      ['message_index', `EXISTS (SELECT 1 FROM ${SCHEMA}.messages m WHERE m.seq = message_index.seq)`],
      ['message_inbox_left', `EXISTS (SELECT 1 FROM ${SCHEMA}.messages m WHERE m.seq = message_inbox_left.seq)`],
    ] as const) {
      await client.query(`ALTER TABLE ${SCHEMA}.${table} ENABLE ROW LEVEL SECURITY`);
      await client.query(`DROP POLICY IF EXISTS workspace_only ON ${SCHEMA}.${table}`);
      await client.query(`CREATE POLICY workspace_only ON ${SCHEMA}.${table} FOR SELECT TO ${role} USING (${using})`);
    }
    await client.query('COMMIT');
    return { role };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    return { role: null, reason: e instanceof Error ? e.message : String(e) };
  }
}
