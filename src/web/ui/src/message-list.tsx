/**
 * The message list, virtualized: rows have one fixed height, so only the rows in view (plus a margin) are in the
 * DOM however many are loaded, and the next page (cursor paging) is fetched as the end comes into view. With
 * 100,000 messages stored the page holds a few dozen rows and the server reads one page at a time.
 */
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { MessageSummary } from './api.js';
import { exactTime, mailbox, mailboxes, relativeTime, size } from './format.js';
import { Icon } from './icons.js';

export const ROW_HEIGHT = 80;
const OVERSCAN = 8;
/** Fetch the next page when this many loaded rows remain below the view. */
const PREFETCH_ROWS = 40;

type Props = {
  items: readonly MessageSummary[];
  hasMore: boolean;
  loading: boolean;
  selectedId: string | null;
  openId: string | null;
  now: number;
  /** Bumped when rows were added above: the view keeps its place instead of jumping. */
  prepended: { count: number; seq: number };
  onOpen(id: string): void;
  onLoadMore(): void;
};

export function MessageList(p: Props): JSX.Element {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(800);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    setHeight(el.clientHeight);
    return () => ro.disconnect();
  }, []);

  // New mail above: if the reader has scrolled down, move down with the rows so what they look at stays put.
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && p.prepended.count > 0 && el.scrollTop > 0) el.scrollTop += p.prepended.count * ROW_HEIGHT;
  }, [p.prepended.seq]);

  // Keyboard selection scrolls the selected row into view.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || p.selectedId === null) return;
    const i = p.items.findIndex((m) => m.id === p.selectedId);
    if (i < 0) return;
    const top = i * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
  }, [p.selectedId]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(p.items.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);

  useEffect(() => {
    if (p.hasMore && !p.loading && last + PREFETCH_ROWS >= p.items.length) p.onLoadMore();
  }, [last, p.items.length, p.hasMore, p.loading]);

  const rows: JSX.Element[] = [];
  for (let i = first; i < last; i++) {
    const m = p.items[i];
    if (m) rows.push(<Row key={m.id} m={m} top={i * ROW_HEIGHT} now={p.now} selected={m.id === p.selectedId} open={m.id === p.openId} onOpen={p.onOpen} />);
  }
  const total = p.items.length * ROW_HEIGHT + (p.hasMore || p.loading ? ROW_HEIGHT : 0);

  return (
    <div class="list-scroll" ref={ref} role="listbox" aria-label="Messages" tabIndex={-1}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}>
      <div class="list-inner" style={{ height: `${total}px` }}>
        {rows}
        {(p.hasMore || p.loading) && (
          <div class="list-more" style={{ top: `${p.items.length * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` }}>Loading…</div>
        )}
      </div>
    </div>
  );
}

type RowProps = { m: MessageSummary; top: number; now: number; selected: boolean; open: boolean; onOpen(id: string): void };

function Row({ m, top, now, selected, open, onOpen }: RowProps): JSX.Element {
  const to = m.to.length > 0 ? mailboxes(m.to) : m.envelope.to.join(', ');
  const cls = `row${m.read ? '' : ' unread'}${selected ? ' selected' : ''}${open ? ' open' : ''}`;
  return (
    <div class={cls} style={{ top: `${top}px`, height: `${ROW_HEIGHT}px` }} role="option" aria-selected={selected}
      data-id={m.id} onClick={() => onOpen(m.id)}>
      <span class="row-dot" aria-label={m.read ? undefined : 'unread'} />
      <div class="row-line">
        <span class="row-from" title={m.from ? m.from.address : m.envelope.from}>{mailbox(m.from) || m.envelope.from || '(no sender)'}</span>
        <time class="row-time" dateTime={m.receivedAt} title={exactTime(m.receivedAt)}>{relativeTime(m.receivedAt, now)}</time>
      </div>
      <div class="row-line">
        <span class="row-subject" dir="auto">{m.subject || '(no subject)'}</span>
        {m.attachmentCount > 0 && (
          <span class="row-att" title={`${m.attachmentCount} attachment${m.attachmentCount === 1 ? '' : 's'}`}>
            <Icon name="paperclip" size={13} />
          </span>
        )}
        <span class="row-size">{size(m.size)}</span>
      </div>
      <div class="row-line row-meta">
        <span class="row-to">To: {to || '—'}</span>
        {m.snippet && <span class="row-snippet" dir="auto"> · {m.snippet}</span>}
      </div>
    </div>
  );
}
