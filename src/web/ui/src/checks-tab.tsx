/**
 * The message's "Checks" tab (issue 29): what src/checks says about it, through the API. The checks that need no
 * network run when the tab opens (HTML compatibility, headers); the ones that make requests or cost a render run on a
 * click (links, spam, the screenshot strip). Types restate the API's JSON (src/checks/*), as api.ts does for messages.
 */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, errorText } from './api.js';
import { Icon } from './icons.js';
import './checks-tab.css';

type Support = 'y' | 'n' | 'a' | 'u';
type FeatureSupport = { support: Support; note: string | null; version: string };
type FoundFeature = {
  slug: string; title: string; category: string; url: string; occurrences: number;
  places: { line: number; excerpt: string }[]; support: Record<string, FeatureSupport>;
};
type ClientScore = { client: string; name: string; score: number; supported: number; partial: number; unsupported: number; unknown: number };
export type HtmlCheck = { dataDate: string; features: FoundFeature[]; clients: ClientScore[]; score: number; remote: string[] };
type HeaderFinding = { rule: string; severity: 'error' | 'warning'; header: string | null; message: string };
type DkimBodyHash = { domain: string; selector: string; algorithm: string; canonicalization: string; ok: boolean; reason: string | null };
export type HeaderCheck = { findings: HeaderFinding[]; dkim: DkimBodyHash[] };
type LinkResult = { url: string; kind: 'link' | 'image'; status: number | null; ok: boolean; finalUrl: string; redirects: number; ms: number; error: string | null };
export type LinkCheck = { links: LinkResult[]; errors: number };
type SpamRule = { name: string; score: number; description: string };
export type SpamCheck = { checker: 'spamassassin' | 'rspamd'; score: number; threshold: number; spam: boolean; action: string | null; rules: SpamRule[] };

const enc = encodeURIComponent;

async function request(method: 'GET' | 'POST', path: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { method, signal: signal ?? null });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'cannot reach the mailwire server');
  }
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `${method} ${path}: HTTP ${res.status}`;
    try {
      const j = (await res.json()) as { error?: { code?: string; message?: string } };
      code = j.error?.code ?? code;
      message = j.error?.message ?? message;
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(res.status, code, message);
  }
  return res;
}
const check = async <T,>(method: 'GET' | 'POST', id: string, name: string, signal?: AbortSignal): Promise<T> =>
  (await (await request(method, `/api/v1/messages/${enc(id)}/checks/${name}`, signal)).json()) as T;

/** The widths of the screenshot strip: a phone, a tablet, a desktop. */
export const STRIP = [['phone', 390], ['tablet', 768], ['desktop', 1280]] as const;

/** A check's state: not asked yet, running, answered, or failed with the server's words. */
type Run<T> = { kind: 'idle' } | { kind: 'running' } | { kind: 'done'; value: T } | { kind: 'failed'; message: string; status: number };

/** Runs `work` for message `id`, now when `auto`, else on `start()`; a new id forgets the old answer. */
function useCheck<T>(id: string, auto: boolean, work: (signal: AbortSignal) => Promise<T>): [Run<T>, () => void] {
  const [run, setRun] = useState<{ id: string; run: Run<T> }>({ id, run: { kind: 'idle' } });
  const [ask, setAsk] = useState<{ id: string; n: number }>({ id, n: auto ? 1 : 0 });
  useEffect(() => {
    setRun({ id, run: { kind: 'idle' } });
    setAsk({ id, n: auto ? 1 : 0 });
  }, [id]);
  useEffect(() => {
    if (ask.id !== id || ask.n === 0) return undefined;
    const ac = new AbortController();
    setRun({ id, run: { kind: 'running' } });
    work(ac.signal).then((value) => setRun({ id, run: { kind: 'done', value } }), (e: unknown) => {
      if (!ac.signal.aborted) setRun({ id, run: { kind: 'failed', message: errorText(e), status: e instanceof ApiError ? e.status : 0 } });
    });
    return () => ac.abort();
  }, [id, ask]);
  return [run.id === id ? run.run : { kind: 'idle' }, () => setAsk((a) => ({ id, n: a.n + 1 }))];
}

