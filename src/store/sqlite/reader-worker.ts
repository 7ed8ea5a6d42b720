/**
 * The SQLite reader thread: a read-only connection of its own (WAL lets it read committed data while the writer
 * writes) answering the API's lists, searches and gets, and the MIME parsing a read needs (the store keeps only raw
 * bytes), so none of it runs on the SMTP thread. One request at a time, in order. A message durable but not yet
 * indexed is found by id (its summary parsed from its bytes), not by lists or searches.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Envelope } from '../../smtp/core/types.js';
import { encodeCursor, encodeInboxCursor, likePrefix } from '../cursor.js';
import { useMemoryBlob } from '../memory/blob.js';
import { ParseCache } from '../parse-cache.js';
import { indexEntry, parseMessage, readAttachment, type ParsedMessage } from '../parse.js';
import { assertNever } from '../../assert-never.js';
import { searchSelection } from './search.js';
import { readRecord, segmentName } from './segment-log.js';
import { logWarning } from '../../log.js';
import { READER_CHANNEL, type ReadAnswers, type ReadRequest } from './protocol.js';
import { serveCalls } from '../../request-channel.js';
import type { SearchQuery } from '../query.js';
import type { ConnectionInfo, MessageDetail, MessageSummary, SessionEnd, SessionSummary, TranscriptLine } from '../types.js';
import { sessionFilterSql } from '../session-filter.js';
import { parseSaid } from '../session-said.js';

const READ_MMAP_BYTES = 1024 * 1024 * 1024;

if (parentPort === null) throw new Error('sqlite-reader must run as a worker thread');
useMemoryBlob(); // see memory-blob.ts
const port = parentPort;
const { file, segmentsDir } = workerData as { file: string; segmentsDir: string };
const db = new Database(file, { readonly: true, fileMustExist: true });
// The from:/to:/subject: filters scan message rows. Mapped, the scan reads the file's cached pages in place instead
// of a pread each: to: over 100,000 messages, p99 52 -> 25 ms (npm run bench:store).
db.pragma(`mmap_size = ${READ_MMAP_BYTES}`);

/**
 * Reads yield the CPU to taking mail: this thread runs at a lower priority (nice READER_NICE) than the SMTP and writer
 * threads, so that API clients searching back to back slow their own answers, not the 250s. Linux only (a thread's
 * priority is set by its id, read from /proc/thread-self); elsewhere, or without the right to, it stays as it is.
 */
const READER_NICE = 10;
function yieldToMailIntake(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.max(getPriority(tid), READER_NICE));
  } catch {
    // not Linux, or not allowed: reads keep the priority they have
  }
}
yieldToMailIntake();

const statements = new Map<string, Database.Statement>();
function stmt(sql: string): Database.Statement {
  let s = statements.get(sql);
  if (s === undefined) {
    if (statements.size > 500) statements.clear();
    s = db.prepare(sql);
    statements.set(sql, s);
  }
  return s;
}

/** The last messages read keep their parse: a message view asks for its detail and its HTML at once. */
const parsed = new ParseCache<ParsedMessage | null>({ entries: 16, bytes: 64 * 1024 * 1024 });

type SummaryRow = { seq: number; id: string; received_at: number; size: number; read: number; envelope: string; summary: string };
type PendingRow = { seq: number; id: string; received_at: number; size: number; read: number; envelope: string; connection: string };
type SessionRow = {
  seq: number; id: string; started_at: number; ended_at: number; end_reason: string; connection: string;
  message_ids: string; truncated: number; transcript?: string; said: string | null;
};
const SUMMARY_COLUMNS = 'm.seq, m.id, m.received_at, m.size, m.read, m.envelope, m.summary';

type RawRow = { raw: Buffer | null; segment: number | null; offset: number; length: number };

/**
 * A message's bytes: read from its record in the segment log at its offset, CRC checked (issue 31); from message_raw
 * for a row written before v8. A record that cannot be read (its segment deleted, damaged) is logged and the message
 * answered as not found.
 */
function rawOf(id: string, again = true): Uint8Array | undefined {
  const row = stmt(`SELECT r.raw, s.segment, s.offset, s.length FROM (SELECT coalesce((SELECT seq FROM messages WHERE id = ?),
    (SELECT seq FROM message_pending WHERE id = ?)) AS seq) x LEFT JOIN message_raw r ON r.seq = x.seq LEFT JOIN message_segment s ON s.seq = x.seq
    WHERE x.seq IS NOT NULL`).get(id, id) as RawRow | undefined;
  if (row === undefined) return undefined;
  if (row.segment === null) return row.raw ?? undefined;
  const r = readRecord(segmentsDir, { segment: row.segment, offset: row.offset, length: row.length }, id);
  if (r.ok) return r.body;
  // Compaction may have moved the record and unlinked its segment since the row was read: look it up once more.
  if (again) return rawOf(id, false);
  logWarning(`mailwire sqlite store: message ${id}: segment ${segmentName(row.segment)}, offset ${row.offset}: ${r.reason}; answered as not found`);
  return undefined;
}

