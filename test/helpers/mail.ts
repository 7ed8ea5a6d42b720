import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Envelope } from '../../src/smtp/core/types.js';
import type { ConnectionInfo, IncomingMessage, MessageStore } from '../../src/store/types.js';
import { openStore } from '../../src/store/open.js';
import { createTestDatabase } from './postgres.js';
import { waitFor } from './wait.js';

export const CONN: ConnectionInfo = {
  clientAddress: '127.0.0.1', clientPort: 40000, serverAddress: '127.0.0.1', serverPort: 2525, dialect: 'smtp', tls: true, authUser: 'ann',
};

export const crlf = (lines: readonly string[]): Buffer => Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');

export function incoming(raw: Buffer, env: Partial<Envelope> = {}, receivedAt = new Date('2024-05-01T10:00:00Z')): IncomingMessage {
  return { envelope: { helo: 'client.test', from: 'ann@a.test', to: ['bob@b.test'], ...env }, connection: CONN, receivedAt, raw };
}

export const SIMPLE = crlf([
  'From: Ann Example <ann@a.test>', 'To: Bob <bob@b.test>', 'Subject: Lunch plans', 'Date: Wed, 01 May 2024 09:59:00 +0000',
  'Message-ID: <lunch-1@a.test>', '', 'Shall we meet at noon?', '.leading dot kept', 'Your code is 482913.',
]);

export const ENCODED_SUBJECT = crlf([
  'From: =?UTF-8?Q?Ren=C3=A9e?= <renee@c.test>', 'To: carol@d.test', 'Cc: Dan <dan@d.test>',
  'Subject: =?UTF-8?Q?Caf=C3=A9_r=C3=A9sum=C3=A9?= =?UTF-8?B?8J+Ssw==?=', '', 'Body about invoices.',
]);

export const UTF8_TEXT = crlf([
  'From: eve@e.test', 'To: frank@f.test', 'Subject: Greetings', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit', '', 'Grüße aus Köln — 東京', 'zweite Zeile',
]);

export const PDF_BYTES = Buffer.from('%PDF-1.4 fake\n\x00\x01\x02', 'latin1');
export const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

export const MULTIPART = crlf([
  'From: Gina <gina@g.test>', 'To: hank@h.test', 'Subject: Quarterly report', 'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"', '', '--b1',
  'Content-Type: multipart/alternative; boundary="b2"', '', '--b2', 'Content-Type: text/plain; charset=utf-8', '',
  'See the report: https://example.test/r?id=7 and confirm with 5531.', '--b2', 'Content-Type: text/html; charset=utf-8', '',
  '<p>See <a href="https://example.test/r?id=7">the report</a></p><script>alert(1)</script>', '--b2--',
  '--b1', 'Content-Type: application/pdf; name="report.pdf"', 'Content-Disposition: attachment; filename="report.pdf"',
  'Content-Transfer-Encoding: base64', '', PDF_BYTES.toString('base64'),
  '--b1', 'Content-Type: image/png', 'Content-Disposition: inline; filename="logo.png"', 'Content-ID: <logo@g.test>',
  'Content-Transfer-Encoding: base64', '', PNG_BYTES.toString('base64'), '--b1--',
]);

/** Not MIME at all: no header block, a NUL and bare CRs. It must still be stored byte for byte. */
export const GARBAGE = Buffer.from('\x00\xff\xfe no headers here\r\r\n--\r\n', 'latin1');

export type Backend = Readonly<{ name: 'sqlite' | 'memory' | 'postgres'; open: (o?: { maxMessages?: number; maxMessagesPerInbox?: number; maxAgeMs?: number }) => Promise<Opened> }>;
export type Opened = Readonly<{ store: MessageStore; dir: string; cleanup: () => Promise<void> }>;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mailwire-test-'));
}

export const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    open: async (o = {}) => {
      const dir = tempDir();
      const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: o.maxMessages ?? 0, maxMessagesPerInbox: o.maxMessagesPerInbox ?? 0, maxAgeMs: o.maxAgeMs ?? 0 });
      return { store, dir, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'memory',
    open: async (o = {}) => {
      const store = await openStore({ kind: 'memory', maxMessages: o.maxMessages ?? 0, maxMessagesPerInbox: o.maxMessagesPerInbox ?? 0, maxAgeMs: o.maxAgeMs ?? 0 });
      return { store, dir: '', cleanup: () => store.close() };
    },
  },
  {
    name: 'postgres',
    open: async (o = {}) => {
      const db = await createTestDatabase();
      try {
        const store = await openStore({ kind: 'postgres', databaseUrl: db.url, maxMessages: o.maxMessages ?? 0, maxMessagesPerInbox: o.maxMessagesPerInbox ?? 0, maxAgeMs: o.maxAgeMs ?? 0 });
        return { store, dir: '', cleanup: async () => { await store.close(); await db.drop(); } };
      } catch (e) {
        await db.drop();
        throw e;
      }
    },
  },
];

/** How long a test waits for a saved message to become searchable before it fails. */
const INDEX_DEADLINE_MS = 10_000;

/** Saves, then waits until the store announces the message searchable (onIndexed): for tests that list or search. */
export async function saveIndexed(store: MessageStore, message: IncomingMessage): Promise<string> {
  const seen = new Set<string>();
  let wake: (() => void) | null = null;
  const off = store.onIndexed((m) => {
    seen.add(m.id);
    wake?.();
  });
  try {
    const id = await store.save(message);
    if (seen.has(id)) return id;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`message ${id} was not indexed within ${INDEX_DEADLINE_MS} ms`)), INDEX_DEADLINE_MS);
      wake = () => {
        if (!seen.has(id)) return;
        clearTimeout(timer);
        resolve();
      };
    });
    return id;
  } finally {
    off();
  }
}

/** Waits until the store's index backlog is empty: every message saved so far is searchable. */
export async function untilIndexed(store: MessageStore): Promise<void> {
  await waitFor('an empty index backlog', () => store.health().indexBacklog === 0,
    { deadlineMs: INDEX_DEADLINE_MS, everyMs: 5, seen: () => `backlog ${store.health().indexBacklog}` });
}
