/**
 * One inbox as a mail client (POP3, IMAP) sees it, over the store's public interface only: the messages that
 * `inbox:ADDRESS` finds (exactly those of `/api/v1/inboxes/ADDRESS/messages`), oldest first, each with a UID.
 *
 * The UID is the store's own increasing order of the message: the position nextMatch() names in its cursor (SQLite's
 * row order, PostgreSQL's indexed_seq, the memory store's counter). It is never reused, and walking nextMatch from the
 * last UID seen gives exactly the messages that became searchable since, in increasing order, which is what a
 * session needs to announce new mail without ever showing a lower UID after a higher one.
 *
 * Removing messages is the store's deleteInboxMessages (the API's `DELETE /api/v1/inboxes/ADDRESS/messages`), which
 * takes a search query, not ids: a whole inbox is removed with the empty query; one message with a query for the
 * millisecond it was received in, used only after checking that the query finds that message alone.
 */
import type { MailwireEvents } from '../events.js';
import type { MessageStore, MessageSummary } from '../store/index.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';

export type InboxMessage = Readonly<{ uid: number; id: string; size: number; read: boolean; summary: MessageSummary }>;

/** The longest inbox address accepted as a login (as the API's inbox routes). */
export const MAX_ADDRESS_LENGTH = 320;

/** Is `name` usable as an inbox address (a login)? One word with an @, no controls, not too long. */
export const isInboxAddress = (name: string): boolean =>
  name.length > 2 && name.length <= MAX_ADDRESS_LENGTH && /^[^\s@"\\\x00-\x1f\x7f]+@[^\s@"\\\x00-\x1f\x7f]+$/.test(name);

/** `inbox:"ADDRESS"`, quoted as the query language wants (src/store/query.ts). */
export function inboxQuery(address: string, extra = ''): string {
  const quoted = `"${address.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return extra === '' ? `inbox:${quoted}` : `inbox:${quoted} ${extra}`;
}

/** A bound on how many messages one walk reads, so a refresh is bounded in count (the store keeps 10,000 by default). */
export const MAX_INBOX_MESSAGES = 1_000_000;

/** The messages of `address` whose UID is above `afterUid`, oldest first. */
export async function messagesAfter(store: MessageStore, address: string, afterUid: number): Promise<InboxMessage[]> {
  const query = inboxQuery(address);
  const out: InboxMessage[] = [];
  let cursor = encodeCursor('m', afterUid);
  for (let i = 0; i < MAX_INBOX_MESSAGES; i++) {
    const next = await store.nextMatch(query, cursor);
    if (next === null) break;
    const uid = decodeCursor('m', next.cursor) ?? 0;
    if (uid <= afterUid) break; // cannot happen with a well-behaved store; never loop on it
    out.push({ uid, id: next.message.id, size: next.message.size, read: next.message.read, summary: next.message });
    afterUid = uid;
    cursor = next.cursor;
  }
  return out;
}

/**
 * Takes `remove` out of the inbox `address` (whose current messages are `all`), as the API's inbox DELETE does, and
 * emits `message-deleted` for those deleted for good. Resolves with the ids it could not remove exactly (left alone).
 */
export async function removeFromInbox(
  store: MessageStore, events: MailwireEvents | null, address: string, all: readonly InboxMessage[], remove: readonly InboxMessage[],
): Promise<string[]> {
  if (remove.length === 0) return [];
  const deleted: string[] = [];
  const failed: string[] = [];
  const wanted = new Set(remove.map((m) => m.id));
  if (all.every((m) => wanted.has(m.id))) {
    // The whole inbox as the client saw it; a message arrived since stays (it is checked below like the rest).
    const latest = await messagesAfter(store, address, 0);
    if (latest.every((m) => wanted.has(m.id))) {
      const r = await store.deleteInboxMessages(address, '');
      deleted.push(...r.deleted);
      for (const id of deleted) events?.emit('message-deleted', { id });
      return failed;
    }
  }
  const done = new Set<string>();
  for (const m of remove) {
    if (done.has(m.id)) continue;
    const at = Date.parse(m.summary.receivedAt);
    const narrow = `after:${new Date(at).toISOString()} before:${new Date(at + 1).toISOString()}`;
    const page = await store.listMessages({ query: inboxQuery(address, narrow), limit: 100 });
    if (page.nextCursor === null && page.items.every((x) => wanted.has(x.id))) {
      // Only messages to remove were received in that millisecond (usually m alone): the query names them exactly.
      if (page.items.length > 0) deleted.push(...(await store.deleteInboxMessages(address, narrow)).deleted);
      for (const x of page.items) done.add(x.id);
    } else {
      failed.push(m.id); // a message to keep shares the millisecond: no query tells them apart, so m stays
    }
  }
  for (const id of deleted) events?.emit('message-deleted', { id });
  return failed;
}
