/**
 * The SQLite schema as an ordered list of migrations: MIGRATIONS[i] takes a database from user_version i to i + 1,
 * each in its own transaction, so a file made by any earlier release opens and is brought forward.
 *
 * v1 kept one wide `messages` row with the raw bytes and a JSON blob of everything parsed.
 * v2 splits the row: `messages` holds what lists and filters scan (small rows), `message_body` the bodies, headers
 * and raw bytes; adds the FTS5 index and the `sessions` table, and backfills both derived columns and the index
 * from the v1 JSON.
 * v3 keeps only the raw bytes beside the row (`message_raw`): bodies, headers and the attachment list are parsed from
 * them when a message is read. Storing them too wrote every body twice into each commit and each checkpoint, the
 * largest share of the writer's time per message; a message is read far less often than one is received.
 * v4 splits durable from searchable (issue 11): the commit before the 250 writes only `message_pending` (envelope,
 * connection) and `message_raw`; the indexer then parses the bytes, writes the `messages` row and the full-text entry
 * under the same seq, and deletes the pending row, all in one transaction. A pending row is a message durable but not
 * yet searchable; at open every one left is indexed before the store answers.
 * v5 adds `message_inbox_left` (issue 15): the inboxes (lowercased envelope recipients) each message was taken out of
 * by deleting an inbox's messages. The message stays in its other inboxes; `inbox:` and the inbox listing skip these.
 * v6 adds `messages_fields`, an index of the columns `from:`, `to:` and `subject:` test, in seq order: a substring
 * search scans it instead of the wide rows (see searchSelection).
 * v7 adds the `workspace` columns (issue 26) of messages, pending messages and sessions: generated from the connection
 * JSON (which carries the workspace, see ../workspace.ts), so no write changes; indexed with seq for a workspace's pages.
 * v8 moves new messages' bytes out of SQLite into the segment log (issue 31, ./segment-log.ts): `message_segment` says
 * where each message's record is, `log_state` where the log ended at the last commit that added records (recovery
 * reads the log from there) and the next seq. Rows from earlier versions keep their bytes in `message_raw`, read as
 * before; new messages never write there.
 * v9 adds `sessions.said` (issue 32): what the client said (HELO name, MAIL FROM, RCPT TOs) as JSON, so the session list
 * shows it without reading transcripts. Sessions from before it have none (null: the list shows them without).
 */
import type { Database, Statement } from 'better-sqlite3';
import type { ConnectionInfo } from '../types.js';
import type { Envelope } from '../../smtp/core/types.js';
import type { RecordLocation } from './segment-log.js';
import { EMPTY_PARSE, searchFields, snippetOf, type IndexEntry, type ParsedMessage } from '../parse.js';

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
  const v2Body = db.prepare('INSERT INTO message_body (seq, detail, text, html, raw) VALUES (?, ?, ?, ?, ?)');
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
      insertMessage(db, {
        seq: row.seq, id: row.id, receivedAt: row.received_at, size: row.size, read: row.read === 1,
        envelope: JSON.parse(row.envelope) as Envelope, connection: JSON.parse(row.connection) as ConnectionInfo, raw: row.raw,
      }, parsed, (seq) => {
        v2Body.run(seq, JSON.stringify({ headers: parsed.headers, attachments: parsed.attachments, bcc: parsed.bcc }), parsed.text,
          parsed.html, row.raw);
      });
      last = row.seq;
    }
  }
  db.exec('DROP TABLE messages_v1');
};

const v3: Migration = (db) => {
  db.exec(`
    CREATE TABLE message_raw (seq INTEGER PRIMARY KEY, raw BLOB NOT NULL);
    INSERT INTO message_raw (seq, raw) SELECT seq, raw FROM message_body;
    DROP TABLE message_body;
  `);
};

const v4: Migration = (db) => {
  db.exec(`
    CREATE TABLE message_pending (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      received_at INTEGER NOT NULL,
      size INTEGER NOT NULL,
      read INTEGER NOT NULL DEFAULT 0,
      envelope TEXT NOT NULL,
      connection TEXT NOT NULL,
      committed_at INTEGER NOT NULL
    );
  `);
};

const v5: Migration = (db) => {
  db.exec(`
    CREATE TABLE message_inbox_left (
      message_seq INTEGER NOT NULL,
      address TEXT NOT NULL,
      PRIMARY KEY (message_seq, address)
    ) WITHOUT ROWID;
  `);
};

const v6: Migration = (db) => {
  db.exec('CREATE INDEX messages_fields ON messages(seq, from_lc, to_lc, subject_lc)');
};

