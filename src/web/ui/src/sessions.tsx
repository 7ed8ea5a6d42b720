/** Every SMTP session, newest first, and one session's transcript with each line's time and each reply's latency. */
import type { JSX } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, errorText, type SessionDetail, type SessionEnd, type SessionFilter, type SessionSummary } from './api.js';
import { clock, duration, exactTime, relativeTime } from './format.js';
import { Icon } from './icons.js';
import { Waterfall } from './waterfall.js';

const FAILED: ReadonlySet<SessionEnd> = new Set(['error', 'timeout', 'refused', 'fault']);
const END_LABEL: Record<SessionEnd, string> = {
  quit: 'QUIT', 'client-closed': 'client closed', timeout: 'timed out', shutdown: 'server shut down', error: 'error', refused: 'refused',
  fault: 'cut by a fault',
};
export const isFailed = (s: SessionSummary): boolean => FAILED.has(s.end);
const replyCode = (text: string): number => Number(/^(\d{3})[ -]/.exec(text)?.[1] ?? 0);

type Props = {
  /** Where SMTP listens ("127.0.0.1:1025"), for the empty state; null when not known. */
  smtpAddress: string | null;
  openId: string | null;
  now: number;
  /** Bumped on every session-ended event. */
  refreshSeq: number;
  onOpen(id: string | null): void;
  onError(message: string): void;
};