const percent = (x: number): string => `${Math.round(x * 100)}%`;
const grade = (x: number): 'good' | 'fair' | 'poor' => (x >= 0.9 ? 'good' : x >= 0.7 ? 'fair' : 'poor');

export function ChecksTab({ id, hasHtml }: { id: string; hasHtml: boolean }): JSX.Element {
  const [html] = useCheck<HtmlCheck>(id, hasHtml, (s) => check('GET', id, 'html', s));
  const [headers] = useCheck<HeaderCheck>(id, true, (s) => check('GET', id, 'headers', s));
  const [links, runLinks] = useCheck<LinkCheck>(id, false, (s) => check('POST', id, 'links', s));
  const [spam, runSpam] = useCheck<SpamCheck>(id, false, (s) => check('POST', id, 'spam', s));
  return (
    <div class="checks">
      <section class="check-section" aria-label="HTML compatibility">
        <h2>HTML compatibility</h2>
        {hasHtml ? <Result run={html} render={(r) => <HtmlReport r={r} />} /> : <p class="muted">This message has no HTML part.</p>}
      </section>
      <section class="check-section" aria-label="Headers">
        <h2>Headers</h2>
        <Result run={headers} render={(r) => <HeadersReport r={r} />} />
      </section>
      <section class="check-section" aria-label="Links">
        <h2>Links <RunButton run={links} onRun={runLinks} label="Check links" /></h2>
        <p class="muted small">Requests every link and image URL (HEAD, then GET), 2 at a time per host, within the server's outbound rules.</p>
        <Result run={links} render={(r) => <LinksReport r={r} />} />
      </section>
      <section class="check-section" aria-label="Spam score">
        <h2>Spam score <RunButton run={spam} onRun={runSpam} label="Check spam score" /></h2>
        <Result run={spam} render={(r) => <SpamReport r={r} />} />
      </section>
      <section class="check-section" aria-label="Screenshots">
        <h2>Screenshots</h2>
        {hasHtml ? <Strip id={id} /> : <p class="muted">This message has no HTML part.</p>}
      </section>
    </div>
  );
}

function RunButton<T>({ run, onRun, label }: { run: Run<T>; onRun: () => void; label: string }): JSX.Element {
  return (
    <button class="btn small" onClick={onRun} disabled={run.kind === 'running'}>
      {run.kind === 'running' ? 'Checking…' : run.kind === 'idle' ? label : 'Check again'}
    </button>
  );
}

function Result<T>({ run, render }: { run: Run<T>; render: (value: T) => JSX.Element }): JSX.Element | null {
  if (run.kind === 'idle') return null;
  if (run.kind === 'running') return <p class="muted check-running">Checking…</p>;
  if (run.kind === 'failed') return <p class={`check-error${run.status === 404 || run.status === 501 ? ' check-hint' : ''}`} role="alert">{run.message}</p>;
  return render(run.value);
}

