/**
 * The whole UI: a header (views, search, connection), the inbox (virtualized list + message view) and the sessions
 * view. State lives here; the hash holds what a reload should keep (#/m/<id>/<tab>, #/sessions/<id>).
 * Every API failure ends up in the banner or beside the control that caused it, never as a blank page.
 */
import type { JSX } from 'preact';
import { useCallback, useEffect, useErrorBoundary, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText, EVENTS_URL, type Inbox, type MessageDetail, type MessageSummary, type ServerInfo } from './api.js';
import { smtpWords } from './format.js';
import { InboxList, inboxTerm } from './inbox-list.js';
import { Icon } from './icons.js';
import { connectLive, type LiveEvent, type LiveStatus } from './live.js';
import { MessageList } from './message-list.js';
import { MessageView } from './message-view.js';
import { SessionsView } from './sessions.js';
import { parseHash, routeHash, type Route } from './route.js';
import { FaultsView } from './faults.js';
import { countText, useListCounts } from './list-counts.js';

const PAGE = 100;
const SEARCH_DEBOUNCE_MS = 250;
/** How long a deleted message can be brought back before its DELETE is sent. */
const UNDO_MS = 5000;
/** Inboxes shown beside the list (the address order of the API). */
const INBOX_LIMIT = 500;

type ListState = { items: MessageSummary[]; next: string | null; loading: boolean; loaded: boolean; query: string };
type Confirm = { title: string; body: string; action: string; run: () => Promise<void> };

export function App(): JSX.Element {
  const [crash, resetCrash] = useErrorBoundary();
  if (crash) {
    return (
      <div class="banner error fatal" role="alert">
        <Icon name="alert" /> The page hit an error: {errorText(crash)}
        <button class="btn small" onClick={() => resetCrash()}>Try again</button>
        <button class="btn small" onClick={() => location.reload()}>Reload</button>
      </div>
    );
  }
  return <Shell />;
}

