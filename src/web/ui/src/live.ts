/**
 * The server's event stream (/api/v1/events), kept open across server restarts. EventSource retries by itself
 * after a dropped connection (the server asks for 2 s), but gives up for good on an HTTP error or a wrong content
 * type, as a proxy or a half-started server may give; then a new one is made, backing off up to 30 s.
 * `onReconnect` fires when a connection opens after a loss, since events sent meanwhile were missed.
 */
export type LiveEvent = { type: 'message-stored' | 'message-deleted' | 'session-ended'; id: string };
export type LiveStatus = 'connecting' | 'open' | 'down';

export type LiveHandlers = {
  onEvent(e: LiveEvent): void;
  onStatus(s: LiveStatus): void;
  onReconnect(): void;
};

export function connectLive(url: string, h: LiveHandlers): () => void {
  let source: EventSource | null = null;
  let everOpen = false;
  let lost = false;
  let retryMs = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const open = (): void => {
    if (stopped) return;
    h.onStatus(everOpen ? 'down' : 'connecting');
    const s = new EventSource(url);
    source = s;
    s.onopen = () => {
      retryMs = 1000;
      h.onStatus('open');
      if (lost) h.onReconnect();
      everOpen = true;
      lost = false;
    };
    s.onerror = () => {
      if (everOpen) lost = true;
      h.onStatus(everOpen ? 'down' : 'connecting');
      if (s.readyState === EventSource.CLOSED) {
        s.close();
        timer = setTimeout(open, retryMs);
        retryMs = Math.min(retryMs * 2, 30_000);
      }
    };
    for (const type of ['message-stored', 'message-deleted', 'session-ended'] as const) {
      s.addEventListener(type, (ev) => {
        try {
          const data = JSON.parse((ev as MessageEvent<string>).data) as { id?: unknown };
          if (typeof data.id === 'string') h.onEvent({ type, id: data.id });
        } catch { /* a malformed event is skipped */ }
      });
    }
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  };
}
