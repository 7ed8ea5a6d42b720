/**
 * Mailpit and MailHog page by offset (start, limit) and report totals; mailwire's store pages by cursor. A listing
 * whose store query is exact (`keep` null) takes its totals from the store's count and reads only the pages up to
 * the end of its window: a Mailpit listing of a catcher holding 10,000 messages is one count and one page (figures in
 * BENCHMARKS.md, "Mailpit listings"). A search that mailwire's query only narrows (`keep` checks Mailpit's meaning)
 * walks the store's pages, newest first, counting as it goes and keeping the window asked for. Bounded: at most
 * MAX_PAGES pages of 1000 summaries (the store's largest page), a million messages.
 */
import type { MessageStore, MessageSummary } from '../../store/types.js';

const PAGE = 1000;
const MAX_PAGES = 1000;
/** Between pages the event loop takes its turn: a store that answers on this thread (memory) must not hold SMTP up. */
const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export type Walked = Readonly<{ total: number; unread: number; window: MessageSummary[] }>;

/**
 * Every message the store query finds and `keep` accepts (null: every message the query finds): their count, how many
 * are unread, and items [start, start+limit).
 */
export async function walkMessages(store: MessageStore, query: string, keep: ((m: MessageSummary) => boolean) | null, start: number, limit: number): Promise<Walked> {
  if (keep === null) return countedWindow(store, query, start, limit);
  let total = 0;
  let unread = 0;
  const window: MessageSummary[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const p = await store.listMessages({ query, limit: PAGE, cursor });
    for (const m of p.items) {
      if (!keep(m)) continue;
      if (total >= start && window.length < limit) window.push(m);
      total++;
      if (!m.read) unread++;
    }
    if (p.nextCursor === null) break;
    cursor = p.nextCursor;
    await yieldTurn();
  }
  return { total, unread, window };
}

/** The totals from the store's count; the window from the pages up to its end (start + limit summaries read). */
async function countedWindow(store: MessageStore, query: string, start: number, limit: number): Promise<Walked> {
  const { total, unread } = await store.countMessages(query);
  const window: MessageSummary[] = [];
  const end = Math.min(total, start + limit);
  let seen = 0;
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES && seen < end; page++) {
    const p = await store.listMessages({ query, limit: Math.min(PAGE, end - seen), cursor });
    for (const m of p.items) {
      if (seen >= start && window.length < limit) window.push(m);
      seen++;
    }
    if (p.nextCursor === null || p.items.length === 0) break;
    cursor = p.nextCursor;
    await yieldTurn();
  }
  return { total, unread, window };
}

/** The ids of every message found (for bulk read status and delete), newest first. */
export async function matchingIds(store: MessageStore, query: string, keep: (m: MessageSummary) => boolean): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const p = await store.listMessages({ query, limit: PAGE, cursor });
    for (const m of p.items) if (keep(m)) ids.push(m.id);
    if (p.nextCursor === null) break;
    cursor = p.nextCursor;
    await yieldTurn();
  }
  return ids;
}

/** The newest message the store query finds and `keep` accepts, or null. */
export async function newest(store: MessageStore, query: string, keep: (m: MessageSummary) => boolean): Promise<MessageSummary | null> {
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const p = await store.listMessages({ query, limit: page === 0 ? 50 : PAGE, cursor });
    const hit = p.items.find(keep);
    if (hit !== undefined) return hit;
    if (p.nextCursor === null) return null;
    cursor = p.nextCursor;
  }
  return null;
}