const v7: Migration = (db) => {
  db.exec(`
    ALTER TABLE messages ADD COLUMN workspace TEXT GENERATED ALWAYS AS (coalesce(json_extract(connection, '$.workspace'), 'default')) VIRTUAL;
    ALTER TABLE message_pending ADD COLUMN workspace TEXT GENERATED ALWAYS AS (coalesce(json_extract(connection, '$.workspace'), 'default')) VIRTUAL;
    ALTER TABLE sessions ADD COLUMN workspace TEXT GENERATED ALWAYS AS (json_extract(connection, '$.workspace')) VIRTUAL;
    CREATE INDEX messages_workspace ON messages(workspace, seq);
    CREATE INDEX sessions_workspace ON sessions(workspace, seq);
  `);
};

const v8: Migration = (db) => {
  db.exec(`
    CREATE TABLE message_segment (
      seq INTEGER PRIMARY KEY,
      segment INTEGER NOT NULL,
      offset INTEGER NOT NULL,
      length INTEGER NOT NULL
    );
    CREATE INDEX message_segment_segment ON message_segment(segment);
    CREATE TABLE log_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      segment INTEGER NOT NULL,
      offset INTEGER NOT NULL,
      next_seq INTEGER NOT NULL
    );
    INSERT INTO log_state (id, segment, offset, next_seq) VALUES (1, 1, 0, 1);
  `);
};

const v9: Migration = (db) => {
  db.exec('ALTER TABLE sessions ADD COLUMN said TEXT');
};

export const MIGRATIONS: readonly Migration[] = [v1, v2, v3, v4, v5, v6, v7, v8, v9];
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

/**
 * The metadata of a message whose record is in the segment log (the commit after its fdatasync, before its 250): the
 * pending row and where its record is, under `seq`.
 */
export function insertPending(db: Database, seq: number, m: Omit<MessageRow, 'raw'>, at: RecordLocation, committedAt: number): void {
  prepared(db, `INSERT INTO message_pending (seq, id, received_at, size, read, envelope, connection, committed_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(seq, m.id, m.receivedAt, m.size, m.read ? 1 : 0, JSON.stringify(m.envelope), JSON.stringify(m.connection), committedAt);
  prepared(db, 'INSERT INTO message_segment (seq, segment, offset, length) VALUES (?, ?, ?, ?)').run(seq, at.segment, at.offset, at.length);
}

/**
 * The searchable half, written by the indexer: the message row and its full-text entry under the pending row's seq,
 * which goes. Returns that row; null (and nothing written) when it is gone: the message was deleted before being indexed.
 */
export function insertIndexed(db: Database, seq: number, entry: IndexEntry): PendingRow | null {
  const p = prepared(db, 'DELETE FROM message_pending WHERE seq = ? RETURNING id, received_at, size, read, envelope, connection')
    .get(seq) as PendingRow | undefined;
  if (p === undefined) return null;
  const s = entry.search;
  prepared(db, `INSERT INTO messages (seq, id, received_at, size, read, envelope, connection, summary,
      from_lc, to_lc, subject_lc, has_attachment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(seq, p.id, p.received_at, p.size, p.read, p.envelope, p.connection, JSON.stringify(entry.summary), s.fromLc, s.toLc,
      s.subjectLc, s.hasAttachment ? 1 : 0);
  prepared(db, 'INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)')
    .run(seq, s.ftsSubject, s.ftsAddresses, s.ftsBody);
  return p;
}

export type PendingRow = Readonly<{ id: string; received_at: number; size: number; read: number; envelope: string; connection: string }>;

/**
 * The message row and its full-text entry, which every schema since v2 has in the same shape; `writeBody` stores the
 * bytes (and, for v2's backfill, that version's parsed columns).
 */
function insertMessage(db: Database, m: MessageRow, p: ParsedMessage, writeBody: (seq: number) => void): number {
  const s = searchFields(p, m.envelope);
  const summary = {
    from: p.from, to: p.to, cc: p.cc, subject: p.subject, date: p.date, messageId: p.messageId,
    attachmentCount: p.attachments.length, snippet: snippetOf(p),
  };
  const info = prepared(db, `INSERT INTO messages (seq, id, received_at, size, read, envelope, connection, summary,
      from_lc, to_lc, subject_lc, has_attachment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .run(m.seq ?? null, m.id, m.receivedAt, m.size, m.read ? 1 : 0, JSON.stringify(m.envelope),
      JSON.stringify(m.connection), JSON.stringify(summary), s.fromLc, s.toLc, s.subjectLc, s.hasAttachment ? 1 : 0);
  const seq = Number(info.lastInsertRowid);
  writeBody(seq);
  prepared(db, 'INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)')
    .run(seq, s.ftsSubject, s.ftsAddresses, s.ftsBody);
  return seq;
}

const cache = new WeakMap<Database, Map<string, Statement>>();

/** Prepared once per connection and SQL text; each on first use, so a migration prepares only what exists yet. */
function prepared(db: Database, sql: string): Statement {
  let statements = cache.get(db);
  if (statements === undefined) cache.set(db, (statements = new Map()));
  let st = statements.get(sql);
  if (st === undefined) statements.set(sql, (st = db.prepare(sql)));
  return st;
}