export function SessionsView({ smtpAddress, openId, now, refreshSeq, onOpen, onError }: Props): JSX.Element {
  const [items, setItems] = useState<SessionSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<string | null>(openId);
  const loadingRef = useRef(false);
  // The filters: failed only, and one box for a client address or (with an @) a mail address.
  const [failedOnly, setFailedOnly] = useState(false);
  const [needle, setNeedle] = useState('');
  const filter = useMemo((): SessionFilter => {
    const n = needle.trim();
    return { ...(failedOnly ? { failed: true } : {}), ...(n === '' ? {} : n.includes('@') ? { address: n.replace(/^<|>$/g, '') } : { client: n }) };
  }, [failedOnly, needle]);
  const filterKey = JSON.stringify(filter);
  const filterRef = useRef(filter);
  filterRef.current = filter;

  const loadFirst = useCallback(async () => {
    try {
      const page = await api.listSessions(null, 100, filterRef.current);
      setItems((old) => {
        // Keep what was paged in beyond the first page.
        const seen = new Set(page.items.map((s) => s.id));
        const tail = old.filter((s) => !seen.has(s.id) && old.length > 100);
        return [...page.items, ...tail];
      });
      setNext((n) => n ?? page.nextCursor);
    } catch (e) {
      onError(errorText(e));
    } finally {
      setLoading(false);
    }
  }, [onError]);

  useEffect(() => { void loadFirst(); }, [refreshSeq]);
  // Another filter: start the list again.
  const firstKey = useRef(filterKey);
  useEffect(() => {
    if (firstKey.current === filterKey) return;
    firstKey.current = filterKey;
    setItems([]);
    setNext(null);
    setLoading(true);
    void loadFirst();
  }, [filterKey]);

  const more = async (): Promise<void> => {
    if (!next || loadingRef.current) return;
    loadingRef.current = true;
    setLoading(true);
    try {
      const page = await api.listSessions(next, 100, filterRef.current);
      setItems((old) => [...old, ...page.items.filter((s) => !old.some((o) => o.id === s.id))]);
      setNext(page.nextCursor);
    } catch (e) {
      onError(errorText(e));
    } finally {
      loadingRef.current = false;
      setLoading(false);
    }
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.ctrlKey || e.metaKey || e.altKey) return;
      const i = items.findIndex((s) => s.id === (selected ?? openId));
      if (e.key === 'j' || e.key === 'ArrowDown') {
        const n = items[Math.min(items.length - 1, i + 1)];
        if (n) { setSelected(n.id); if (openId) onOpen(n.id); }
        e.preventDefault();
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        const n = items[Math.max(0, i - 1)];
        if (n) { setSelected(n.id); if (openId) onOpen(n.id); }
        e.preventDefault();
      } else if (e.key === 'Enter' && selected) {
        onOpen(selected);
      } else if (e.key === 'Escape' && openId) {
        onOpen(null);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [items, selected, openId]);

  return (
    <div class={`panes${openId ? ' has-open' : ''}`}>
      <section class="list-pane" aria-label="Sessions">
        <div class="list-toolbar session-filters">
          <span class="muted">{items.length}{next ? '+' : ''} session{items.length === 1 ? '' : 's'}</span>
          <label class="check"><input type="checkbox" checked={failedOnly} onChange={(e) => setFailedOnly((e.currentTarget as HTMLInputElement).checked)} /> Failed only</label>
          <input class="filter" type="search" placeholder="client or address" aria-label="Filter sessions by client address or mail address"
            value={needle} spellcheck={false} autocomplete="off" onChange={(e) => setNeedle((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="list-scroll" role="listbox" aria-label="Sessions">
          {items.length === 0 && !loading && filterKey !== '{}' && <p class="empty">No session matches these filters.</p>}
          {items.length === 0 && !loading && filterKey === '{}' && <p class="empty">No SMTP sessions yet. Send mail to {smtpAddress === null ? 'the SMTP port' : <code>{smtpAddress}</code>} and it shows up here.</p>}
          {items.map((s) => (
            <SessionRow key={s.id} s={s} now={now} open={s.id === openId} selected={s.id === selected} onOpen={() => { setSelected(s.id); onOpen(s.id); }} />
          ))}
          {next && <button class="btn more" onClick={() => void more()} disabled={loading}>{loading ? 'Loading…' : 'Load older sessions'}</button>}
        </div>
      </section>
      <section class="view-pane" aria-label="Session">
        {openId ? <Transcript id={openId} onBack={() => onOpen(null)} onError={onError} /> : <div class="placeholder"><Icon name="sessions" size={40} /><p>Select a session to see its transcript.</p></div>}
      </section>
    </div>
  );
}

function SessionRow({ s, now, open, selected, onOpen }: { s: SessionSummary; now: number; open: boolean; selected: boolean; onOpen(): void }): JSX.Element {
  const failed = isFailed(s);
  const ms = Date.parse(s.endedAt) - Date.parse(s.startedAt);
  return (
    <div class={`srow${open ? ' open' : ''}${selected ? ' selected' : ''}${failed ? ' failed' : ''}`} role="option" aria-selected={selected} data-id={s.id} onClick={onOpen}>
      <div class="row-line">
        <span class="row-from">{s.connection.clientAddress}:{s.connection.clientPort}</span>
        <time class="row-time" dateTime={s.startedAt} title={exactTime(s.startedAt)}>{relativeTime(s.startedAt, now)}</time>
      </div>
      <div class="row-line row-meta">
        {failed ? <span class="pill bad"><Icon name="alert" size={12} /> {END_LABEL[s.end]}</span> : <span class="pill">{END_LABEL[s.end]}</span>}
        <span>{s.messageIds.length} message{s.messageIds.length === 1 ? '' : 's'}</span>
        <span>· {duration(ms)}</span>
        {s.connection.tls && <span>· TLS</span>}
        {s.connection.faults && s.connection.faults.length > 0 && (
          <span class="pill fault" title={`Faults injected by rule ${s.connection.faults.join(', ')}`}>
            fault{s.connection.faults.length === 1 ? '' : 's'}: rule {[...new Set(s.connection.faults)].join(', ')}
          </span>
        )}
        {s.connection.authUser && <span>· AUTH {s.connection.authUser}</span>}
      </div>
      <SaidLine s={s} />
    </div>
  );
}

/** What the client said, as the row's last line: HELO name, MAIL FROM, the first RCPT TO and how many more. */
function SaidLine({ s }: { s: SessionSummary }): JSX.Element | null {
  // Older servers (and sessions recorded before the fields) have none.
  const rcpt = s.rcptTo ?? [];
  if ((s.helo ?? null) === null && (s.mailFrom ?? null) === null && rcpt.length === 0) return null;
  return (
    <div class="row-line row-said" dir="auto">
      {s.helo !== null && <span class="said-helo" title="HELO/EHLO name"><b>HELO</b> {s.helo}</span>}
      {s.mailFrom !== null && <span class="said-from" title="MAIL FROM"><b>from</b> {s.mailFrom === '' ? '<>' : s.mailFrom}</span>}
      {rcpt.length > 0 && (
        <span class="said-to" title={rcpt.join(', ')}><b>to</b> {rcpt[0]}{rcpt.length > 1 ? ` +${rcpt.length - 1}` : ''}</span>
      )}
    </div>
  );
}

function Transcript({ id, onBack, onError }: { id: string; onBack(): void; onError(m: string): void }): JSX.Element {
  const [s, setS] = useState<SessionDetail | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    setS(null);
    api.getSession(id, ac.signal).then(setS, (e: unknown) => { if (!ac.signal.aborted) onError(errorText(e)); });
    return () => ac.abort();
  }, [id]);
  if (!s) return <div class="placeholder"><p>Loading…</p></div>;
  const start = s.transcript[0]?.at ?? Date.parse(s.startedAt);
  const errors = s.transcript.filter((l) => l.dir === 'server' && replyCode(l.text) >= 400).length;
  const replies = s.transcript.filter((l) => l.responseMs !== undefined);
  const avg = replies.length ? replies.reduce((a, l) => a + (l.responseMs ?? 0), 0) / replies.length : 0;
  const c = s.connection;
  return (
    <article class="view" aria-label="Session transcript">
      <header class="view-head">
        <div class="view-actions">
          <button class="btn ghost back" onClick={onBack} aria-label="Back"><Icon name="back" /></button>
        </div>
        <h1 class="view-subject">
          Session from {c.clientAddress}:{c.clientPort}
          {isFailed(s) && <span class="pill bad big"><Icon name="alert" size={13} /> failed: {END_LABEL[s.end]}</span>}
        </h1>
        <dl class="view-meta">
          <dt>Started</dt><dd>{exactTime(s.startedAt)}</dd>
          <dt>Lasted</dt><dd>{duration(Date.parse(s.endedAt) - Date.parse(s.startedAt))}, ended by {END_LABEL[s.end]}</dd>
          {s.helo !== null && <><dt>HELO</dt><dd dir="auto">{s.helo}</dd></>}
          {s.mailFrom !== null && <><dt>MAIL FROM</dt><dd dir="auto">{s.mailFrom === '' ? '<>' : s.mailFrom}</dd></>}
          {s.rcptTo.length > 0 && <><dt>RCPT TO</dt><dd dir="auto">{s.rcptTo.join(', ')}</dd></>}
          <dt>Server</dt><dd>{c.serverAddress}:{c.serverPort} · {c.dialect === 'simplified' ? 'simplified SMTP' : 'SMTP'}{c.tls ? ' · TLS' : ''}{c.authUser ? ` · AUTH ${c.authUser}` : ''}</dd>
          <dt>Replies</dt><dd>{replies.length} timed, mean {duration(avg)}{errors > 0 ? <span class="bad-text"> · {errors} error repl{errors === 1 ? 'y' : 'ies'}</span> : ''} · {s.messageIds.length} message{s.messageIds.length === 1 ? '' : 's'} stored</dd>
        </dl>
      </header>
      <div class="view-body">
        <Waterfall transcript={s.transcript} />
        <table class="transcript">
          <thead><tr><th>Time</th><th class="num">+ms</th><th /><th>Line</th><th class="num">Response</th></tr></thead>
          <tbody>
            {s.transcript.map((l, i) => {
              const code = l.dir === 'server' ? replyCode(l.text) : 0;
              return (
                <tr key={i} class={`t-${l.dir}${code >= 400 ? ' t-error' : ''}`}>
                  <td class="t-time" title={new Date(l.at).toISOString()}>{clock(l.at)}</td>
                  <td class="num muted">{Math.max(0, l.at - start)}</td>
                  <td class="t-dir">{l.dir === 'client' ? 'C:' : l.dir === 'server' ? 'S:' : '··'}</td>
                  <td class="t-text"><QueuedLinks text={l.text} /></td>
                  <td class="num t-rt">{l.responseMs !== undefined ? duration(l.responseMs) : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {s.truncated && <p class="muted">The transcript was cut at its length limit.</p>}
      </div>
    </article>
  );
}

/** A reply's "queued as ID" as a link to that message (#/m/ID); the rest as text. */
function QueuedLinks({ text }: { text: string }): JSX.Element {
  const m = /\bqueued as ([A-Za-z0-9._-]{1,100})/.exec(text);
  if (!m || m[1] === undefined) return <>{text}</>;
  const at = m.index + m[0].length - m[1].length;
  return <>{text.slice(0, at)}<a class="queued" href={`#/m/${encodeURIComponent(m[1])}`} title="Open this message">{m[1]}</a>{text.slice(at + m[1].length)}</>;
}
