/**
 * One inbox as a mail client (POP3, IMAP) sees it, over the store's public interface only: the messages that
 * `inbox:ADDRESS` finds (exactly those of `/api/v1/inboxes/ADDRESS/messages`), oldest first, each with a UID.
 *
 * The UID is the store's own increasing order of the message: the position nextMatch() and matchesAfter() name in their cursors (SQLite's
 * row order, PostgreSQL's indexed_seq, the memory store's counter). It is never reused, and reading matchesAfter from the
 * last UID seen gives exactly the messages that became searchable since, in increasing order, which is what a
 * session needs to announce new mail without ever showing a lower UID after a higher one.
 *
 * Removing messages is the store's deleteInboxMessages (the API's `DELETE /api/v1/inboxes/ADDRESS/messages`), which
 * takes a search query: a whole inbox is removed with the empty query, one message with `id:ID`.
 */
import type { MailwireEvents } from '../events.js';
import type { MessageStore, MessageSummary } from '../store/index.js';
import { decodeCursor, encodeCursor } from '../store/cursor.js';
import type { MailboxAccess } from './access.js';

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

/** The store query for what `access` sees: one inbox, or everything (the empty query). */
export function accessQuery(access: MailboxAccess): string {
  switch (access.kind) {
    case 'inbox': return inboxQuery(access.address);
    case 'all': return '';
  }
}

/** Messages read per store call (MessageStore.matchesAfter's most). */
const PAGE = 10_000;

/** The messages `access` sees whose UID is above `afterUid`, oldest first: pages of the store's bulk read. */
export async function messagesAfter(store: MessageStore, access: MailboxAccess, afterUid: number): Promise<InboxMessage[]> {
  const query = accessQuery(access);
  const out: InboxMessage[] = [];
  let cursor = encodeCursor('m', afterUid);
  for (let pages = 0; pages * PAGE < MAX_INBOX_MESSAGES; pages++) {
    const page = await store.matchesAfter(query, cursor, PAGE);
    for (const next of page) {
      const uid = decodeCursor('m', next.cursor) ?? 0;
      if (uid <= afterUid) return out; // cannot happen with a well-behaved store; never loop on it
      out.push({ uid, id: next.message.id, size: next.message.size, read: next.message.read, summary: next.message });
      afterUid = uid;
      cursor = next.cursor;
    }
    if (page.length < PAGE) break;
  }
  return out;
}

/**
 * Takes `remove` out of what `access` sees, as the API's inbox DELETE does (for all mail: deletes them), and emits
 * `message-deleted` for those deleted for good. `wholeInbox`: they are every message the client saw. Resolves with
 * the ids it could not remove (none today: kept for a store that refuses).
 */
export async function removeFromInbox(
  store: MessageStore, events: MailwireEvents | null, access: MailboxAccess, remove: readonly string[], wholeInbox: boolean,
): Promise<string[]> {
  if (remove.length === 0) return [];
  const deleted: string[] = [];
  const failed: string[] = [];
  if (access.kind === 'all') {
    for (const id of remove) if (await store.deleteMessage(id)) deleted.push(id); // already gone is not a failure
    for (const id of deleted) events?.emit('message-deleted', { id });
    return failed;
  }
  const address = access.address;
  const wanted = new Set(remove);
  if (wholeInbox) {
    // The whole inbox as the client saw it; a message arrived since stays (it is checked below like the rest).
    const latest = await messagesAfter(store, access, 0);
    if (latest.every((m) => wanted.has(m.id))) {
      const r = await store.deleteInboxMessages(address, '');
      deleted.push(...r.deleted);
      for (const id of deleted) events?.emit('message-deleted', { id });
      return failed;
    }
  }
  for (const id of remove) {
    // Exactly this message, by its id (the query language's id: term); one already gone is not a failure.
    deleted.push(...(await store.deleteInboxMessages(address, `id:"${id.replace(/["\\]/g, '')}"`)).deleted);
  }
  for (const id of deleted) events?.emit('message-deleted', { id });
  return failed;
}