async function parsedOf(id: string, size: number): Promise<ParsedMessage | null> {
  return parsed.get(id, size, async () => {
    const raw = rawOf(id);
    return raw === undefined ? null : parseMessage(raw); // undefined: deleted since the row was read
  });
}

async function answer(r: ReadRequest): Promise<ReadAnswers[keyof ReadAnswers]> {
  switch (r.kind) {
    case 'list': {
      const page = listPage(r);
      return { items: page.rows.map(toSummary), nextCursor: page.nextCursor };
    }
    case 'list-json': {
      const page = listPage(r);
      return { itemsJson: JSON.stringify(page.rows.map(toSummary)), nextCursor: page.nextCursor };
    }
    case 'next-match': {
      const sel = searchSelection(r.query);
      const row = stmt(`SELECT ${SUMMARY_COLUMNS} FROM ${sel.from} WHERE ${sel.where}` +
        (r.after === null ? ` ORDER BY ${sel.seq} DESC LIMIT 1` : ` AND ${sel.seq} > ? ORDER BY ${sel.seq} ASC LIMIT 1`),
      ).get(...sel.params, ...(r.after === null ? [] : [r.after])) as SummaryRow | undefined;
      return row ? { message: toSummary(row), cursor: encodeCursor('m', row.seq) } : null;
    }
    case 'count': {
      const sel = searchSelection(r.query);
      const row = stmt(`SELECT count(*) AS total, coalesce(sum(m.read = 0), 0) AS unread FROM ${sel.from} WHERE ${sel.where}`)
        .get(...sel.params) as { total: number; unread: number };
      return { total: row.total, unread: row.unread };
    }
    case 'matches-after': {
      const sel = searchSelection(r.query);
      const rows = stmt(`SELECT ${SUMMARY_COLUMNS} FROM ${sel.from} WHERE ${sel.where} AND ${sel.seq} > ? ORDER BY ${sel.seq} ASC LIMIT ?`)
        .all(...sel.params, r.after, r.limit) as SummaryRow[];
      return rows.map((row) => ({ message: toSummary(row), cursor: encodeCursor('m', row.seq) }));
    }
    case 'message':
      return messageDetail(r.id);
    case 'raw':
      return rawOf(r.id) ?? null;
    case 'attachment': {
      const raw = rawOf(r.id);
      return raw === undefined ? null : readAttachment(raw, r.index);
    }
    case 'sessions': {
      const f = sessionFilterSql(r.filter, 'sqlite');
      const where = [...(r.before === null ? [] : ['seq < ?']), ...f.where];
      const rows = stmt(`SELECT seq, id, started_at, ended_at, end_reason, connection, message_ids, truncated, said FROM sessions
         ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY seq DESC LIMIT ?`).all(...(r.before === null ? [] : [r.before]), ...f.params, r.limit + 1) as SessionRow[];
      const items = rows.slice(0, r.limit);
      const last = items[items.length - 1];
      return { items: items.map(toSession), nextCursor: rows.length > r.limit && last ? encodeCursor('s', last.seq) : null };
    }
    case 'inboxes': {
      // One row per (message, recipient); a message sent twice to one address counts once there (DISTINCT), and not at
      // all in an inbox it was taken out of.
      const ws = r.workspace === undefined ? '' : ' WHERE m.workspace = ?';
      const rows = stmt(`SELECT address, count(*) AS total, sum(unread) AS unread FROM (
           SELECT DISTINCT m.seq, lower(r.value) AS address, 1 - m.read AS unread FROM messages m, json_each(m.envelope, '$.to') r${ws}) x
         WHERE NOT EXISTS (SELECT 1 FROM message_inbox_left l WHERE l.message_seq = x.seq AND l.address = x.address) AND address LIKE ? ESCAPE '\\'${r.after === null ? '' : ' AND address > ?'} GROUP BY address ORDER BY address LIMIT ?`)
        .all(...(r.workspace === undefined ? [] : [r.workspace]), likePrefix(r.prefix), ...(r.after === null ? [] : [r.after]), r.limit + 1) as { address: string; total: number; unread: number }[];
      const items = rows.slice(0, r.limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > r.limit && last ? encodeInboxCursor(last.address) : null };
    }
    case 'message-workspace': {
      const w = stmt(`SELECT coalesce((SELECT workspace FROM messages WHERE id = ?), (SELECT workspace FROM message_pending WHERE id = ?))`)
        .pluck().get(r.id, r.id);
      return typeof w === 'string' ? w : null;
    }
    case 'session': {
      const row = stmt('SELECT * FROM sessions WHERE id = ?').get(r.id) as SessionRow | undefined;
      return row ? { ...toSession(row), transcript: JSON.parse(row.transcript ?? '[]') as TranscriptLine[] } : null;
    }
    default:
      return assertNever(r);
  }
}

