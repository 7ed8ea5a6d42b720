/**
 * The SQLite schema as an ordered list of migrations: MIGRATIONS[i] takes a database from user_version i to i + 1,
 * each in its own transaction, so a file made by any earlier release opens and is brought forward.
 *
 * v1 kept one wide `messages` row with the raw bytes and a JSON blob of everything parsed.
 * v2 splits the row: `messages` holds what lists and filters scan (small rows), `message_body` the bodies, headers
 * and raw bytes; adds the FTS5 index and the `sessions` table, and backfills both derived columns and the index
 * from the v1 JSON.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { ConnectionInfo } from './types.js';
import type { Envelope } from '../protocol/types.js';
import { EMPTY_PARSE, searchFields, snippetOf, type ParsedMessage } from './parse.js';

export type Migration = (db: Database) => void;

const v1: Migration = (db) => {
  db.exec(`
    CREATE TABLE messages (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      received_at INTEGER NOT NULL,
      size INTEGER NOT NULL,
      read INTEGER NOT NULL DEFAULT 0,
      envelope TEXT NOT NULL,
      connection TEXT NOT NULL,
      parsed TEXT NOT NULL,
      raw BLOB NOT NULL
    );
    CREATE INDEX messages_received_at ON messages(received_at);
  `);
};

const v2: Migration = (db) => {
  db.exec(`
    ALTER TABLE messages RENAME TO messages_v1;
    DROP INDEX messages_received_at;
    CREATE TABLE messages (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      received_at INTEGER NOT NULL,
      size INTEGER NOT NULL,
      read INTEGER NOT NULL DEFAULT 0,
      envelope TEXT NOT NULL,
      connection TEXT NOT NULL,
      summary TEXT NOT NULL,
      from_lc TEXT NOT NULL,
      to_lc TEXT NOT NULL,
      subject_lc TEXT NOT NULL,
      has_attachment INTEGER NOT NULL
    );
    CREATE INDEX messages_received_at ON messages(received_at);
    CREATE TABLE message_body (
      seq INTEGER PRIMARY KEY,
      detail TEXT NOT NULL,
      text TEXT NOT NULL,
      html TEXT NOT NULL,
      raw BLOB NOT NULL
    );
    CREATE VIRTUAL TABLE messages_fts USING fts5(
      subject, addresses, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TABLE sessions (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      started_at INTEGER NOT NULL,
      ended_at INTEGER NOT NULL,
      end_reason TEXT NOT NULL,
      connection TEXT NOT NULL,
      message_ids TEXT NOT NULL,
      truncated INTEGER NOT NULL,
      transcript TEXT NOT NULL
    );
    CREATE INDEX sessions_started_at ON sessions(started_at);
  `);
  // In pages, not iterate(): a connection cannot write while one of its statements is still reading.
  const page = db.prepare('SELECT seq, id, received_at, size, read, envelope, connection, parsed, raw FROM messages_v1 WHERE seq > ? ORDER BY seq LIMIT 500');
  type V1Row = { seq: number; id: string; received_at: number; size: number; read: number; envelope: string; connection: string; parsed: string; raw: Buffer };
  for (let last = -1, rows = page.all(last) as V1Row[]; rows.length > 0; rows = page.all(last) as V1Row[]) {
    for (const row of rows) {
      let parsed: ParsedMessage;
      try {
        parsed = { ...EMPTY_PARSE, ...(JSON.parse(row.parsed) as Partial<ParsedMessage>) };
      } catch {
        parsed = EMPTY_PARSE;
      }
      insertRows(db, {
        seq: row.seq, id: row.id, receivedAt: row.received_at, size: row.size, read: row.read === 1,
        envelope: JSON.parse(row.envelope) as Envelope, connection: JSON.parse(row.connection) as ConnectionInfo, raw: row.raw,
      }, parsed);
      last = row.seq;
    }
  }
  db.exec('DROP TABLE messages_v1');
};

export const MIGRATIONS: readonly Migration[] = [v1, v2];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings `db` to `target` (default: the latest), one transaction per step. Refuses a file from a newer release. */
export function migrate(db: Database, target: number = SCHEMA_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`database schema version ${current} is newer than this mailwire understands (${SCHEMA_VERSION})`);
  }
  for (let v = current; v < target; v++) {
    const step = MIGRATIONS[v];
    if (step === undefined) break;
    db.transaction(() => {
      step(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}

export type MessageRow = Readonly<{
  seq?: number;
  id: string;
  receivedAt: number;
  size: number;
  read: boolean;
  envelope: Envelope;
  connection: ConnectionInfo;
  raw: Uint8Array;
}>;

/** Writes one message into the latest schema (used by v2's backfill and by the writer). Returns its seq. */
export function insertRows(db: Database, m: MessageRow, p: ParsedMessage): number {
  const s = searchFields(p, m.envelope);
  const summary = {
    from: p.from, to: p.to, cc: p.cc, subject: p.subject, date: p.date, messageId: p.messageId,
    attachmentCount: p.attachments.length, snippet: snippetOf(p),
  };
  const st = statements(db);
  const info = st.message.run(m.seq ?? null, m.id, m.receivedAt, m.size, m.read ? 1 : 0, JSON.stringify(m.envelope),
    JSON.stringify(m.connection), JSON.stringify(summary), s.fromLc, s.toLc, s.subjectLc, s.hasAttachment ? 1 : 0);
  const seq = Number(info.lastInsertRowid);
  st.body.run(seq, JSON.stringify({ headers: p.headers, attachments: p.attachments, bcc: p.bcc }), p.text, p.html, m.raw);
  st.fts.run(seq, s.ftsSubject, s.ftsAddresses, s.ftsBody);
  return seq;
}

type InsertStatements = Readonly<{ message: Statement; body: Statement; fts: Statement }>;
const cache = new WeakMap<Database, InsertStatements>();

function statements(db: Database): InsertStatements {
  let st = cache.get(db);
  if (st === undefined) {
    st = {
      message: db.prepare(`INSERT INTO messages (seq, id, received_at, size, read, envelope, connection, summary,
        from_lc, to_lc, subject_lc, has_attachment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      body: db.prepare('INSERT INTO message_body (seq, detail, text, html, raw) VALUES (?, ?, ?, ?, ?)'),
      fts: db.prepare('INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)'),
    };
    cache.set(db, st);
  }
  return st;
}