function Shell(): JSX.Element {
  const [route, setRoute] = useState<Route>(() => parseHash(location.hash));
  const go = useCallback((r: Route, replace = false) => {
    const h = routeHash(r);
    if (replace) history.replaceState(null, '', h);
    else if (location.hash !== h) history.pushState(null, '', h);
    setRoute(r);
  }, []);
  useEffect(() => {
    const f = (): void => setRoute(parseHash(location.hash));
    window.addEventListener('popstate', f);
    window.addEventListener('hashchange', f);
    return () => { window.removeEventListener('popstate', f); window.removeEventListener('hashchange', f); };
  }, []);

  const [banner, setBanner] = useState<string | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const [live, setLive] = useState<LiveStatus>('connecting');
  // Where SMTP listens and in which dialect: said in the header and in the empty states (GET /api/v1/server).
  const [server, setServer] = useState<ServerInfo | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    api.serverInfo(ac.signal).then(setServer, () => { /* an older server without the route: the UI says less */ });
    return () => ac.abort();
  }, []);
  const smtp = server?.smtp ? smtpWords(server.smtp) : null;
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 30_000); return () => clearInterval(t); }, []);
  useEffect(() => { if (!toast) return undefined; const t = setTimeout(() => setToast(null), 4000); return () => clearTimeout(t); }, [toast]);
  const report = useCallback((m: string) => setBanner(m), []);

  // ---- search + list ------------------------------------------------------------------------------------------
  // The search and the inbox live in the page's query string (?q=…&inbox=…), so a view can be shared and reloaded.
  const [input, setInput] = useState(() => new URLSearchParams(location.search).get('q') ?? '');
  const [query, setQuery] = useState(() => (new URLSearchParams(location.search).get('q') ?? '').trim());
  const [queryError, setQueryError] = useState<string | null>(null);
  const [list, setList] = useState<ListState>({ items: [], next: null, loading: true, loaded: false, query: '' });
  const listRef = useRef(list);
  listRef.current = list;
  const [prepended, setPrepended] = useState({ count: 0, seq: 0 });
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [arrived, setArrived] = useState<ReadonlySet<string>>(new Set());
  const searchRef = useRef<HTMLInputElement>(null);
  const [hint, setHint] = useState(false);

  useEffect(() => {
    const t = setTimeout(() => setQuery(input.trim()), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [input]);

  // ---- inboxes: the list beside the messages; choosing one scopes the list, its search and its live updates -------
  const [scope, setScope] = useState<string | null>(() => new URLSearchParams(location.search).get('inbox') || null);
  useEffect(() => {
    const params = new URLSearchParams();
    if (query) params.set('q', query);
    if (scope !== null) params.set('inbox', scope);
    const search = params.toString() ? `?${params.toString()}` : '';
    if (search !== location.search) history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  }, [query, scope]);
  const [inboxes, setInboxes] = useState<readonly Inbox[]>([]);
  const listQuery = scope === null ? query : `${inboxTerm(scope)}${query ? ` ${query}` : ''}`;
  const inboxLoad = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });
  const refreshInboxes = useCallback(async (): Promise<void> => {
    const r = inboxLoad.current;
    if (r.busy) { r.again = true; return; }
    r.busy = true;
    try {
      do {
        r.again = false;
        setInboxes(await api.listInboxes(INBOX_LIMIT));
      } while (r.again);
    } catch (e) {
      setBanner(`Could not load the inboxes: ${errorText(e)}`);
    } finally {
      r.busy = false;
    }
  }, []);
  useEffect(() => { void refreshInboxes(); }, [refreshInboxes]);

  // The first page for the current query; a newer query aborts an older request.
  useEffect(() => {
    const ac = new AbortController();
    const query = listQuery;
    setList((l) => ({ ...l, loading: true }));
    api.listMessages(query, null, PAGE, ac.signal).then((page) => {
      setQueryError(null);
      setBanner(null);
      setList({ items: page.items.filter((m) => m.id !== pendingDelete.current?.id), next: page.nextCursor, loading: false, loaded: true, query });
      if (query !== '') setHint(false); // the results are what the user looks at now, not the hint over them
    }, (e: unknown) => {
      if (ac.signal.aborted) return;
      if (e instanceof ApiError && e.status === 400) {
        // The reason goes where the results go, and no earlier results stay under a query that failed.
        setQueryError(e.message);
        setHint(false);
        setList({ items: [], next: null, loading: false, loaded: true, query });
        return;
      }
      setBanner(`Could not load messages: ${errorText(e)}`);
      setList((l) => ({ ...l, loading: false, loaded: true }));
    });
    return () => ac.abort();
  }, [listQuery]);

  const loadMore = useCallback(() => {
    const l = listRef.current;
    if (!l.next || l.loading) return;
    setList({ ...l, loading: true });
    api.listMessages(l.query, l.next, PAGE).then((page) => {
      setList((cur) => {
        if (cur.query !== l.query) return cur;
        const known = new Set(cur.items.map((m) => m.id)); // a message that moved pages (new mail on top) once only
        return { ...cur, items: [...cur.items, ...page.items.filter((m) => !known.has(m.id))], next: page.nextCursor, loading: false };
      });
    }, (e: unknown) => {
      setBanner(`Could not load more messages: ${errorText(e)}`);
      setList((cur) => ({ ...cur, loading: false }));
    });
  }, []);

  // New mail: read the first page again and put what is new on top. Bursts coalesce: one request in flight,
  // one more after it if anything arrived meanwhile.
  const refreshing = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });
  const refreshTop = useCallback(async (): Promise<void> => {
    const r = refreshing.current;
    if (r.busy) { r.again = true; return; }
    r.busy = true;
    try {
      do {
        r.again = false;
        const q = listRef.current.query;
        const page = await api.listMessages(q, null, PAGE);
        setList((cur) => {
          if (cur.query !== q) return cur;
          const known = new Set(cur.items.map((m) => m.id));
          const top = cur.items[0];
          const fresh: MessageSummary[] = [];
          for (const m of page.items) {
            if (m.id === pendingDelete.current?.id) continue; // deleted, its Undo still open
            if (known.has(m.id)) break;
            if (top && m.receivedAt < top.receivedAt) break;
            fresh.push(m);
          }
          if (fresh.length === 0) return cur;
          if (fresh.length === page.items.length && cur.items.length > 0) {
            // More new mail than a page: start again from the top.
            return { ...cur, items: page.items, next: page.nextCursor };
          }
          setPrepended((p) => ({ count: fresh.length, seq: p.seq + 1 }));
          return { ...cur, items: [...fresh, ...cur.items] };
        });
        setBanner(null);
      } while (r.again);
    } catch (e) {
      setBanner(`Could not load new mail: ${errorText(e)}`);
    } finally {
      r.busy = false;
    }
  }, []);

  // ---- the open message ----------------------------------------------------------------------------------------
  const openId = route.view === 'inbox' ? route.id : null;
  const [message, setMessage] = useState<MessageDetail | null>(null);
  const [messageError, setMessageError] = useState<string | null>(null);

  const patchItem = (id: string, change: Partial<MessageSummary>): void => {
    setList((cur) => ({ ...cur, items: cur.items.map((m) => (m.id === id ? { ...m, ...change } : m)) }));
    if (change.read !== undefined) void refreshInboxes(); // the unread counts beside the list
  };

  useEffect(() => {
    if (!openId) { setMessage(null); setMessageError(null); return undefined; }
    const ac = new AbortController();
    setMessageError(null);
    setSelectedId(openId);
    api.getMessage(openId, ac.signal).then(async (m) => {
      setMessage(m);
      if (!m.read) {
        try {
          await api.setRead(m.id, true);
          setMessage((cur) => (cur?.id === m.id ? { ...cur, read: true } : cur));
          patchItem(m.id, { read: true });
          setArrived((a) => without(a, m.id));
        } catch (e) {
          setBanner(`Could not mark the message read: ${errorText(e)}`);
        }
      }
    }, (e: unknown) => {
      if (ac.signal.aborted) return;
      setMessage(null);
      setMessageError(e instanceof ApiError && e.status === 404 ? 'This message no longer exists.' : `Could not load the message: ${errorText(e)}`);
    });
    return () => ac.abort();
  }, [openId]);

  const openMessage = useCallback((id: string) => go({ view: 'inbox', id, tab: null }), [go]);
  const closeMessage = useCallback(() => go({ view: 'inbox', id: null, tab: null }), [go]);

  const removeFromList = (ids: readonly string[]): void => {
    const gone = new Set(ids);
    setList((cur) => ({ ...cur, items: cur.items.filter((m) => !gone.has(m.id)) }));
    setArrived((a) => new Set([...a].filter((x) => !gone.has(x))));
  };

  // Deleting one message: it leaves the list at once, and the DELETE goes when the Undo toast ends (UNDO_MS), or at once
  // (keepalive) when the page is left: the server, its webhooks and IMAP see one deletion, or none after an Undo.
  const pendingDelete = useRef<{ id: string; item: MessageSummary; index: number; timer: ReturnType<typeof setTimeout> } | null>(null);
  const [undoable, setUndoable] = useState<string | null>(null);
  const commitDelete = useCallback((keepalive = false) => {
    const p = pendingDelete.current;
    if (p === null) return;
    pendingDelete.current = null;
    clearTimeout(p.timer);
    setUndoable(null);
    if (keepalive) { api.deleteMessageOnLeave(p.id); return; }
    api.deleteMessage(p.id).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return; // already gone
      setBanner(`Could not delete the message: ${errorText(e)}`);
      setList((cur) => (cur.items.some((m) => m.id === p.id) ? cur : { ...cur, items: [...cur.items.slice(0, p.index), p.item, ...cur.items.slice(p.index)] }));
    });
  }, []);
  const undoDelete = useCallback(() => {
    const p = pendingDelete.current;
    if (p === null) return;
    pendingDelete.current = null;
    clearTimeout(p.timer);
    setUndoable(null);
    setList((cur) => (cur.items.some((m) => m.id === p.id) ? cur : { ...cur, items: [...cur.items.slice(0, p.index), p.item, ...cur.items.slice(p.index)] }));
    setSelectedId(p.id);
  }, []);
  useEffect(() => {
    const leave = (): void => commitDelete(true);
    window.addEventListener('pagehide', leave);
    return () => window.removeEventListener('pagehide', leave);
  }, [commitDelete]);
  const deleteOne = useCallback(async (id: string) => {
    commitDelete(); // one pending at a time: an earlier one goes now
    const items = listRef.current.items;
    const i = items.findIndex((m) => m.id === id);
    const item = items[i];
    const neighbour = items[i + 1] ?? items[i - 1] ?? null;
    if (item) pendingDelete.current = { id, item, index: i, timer: setTimeout(() => commitDelete(), UNDO_MS) };
    else {
      try { await api.deleteMessage(id); } catch (e) { setBanner(`Could not delete the message: ${errorText(e)}`); return; }
    }
    removeFromList([id]);
    setSelectedId(neighbour?.id ?? null);
    if (openId === id) {
      if (neighbour && window.matchMedia('(min-width: 900px)').matches) go({ view: 'inbox', id: neighbour.id, tab: null }, true);
      else go({ view: 'inbox', id: null, tab: null }, true);
    }
    if (item) setUndoable(item.subject || '(no subject)');
    else setToast('Message deleted');
  }, [openId, go, commitDelete]);

  const toggleRead = useCallback(async () => {
    if (!message) return;
    const read = !message.read;
    try {
      await api.setRead(message.id, read);
      setMessage({ ...message, read });
      patchItem(message.id, { read });
      if (read) setArrived((a) => without(a, message.id));
    } catch (e) {
      setBanner(`Could not mark the message: ${errorText(e)}`);
    }
  }, [message]);

  // The exact total and unread count of the list's query, and "mark all read" over all of it (not only what is loaded).
  const counts = useListCounts(listQuery, list.items, queryError !== null);
  const markAllRead = useCallback(async () => {
    try {
      const r = await api.setReadMatching(listQuery, true);
      setList((cur) => ({ ...cur, items: cur.items.map((m) => (m.read ? m : { ...m, read: true })) }));
      setMessage((cur) => (cur === null || cur.read ? cur : { ...cur, read: true }));
      setArrived(new Set());
      void refreshInboxes();
      setToast(`${r.updated.toLocaleString('en-US')} message${r.updated === 1 ? '' : 's'} marked read`);
    } catch (e) {
      setBanner(`Could not mark the messages read: ${errorText(e)}`);
    }
  }, [listQuery, refreshInboxes]);

  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const askDeleteMatching = (): void => {
    const q = listQuery;
    setConfirm({
      title: q ? 'Delete the search results?' : 'Delete all messages?',
      body: q ? `Every message matching “${q}” will be deleted, not only those loaded. This cannot be undone.` : 'Every stored message will be deleted. This cannot be undone.',
      action: q ? 'Delete results' : 'Delete all',
      run: async () => {
        const r = await api.deleteMatching(q);
        removeFromList(r.ids);
        if (openId && r.ids.includes(openId)) closeMessage();
        setToast(`${r.deleted} message${r.deleted === 1 ? '' : 's'} deleted`);
      },
    });
  };

  // ---- live updates --------------------------------------------------------------------------------------------
  const [sessionSeq, setSessionSeq] = useState(0);
  const onLive = useRef<(e: LiveEvent) => void>(() => {});
  onLive.current = (e) => {
    if (e.type === 'message-stored') {
      setArrived((a) => new Set(a).add(e.id));
      void refreshTop();
      void refreshInboxes();
    } else if (e.type === 'message-deleted') {
      removeFromList([e.id]);
      void refreshInboxes();
      if (openId === e.id) setMessageError('This message was deleted.');
    } else {
      setSessionSeq((n) => n + 1);
    }
  };
  useEffect(() => connectLive(EVENTS_URL, {
    onEvent: (e) => onLive.current(e),
    onStatus: setLive,
    onReconnect: () => { void refreshTop(); setSessionSeq((n) => n + 1); },
  }), []);

  // Unread mail that arrived while the page was open, in the tab title.
  const unreadNew = useMemo(() => list.items.filter((m) => arrived.has(m.id) && !m.read).length, [list.items, arrived]);
  useEffect(() => {
    document.title = `${unreadNew > 0 ? `(${unreadNew}) ` : ''}${route.view === 'sessions' ? 'Sessions' : route.view === 'faults' ? 'Faults' : 'Inbox'} · mailwire`;
  }, [unreadNew, route.view]);

  // ---- keyboard ------------------------------------------------------------------------------------------------
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (confirm || e.ctrlKey || e.metaKey || e.altKey) return;
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
      if (typing) {
        if (e.key === 'Escape' && e.target === searchRef.current) { searchRef.current?.blur(); setHint(false); }
        if ((e.key === 'ArrowDown' || e.key === 'Enter') && e.target === searchRef.current && list.items[0]) {
          searchRef.current?.blur();
          setHint(false);
          setSelectedId(list.items[0].id);
          if (e.key === 'Enter') openMessage(list.items[0].id);
          e.preventDefault();
        }
        return;
      }
      if (e.key === '/') { e.preventDefault(); searchRef.current?.focus(); return; }
      if (route.view !== 'inbox') return;
      const items = list.items;
      const cur = items.findIndex((m) => m.id === (selectedId ?? openId));
      const move = (d: number): void => {
        const n = items[cur < 0 ? 0 : Math.max(0, Math.min(items.length - 1, cur + d))];
        if (!n) return;
        setSelectedId(n.id);
        if (openId) go({ view: 'inbox', id: n.id, tab: route.tab }, true);
      };
      switch (e.key) {
        case 'j': case 'ArrowDown': e.preventDefault(); move(1); break;
        case 'k': case 'ArrowUp': e.preventDefault(); move(-1); break;
        case 'Enter': if (selectedId) { e.preventDefault(); openMessage(selectedId); } break;
        case 'Delete': { const id = openId ?? selectedId; if (id) { e.preventDefault(); void deleteOne(id); } break; }
        case 'Escape': if (openId) closeMessage(); break;
        case 'u': if (message) void toggleRead(); break;
        default: break;
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [list.items, selectedId, openId, route, message, confirm, deleteOne, toggleRead]);

  const inbox = route.view === 'inbox';
  return (
    <div class="app">
      <header class="topbar">
        <a class="brand" href="#/" onClick={(e) => { e.preventDefault(); go({ view: 'inbox', id: null, tab: null }); }}>
          <span class="logo"><Icon name="mail" size={16} /></span> mailwire
        </a>
        <nav class="views">
          <a href="#/" class={inbox ? 'active' : ''} onClick={(e) => { e.preventDefault(); go({ view: 'inbox', id: null, tab: null }); }}>
            <Icon name="inbox" /> Inbox
          </a>
          <a href="#/sessions" class={route.view === 'sessions' ? 'active' : ''} onClick={(e) => { e.preventDefault(); go({ view: 'sessions', id: null }); }}>
            <Icon name="sessions" /> Sessions
          </a>
          <a href="#/faults" class={route.view === 'faults' ? 'active' : ''} onClick={(e) => { e.preventDefault(); go({ view: 'faults' }); }}>
            <Icon name="alert" /> Faults
          </a>
        </nav>
        {inbox && (
          <div class="search">
            <Icon name="search" class="search-icon" />
            <input ref={searchRef} type="search" placeholder="Search   ( / )" aria-label="Search messages" value={input}
              spellcheck={false} autocomplete="off"
              onInput={(e) => setInput((e.currentTarget as HTMLInputElement).value)}
              onFocus={() => setHint(true)} onBlur={() => setHint(false)} />
            {hint && <SearchHint onPick={(t) => { setInput((v) => (v ? `${v.trimEnd()} ${t}` : t)); }} />}
          </div>
        )}
        {smtp && (
          <div class={`smtp-addr ${server?.smtp?.dialect ?? ''}`} title={`Send mail to ${smtp.address} (${smtp.dialect})${server ? `; mailwire ${server.version}` : ''}`}>
            <span class="lbl">SMTP</span> <code>{smtp.address}</code> <span class="dialect">{server?.smtp?.dialect}</span>
          </div>
        )}
        <div class={`live ${live}`} title={live === 'open' ? 'Live: new mail appears by itself' : live === 'down' ? 'Disconnected: reconnecting…' : 'Connecting…'}>
          <span class="live-dot" /> <span class="lbl">{live === 'open' ? 'Live' : live === 'down' ? 'Offline' : 'Connecting'}</span>
        </div>
      </header>

      {live === 'down' && <div class="banner warn" role="status"><Icon name="alert" /> Lost the connection to the server. Reconnecting…</div>}
      {banner && (
        <div class="banner error" role="alert">
          <Icon name="alert" /> <span>{banner}</span>
          <button class="btn ghost small" aria-label="Dismiss" onClick={() => setBanner(null)}><Icon name="x" /></button>
        </div>
      )}

      {inbox ? (
        <main class={`panes${openId ? ' has-open' : ''}`}>
          <section class="list-pane" aria-label="Message list">
            <div class="list-toolbar">
              <span class="muted count">
                {queryError ? 'Search error' : list.loaded ? countText(counts, list.items.length, list.next !== null, query !== '') : 'Loading…'}
                {counts !== null && counts.unread > 0 && !queryError && <span class="unread-count"> · {counts.unread.toLocaleString('en-US')} unread</span>}
              </span>
              <div class="spacer" />
              <button class="btn ghost small mark-read" disabled={queryError !== null || counts === null || counts.unread === 0} onClick={() => void markAllRead()}
                title={`Mark ${counts === null ? 'every' : `the ${counts.unread.toLocaleString('en-US')} unread`} message${counts?.unread === 1 ? '' : 's'} ${listQuery ? 'of this view' : ''} read`.replace('  ', ' ')}>
                <Icon name="mailOpen" /> <span class="lbl">Mark all read</span>
              </button>
              <button class="btn ghost small danger" disabled={list.items.length === 0 || queryError !== null} onClick={askDeleteMatching}>
                <Icon name="trash" /> {listQuery ? 'Delete results' : 'Delete all'}
              </button>
            </div>
            {queryError ? (
              <div class="placeholder">
                <Icon name="alert" size={40} />
                <div class="search-error" role="alert">Search: {queryError}</div>
                <p class="muted">Fix the query, or press <kbd>/</kbd> to see the filters.</p>
              </div>
            ) : list.loaded && list.items.length === 0 ? (
              <div class="placeholder">
                <Icon name="inbox" size={40} />
                {query ? <p>No messages match <code>{query}</code>.</p> : <p>No mail yet. Point your application's SMTP at {smtp ? <><code>{smtp.address}</code> ({smtp.dialect})</> : 'this server'}; new mail appears here at once.</p>}
              </div>
            ) : (
              <MessageList items={list.items} hasMore={list.next !== null} loading={list.loading} selectedId={selectedId} openId={openId}
                now={now} prepended={prepended} onOpen={openMessage} onLoadMore={loadMore} />
            )}
          </section>
          <InboxList inboxes={inboxes} scope={scope} onScope={(address) => { setScope(address); if (openId) closeMessage(); }} />
          <section class="view-pane" aria-label="Message view">
            {messageError ? (
              <div class="placeholder"><Icon name="alert" size={40} /><p>{messageError}</p><button class="btn" onClick={closeMessage}>Back to the list</button></div>
            ) : message && route.view === 'inbox' && message.id === openId ? (
              <MessageView message={message} tab={route.tab} onTab={(t) => go({ view: 'inbox', id: message.id, tab: t }, true)}
                onBack={closeMessage} onDelete={() => void deleteOne(message.id)} onToggleRead={() => void toggleRead()} />
            ) : openId ? (
              <div class="placeholder"><p>Loading…</p></div>
            ) : (
              <div class="placeholder">
                <Icon name="mail" size={40} />
                <p>Select a message to read it.</p>
                <p class="keys"><kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>Delete</kbd> delete · <kbd>/</kbd> search · <kbd>u</kbd> read/unread</p>
              </div>
            )}
          </section>
        </main>
      ) : route.view === 'sessions' ? (
        <main class="sessions-main">
          <SessionsView smtpAddress={smtp?.address ?? null} openId={route.id} now={now} refreshSeq={sessionSeq} onOpen={(id) => go({ view: 'sessions', id })} onError={report} />
        </main>
      ) : (
        <main class="faults-main">
          <FaultsView refreshSeq={sessionSeq} onError={report} />
        </main>
      )}

      {confirm && <ConfirmDialog c={confirm} onClose={() => setConfirm(null)} onError={(m) => setBanner(m)} />}
      {toast && !undoable && <div class="toast" role="status">{toast}</div>}
      {undoable !== null && (
        <div class="toast undo" role="status">
          Message deleted <button class="btn small" onClick={undoDelete}>Undo</button>
        </div>
      )}
    </div>
  );
}

