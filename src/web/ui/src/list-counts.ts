/**
 * The exact counts of the list's query (issue 32 item 8): how many messages it matches and how many of them are unread,
 * from GET /api/v1/messages/count, instead of "100+" from the pages loaded. Read again whenever the list changes
 * (new mail, a delete, a read flag), at most one request at a time and one more after it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';

export type ListCounts = Readonly<{ query: string; total: number; unread: number }>;

/** The search term that narrows a query to its unread messages. */

/** `changed` is anything that changes when the list does (its items array); null until the first answer for `query`. */
export function useListCounts(query: string, changed: unknown, disabled: boolean): ListCounts | null {
  const [counts, setCounts] = useState<ListCounts | null>(null);
  const busy = useRef<{ running: boolean; again: boolean }>({ running: false, again: false });
  const latest = useRef(query);
  latest.current = query;
  useEffect(() => {
    if (disabled) return;
    const b = busy.current;
    if (b.running) { b.again = true; return; }
    b.running = true;
    void (async () => {
      try {
        for (let i = 0; i < 10; i++) {
          b.again = false;
          const q = latest.current;
          const { total, unread } = await api.countMessages(q);
          if (q === latest.current) setCounts({ query: q, total, unread });
          if (!b.again) break;
        }
      } catch {
        // An older server without the route, or a query the list already reports as wrong: the list's own count stays.
      } finally {
        b.running = false;
      }
    })();
  }, [query, changed, disabled]);
  return counts !== null && counts.query === query ? counts : null;
}

/** "1,234 messages" (or results), exact when counted; "100+ messages" from the pages while the count is on its way. */
export function countText(counts: ListCounts | null, loaded: number, more: boolean, search: boolean): string {
  const n = counts?.total ?? loaded;
  const noun = search ? 'result' : 'message';
  return `${n.toLocaleString('en-US')}${counts === null && more ? '+' : ''} ${noun}${n === 1 && (counts !== null || !more) ? '' : 's'}`;
}