function HtmlReport({ r }: { r: HtmlCheck }): JSX.Element {
  const [client, setClient] = useState<string | null>(null);
  const clients = [...r.clients].sort((a, b) => a.score - b.score || a.client.localeCompare(b.client));
  const chosen = r.clients.find((c) => c.client === client) ?? null;
  const shown = chosen === null ? r.features : r.features.filter((f) => (f.support[chosen.client]?.support ?? 'u') !== 'y');
  return (
    <div class="html-check">
      <p class="check-summary">
        <span class={`score ${grade(r.score)}`} aria-label="Overall score">{percent(r.score)}</span>
        {' '}overall, over {r.clients.length} clients and {r.features.length} features
        <span class="muted"> · caniemail data of {r.dataDate.slice(0, 10)}</span>
      </p>
      <table class="check-table clients" aria-label="Score per client">
        <thead><tr><th>Client</th><th>Score</th><th>Supported</th><th>Partial</th><th>Not supported</th><th>Unknown</th></tr></thead>
        <tbody>
          {clients.map((c) => (
            <tr key={c.client} class={c.client === client ? 'chosen' : ''}>
              <th scope="row">
                <button class="linklike" aria-pressed={c.client === client} title="Show the features it does not fully support"
                  onClick={() => setClient(c.client === client ? null : c.client)}>{c.name}</button>
              </th>
              <td><span class={`score ${grade(c.score)}`}>{percent(c.score)}</span><span class="bar"><span class={grade(c.score)} style={{ width: percent(c.score) }} /></span></td>
              <td>{c.supported}</td><td>{c.partial}</td><td>{c.unsupported}</td><td>{c.unknown}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>{chosen === null ? 'Features used' : `Not fully supported by ${chosen.name}`} <span class="muted">({shown.length})</span></h3>
      <ul class="features" aria-label="Features">
        {shown.map((f) => <FeatureItem key={f.slug} f={f} clients={r.clients} chosen={chosen?.client ?? null} />)}
      </ul>
      {r.remote.length > 0 && (
        <>
          <h3>Remote content <span class="muted">({r.remote.length}, never fetched by the check)</span></h3>
          <ul class="remote-list">{r.remote.slice(0, 50).map((u) => <li key={u}><code>{u}</code></li>)}</ul>
          {r.remote.length > 50 && <p class="muted">and {r.remote.length - 50} more</p>}
        </>
      )}
    </div>
  );
}

const SUPPORT_WORD: Record<Support, string> = { y: 'yes', a: 'partial', n: 'no', u: 'unknown' };

function FeatureItem({ f, clients, chosen }: { f: FoundFeature; clients: ClientScore[]; chosen: string | null }): JSX.Element {
  const counts = { y: 0, a: 0, n: 0, u: 0 };
  for (const c of clients) counts[f.support[c.client]?.support ?? 'u']++;
  const mine = chosen === null ? null : f.support[chosen] ?? null;
  return (
    <li class="feature" data-slug={f.slug}>
      <details>
        <summary>
          <a href={f.url} target="_blank" rel="noopener noreferrer">{f.title}</a>
          <span class="muted"> · {f.category} · {f.occurrences}×</span>
          {mine === null
            ? <span class="support-counts">{counts.n > 0 && <span class="pill bad">{counts.n} no</span>}{counts.a > 0 && <span class="pill partial">{counts.a} partial</span>}</span>
            : <span class={`pill support-${mine.support}`}>{SUPPORT_WORD[mine.support]}</span>}
        </summary>
        {mine?.note && <p class="note">{mine.note}</p>}
        <ul class="places">
          {f.places.map((p, i) => <li key={i}><span class="muted">line {p.line}</span> <code>{p.excerpt}</code></li>)}
        </ul>
        <table class="check-table support">
          <tbody>
            {clients.filter((c) => f.support[c.client] !== undefined && f.support[c.client]?.support !== 'y').map((c) => {
              const s = f.support[c.client] as FeatureSupport;
              return <tr key={c.client}><th scope="row">{c.name}</th><td><span class={`pill support-${s.support}`}>{SUPPORT_WORD[s.support]}</span></td><td class="muted">{s.note ?? ''}</td></tr>;
            })}
          </tbody>
        </table>
      </details>
    </li>
  );
}

function HeadersReport({ r }: { r: HeaderCheck }): JSX.Element {
  return (
    <>
      {r.findings.length === 0
        ? <p class="check-ok"><span class="pill ok">OK</span> Nothing a receiving server or a reader would trip over.</p>
        : (
          <ul class="findings" aria-label="Header findings">
            {r.findings.map((f, i) => (
              <li key={i} class={`finding ${f.severity}`} data-rule={f.rule}>
                <span class={`pill ${f.severity === 'error' ? 'bad' : 'warn'}`}>{f.severity}</span>
                {f.header && <code>{f.header}</code>}<span class="finding-text">{f.message}</span>
              </li>
            ))}
          </ul>
        )}
      {r.dkim.map((d, i) => (
        <p key={i} class="dkim">
          DKIM <code>d={d.domain} s={d.selector}</code> body hash: {d.ok ? <span class="pill ok">matches</span> : <span class="pill bad">{d.reason ?? 'does not match'}</span>}
        </p>
      ))}
    </>
  );
}

function LinksReport({ r }: { r: LinkCheck }): JSX.Element {
  if (r.links.length === 0) return <p class="muted">The message has no links or images to check.</p>;
  return (
    <>
      <p class="check-summary">{r.links.length} checked, {r.errors === 0 ? <span class="pill ok">all answered</span> : <span class="pill bad">{r.errors} failed</span>}</p>
      <table class="check-table links" aria-label="Link results">
        <thead><tr><th>Status</th><th>URL</th><th>Kind</th><th>Time</th></tr></thead>
        <tbody>
          {r.links.map((l) => (
            <tr key={l.url} class={l.ok ? 'ok' : 'failed'}>
              <td><span class={`pill ${l.ok ? 'ok' : 'bad'}`}>{l.status ?? 'failed'}</span></td>
              <td class="url">
                <a href={l.url} target="_blank" rel="noopener noreferrer">{l.url}</a>
                {l.redirects > 0 && <div class="muted small">→ {l.finalUrl} ({l.redirects} redirect{l.redirects === 1 ? '' : 's'})</div>}
                {l.error && <div class="bad-text small">{l.error}</div>}
              </td>
              <td>{l.kind}</td>
              <td class="num">{Math.round(l.ms)} ms</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function SpamReport({ r }: { r: SpamCheck }): JSX.Element {
  return (
    <>
      <p class="check-summary">
        <span class={`score ${r.spam ? 'poor' : 'good'}`} aria-label="Spam score">{r.score.toFixed(1)}</span> / {r.threshold.toFixed(1)}
        {' '}<span class={`pill ${r.spam ? 'bad' : 'ok'}`}>{r.spam ? 'spam' : 'not spam'}</span>
        <span class="muted"> · {r.checker === 'rspamd' ? `rspamd${r.action ? `, action ${r.action}` : ''}` : 'SpamAssassin'}</span>
      </p>
      {r.rules.length > 0 && (
        <table class="check-table rules" aria-label="Spam rules">
          <thead><tr><th>Score</th><th>Rule</th><th>Description</th></tr></thead>
          <tbody>
            {[...r.rules].sort((a, b) => b.score - a.score).map((rule) => (
              <tr key={rule.name}><td class="num">{rule.score.toFixed(1)}</td><td><code>{rule.name}</code></td><td>{rule.description}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The HTML rendered by the server's Chromium at a phone's, a tablet's and a desktop's width, side by side. */
function Strip({ id }: { id: string }): JSX.Element {
  const [ask, setAsk] = useState<{ id: string; n: number } | null>(null);
  useEffect(() => setAsk(null), [id]);
  const current = ask?.id === id ? ask : null;
  return (
    <>
      <p>
        <button class="btn small" onClick={() => setAsk({ id, n: (current?.n ?? 0) + 1 })}>{current === null ? 'Render screenshots' : 'Render again'}</button>
        {' '}<span class="muted small">Headless Chromium on the server, JavaScript off, remote content blocked.</span>
      </p>
      {current !== null && (
        <div class="strip" aria-label="Screenshot strip">
          {STRIP.map(([name, width]) => <Shot key={`${id}-${width}-${current.n}`} id={id} name={name} width={width} n={current.n} />)}
        </div>
      )}
    </>
  );
}

/**
 * One screenshot, as an image of its URL (same origin, so the route's cross-site refusal lets it through; the UI's CSP
 * allows no blob: images). When it fails, the route is asked once more for its words (a 501 names what to install).
 */
function Shot({ id, name, width, n }: { id: string; name: 'phone' | 'tablet' | 'desktop'; width: number; n: number }): JSX.Element {
  const url = `/api/v1/messages/${enc(id)}/screenshot?width=${width}&format=png&n=${n}`;
  const [state, setState] = useState<'loading' | 'done' | { failed: string }>('loading');
  const failed = (): void => {
    request('GET', url).then(() => setState({ failed: 'the screenshot could not be shown' }), (e: unknown) => setState({ failed: errorText(e) }));
  };
  return (
    <figure class={`shot ${name}`} data-width={width} data-state={typeof state === 'string' ? state : 'failed'}>
      <figcaption><Icon name={name} size={14} /> {name} · {width} px</figcaption>
      {state === 'loading' && <div class="shot-wait muted">Rendering…</div>}
      {typeof state === 'object'
        ? <p class="check-error" role="alert">{state.failed}</p>
        : <a href={url} target="_blank" rel="noopener"><img src={url} alt={`The message at ${width} px`} onLoad={() => setState('done')} onError={failed} /></a>}
    </figure>
  );
}