const without = (s: ReadonlySet<string>, id: string): ReadonlySet<string> => {
  if (!s.has(id)) return s;
  const n = new Set(s);
  n.delete(id);
  return n;
};

const HINTS: readonly [string, string][] = [
  ['from:ann@example.com', 'sender contains'],
  ['to:bob', 'To, Cc, Bcc or envelope recipient contains'],
  ['subject:"order shipped"', 'subject contains (quotes for spaces)'],
  ['after:2024-05-01', 'received on or after (UTC date or ISO time)'],
  ['before:2024-06-01', 'received before'],
  ['has:attachment', 'with attachments'],
  ['is:unread', 'unread (is:read for read)'],
  ['inbox:bob@example.com', 'sent to exactly this envelope recipient (the inbox)'],
  ['invoice', 'words anywhere: subject, addresses, body'],
  ['-from:noreply', 'a leading - negates any filter'],
];

function SearchHint({ onPick }: { onPick(t: string): void }): JSX.Element {
  return (
    <div class="hint" role="note" onMouseDown={(e) => e.preventDefault()}>
      <div class="hint-title">Search filters, combined with AND</div>
      <table>
        <tbody>
          {HINTS.map(([ex, what]) => (
            <tr key={ex}><td><button class="hint-ex" onClick={() => onPick(ex)}><code>{ex}</code></button></td><td>{what}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ConfirmDialog({ c, onClose, onError }: { c: Confirm; onClose(): void; onError(m: string): void }): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  const run = async (): Promise<void> => {
    setBusy(true);
    try {
      await c.run();
    } catch (e) {
      onError(errorText(e));
    }
    onClose();
  };
  return (
    <dialog ref={ref} class="confirm" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <h2>{c.title}</h2>
      <p>{c.body}</p>
      <div class="confirm-actions">
        <button class="btn" onClick={onClose} disabled={busy}>Cancel</button>
        <button class="btn primary danger" onClick={() => void run()} disabled={busy}>{c.action}</button>
      </div>
    </dialog>
  );
}