function listPage(r: Readonly<{ query: SearchQuery; before: number | null; limit: number }>): { rows: SummaryRow[]; nextCursor: string | null } {
  const sel = searchSelection(r.query);
  const rows = stmt(`SELECT ${SUMMARY_COLUMNS} FROM ${sel.from} WHERE ${sel.where}${r.before === null ? '' : ` AND ${sel.seq} < ?`}
     ORDER BY ${sel.seq} DESC LIMIT ?`).all(...sel.params, ...(r.before === null ? [] : [r.before]), r.limit + 1) as SummaryRow[];
  const items = rows.slice(0, r.limit);
  const last = items[items.length - 1];
  return { rows: items, nextCursor: rows.length > r.limit && last ? encodeCursor('m', last.seq) : null };
}

async function messageDetail(id: string): Promise<MessageDetail | null> {
  const row = stmt(`SELECT ${SUMMARY_COLUMNS}, m.connection FROM messages m WHERE m.id = ?`).get(id) as (SummaryRow & { connection: string }) | undefined;
  if (row !== undefined) {
    const p = await parsedOf(row.id, row.size);
    return p === null ? null : { ...toSummary(row), connection: JSON.parse(row.connection) as ConnectionInfo, ...bodies(p) };
  }
  // Durable, not yet indexed: its summary comes from the same parse as its bodies.
  const pending = stmt('SELECT seq, id, received_at, size, read, envelope, connection FROM message_pending WHERE id = ?').get(id) as PendingRow | undefined;
  if (pending === undefined) return null;
  const p = await parsedOf(pending.id, pending.size);
  if (p === null) return null;
  const envelope = JSON.parse(pending.envelope) as Envelope;
  return {
    id: pending.id, receivedAt: new Date(pending.received_at).toISOString(), size: pending.size, read: pending.read === 1,
    ...indexEntry(p, envelope).summary, envelope, connection: JSON.parse(pending.connection) as ConnectionInfo, ...bodies(p),
  };
}

const bodies = (p: ParsedMessage): Pick<MessageDetail, 'headers' | 'text' | 'html' | 'attachments' | 'remoteContent'> =>
  ({ headers: p.headers, text: p.text, html: p.html, attachments: p.attachments, remoteContent: p.remoteContent });

type StoredSummary = Omit<MessageSummary, 'id' | 'receivedAt' | 'size' | 'read' | 'envelope'>;

function toSummary(r: SummaryRow): MessageSummary {
  const s = JSON.parse(r.summary) as StoredSummary;
  return {
    id: r.id, receivedAt: new Date(r.received_at).toISOString(), size: r.size, read: r.read === 1,
    from: s.from, to: s.to, cc: s.cc, subject: s.subject, date: s.date, messageId: s.messageId,
    attachmentCount: s.attachmentCount, snippet: s.snippet, indexLimited: s.indexLimited === true, envelope: JSON.parse(r.envelope) as Envelope,
  };
}

function toSession(r: SessionRow): SessionSummary {
  return {
    id: r.id, startedAt: new Date(r.started_at).toISOString(), endedAt: new Date(r.ended_at).toISOString(),
    end: r.end_reason as SessionEnd, connection: JSON.parse(r.connection) as ConnectionInfo,
    messageIds: JSON.parse(r.message_ids) as string[], truncated: r.truncated === 1, ...parseSaid(r.said),
  };
}

/** Bytes handed over without a copy when they own their memory (a Buffer from SQLite or a parse does), else copied once. */
function owned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** What crosses back without a copy: the bytes of a raw message or of an attachment. */
function transferOf(request: ReadRequest, value: unknown): ArrayBuffer[] {
  if (value instanceof Uint8Array) return [value.buffer as ArrayBuffer];
  if (request.kind === 'attachment' && value !== null) return [(value as NonNullable<ReadAnswers['attachment']>).content.buffer as ArrayBuffer];
  return [];
}

async function answerOwned(request: ReadRequest): Promise<ReadAnswers[keyof ReadAnswers]> {
  const value = await answer(request);
  if (value instanceof Uint8Array) return owned(value);
  if (request.kind === 'attachment' && value !== null) {
    const a = value as NonNullable<ReadAnswers['attachment']>;
    return { info: a.info, content: owned(a.content) };
  }
  return value;
}

const serve = serveCalls<ReadRequest>(READER_CHANNEL, answerOwned, (m, transfer) => port.postMessage(m, [...transfer]), { inOrder: true, transfer: transferOf });
port.on('message', (m: unknown) => {
  if (serve(m)) return;
  if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'close') {
    db.close();
    port.close();
  }
});
