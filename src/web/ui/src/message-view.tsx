/** One message, in tabs: the HTML preview, the text, the headers, the raw source, the envelope, the attachments. */
import { Fragment, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, attachmentUrl, errorText, htmlUrl, rawUrl, type MessageDetail } from './api.js';
import { exactTime, linkify, mailboxFull, size } from './format.js';
import { Icon } from './icons.js';
import { ChecksTab } from './checks-tab.js';

export type Tab = 'html' | 'text' | 'headers' | 'raw' | 'envelope' | 'attachments' | 'checks';
type Width = 'phone' | 'tablet' | 'desktop';
const WIDTHS: Record<Width, string> = { phone: '375px', tablet: '768px', desktop: '100%' };

type Props = {
  message: MessageDetail;
  tab: Tab | null;
  onTab(t: Tab): void;
  onBack(): void;
  onDelete(): void;
  onToggleRead(): void;
};

export const defaultTab = (m: MessageDetail): Tab => (m.html ? 'html' : 'text');

export function MessageView({ message: m, tab, onTab, onBack, onDelete, onToggleRead }: Props): JSX.Element {
  const active = tab ?? defaultTab(m);
  const tabs: [Tab, string][] = [
    ['html', 'HTML'], ['text', 'Text'], ['headers', 'Headers'], ['raw', 'Raw'], ['envelope', 'Envelope'],
    ['attachments', `Attachments${m.attachments.length ? ` (${m.attachments.length})` : ''}`], ['checks', 'Checks'],
  ];
  const fileBase = (m.subject || 'message').replace(/[^\w .-]+/g, '_').slice(0, 80).trim() || 'message';

  return (
    <article class="view" aria-label="Message">
      <header class="view-head">
        <div class="view-actions">
          <button class="btn ghost back" onClick={onBack} title="Back to the list (Esc)" aria-label="Back"><Icon name="back" /></button>
          <div class="spacer" />
          <button class="btn ghost" onClick={onToggleRead} title={m.read ? 'Mark unread (u)' : 'Mark read (u)'}>
            <Icon name={m.read ? 'mail' : 'mailOpen'} /> <span class="lbl">{m.read ? 'Mark unread' : 'Mark read'}</span>
          </button>
          <a class="btn ghost" href={rawUrl(m.id)} download={`${fileBase}.eml`} title="Download as .eml">
            <Icon name="download" /> <span class="lbl">.eml</span>
          </a>
          <button class="btn ghost danger" onClick={onDelete} title="Delete (Delete)"><Icon name="trash" /> <span class="lbl">Delete</span></button>
        </div>
        <h1 class="view-subject" dir="auto">{m.subject || '(no subject)'}</h1>
        <dl class="view-meta">
          <dt>From</dt><dd>{m.from ? mailboxFull(m.from) : m.envelope.from || '—'}</dd>
          <dt>To</dt><dd>{m.to.length ? m.to.map(mailboxFull).join(', ') : m.envelope.to.join(', ')}</dd>
          {m.cc.length > 0 && <><dt>Cc</dt><dd>{m.cc.map(mailboxFull).join(', ')}</dd></>}
          {m.date && <><dt>Date</dt><dd><time dateTime={m.date}>{exactTime(m.date)}</time></dd></>}
          <dt>Received</dt><dd><time dateTime={m.receivedAt}>{exactTime(m.receivedAt)}</time> · {size(m.size)}</dd>
        </dl>
        {m.indexLimited && (
          <p class="index-note" role="note">Indexed from its headers only: its body was too costly to parse, so search does not see it. The raw message is kept whole.</p>
        )}
        <Found m={m} />
        <nav class="tabs" role="tablist">
          {tabs.map(([t, label]) => (
            <button key={t} role="tab" aria-selected={t === active} class={`tab${t === active ? ' active' : ''}`} onClick={() => onTab(t)}
              disabled={t === 'html' && !m.html}>{label}</button>
          ))}
        </nav>
      </header>
      <div class="view-body">
        {active === 'html' && <HtmlTab m={m} />}
        {active === 'text' && (m.text ? <TextBody text={m.text} />
          : <p class="empty">{m.html ? 'This message has no plain-text part.' : '(empty body)'}</p>)}
        {active === 'headers' && <HeadersTab m={m} />}
        {active === 'raw' && <RawTab m={m} fileBase={fileBase} />}
        {active === 'envelope' && <EnvelopeTab m={m} />}
        {active === 'attachments' && <AttachmentsTab m={m} />}
        {active === 'checks' && <ChecksTab id={m.id} hasHtml={m.html !== ''} />}
      </div>
    </article>
  );
}

/** The plain text with its http(s) URLs as links (new tab, no referrer), right-to-left text read right. */
function TextBody({ text }: { text: string }): JSX.Element {
  return (
    <pre class="text-body" dir="auto">
      {linkify(text).map((part, i) => ('url' in part
        ? <a key={i} href={part.url} target="_blank" rel="noopener noreferrer">{part.url}</a>
        : <Fragment key={i}>{part.text}</Fragment>))}
    </pre>
  );
}

/** Copies `text`; says so on the button for a moment. */
function CopyButton({ text, label }: { text: string; label: string }): JSX.Element {
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (!done) return undefined;
    const t = setTimeout(() => setDone(false), 1500);
    return () => clearTimeout(t);
  }, [done]);
  return (
    <button class="btn ghost small copy" aria-label={label} title={label}
      onClick={() => void navigator.clipboard.writeText(text).then(() => setDone(true), () => setDone(false))}>
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

/** The one-time codes and the links found in the message (the API's `codes` and `links`), each with a copy button. */
function Found({ m }: { m: MessageDetail }): JSX.Element | null {
  const codes = m.codes ?? [];
  const links = m.links ?? [];
  if (codes.length === 0 && links.length === 0) return null;
  return (
    <div class="found-all">
      {codes.length > 0 && (
        <div class="found codes" aria-label="One-time codes">
          <span class="found-lbl">Codes</span>
          {codes.map((c) => <span key={c} class="chip"><code>{c}</code><CopyButton text={c} label={`Copy code ${c}`} /></span>)}
        </div>
      )}
      {links.length > 0 && (
        <div class="found links" aria-label="Links">
          <span class="found-lbl">Links</span>
          {links.slice(0, 20).map((l) => (
            <span key={l} class="chip">
              <a href={l} target="_blank" rel="noopener noreferrer" title={l}>{l}</a><CopyButton text={l} label={`Copy link ${l}`} />
            </span>
          ))}
          {links.length > 20 && <span class="muted">and {links.length - 20} more</span>}
        </div>
      )}
    </div>
  );
}

function HtmlTab({ m }: { m: MessageDetail }): JSX.Element {
  const [width, setWidth] = useState<Width>(() => (window.matchMedia('(max-width: 600px)').matches ? 'phone' : 'desktop')); // a phone previews at phone width
  const [remote, setRemote] = useState(false);
  useEffect(() => setRemote(false), [m.id]);
  if (!m.html) return <p class="empty">This message has no HTML part.</p>;
  const blocked = !remote && m.remoteContent;
  return (
    <div class="html-tab">
      <div class="html-bar">
        <div class="seg" role="group" aria-label="Preview width">
          {(['phone', 'tablet', 'desktop'] as const).map((w) => (
            <button key={w} class={`seg-btn${w === width ? ' active' : ''}`} aria-pressed={w === width} title={`${w} width`} onClick={() => setWidth(w)}>
              <Icon name={w} /> <span class="lbl">{w[0]?.toUpperCase() + w.slice(1)}</span>
            </button>
          ))}
        </div>
        {blocked && (
          <div class="remote-note">
            <Icon name="image" /> Remote images blocked
            <button class="btn small" onClick={() => setRemote(true)}>Load remote images</button>
          </div>
        )}
      </div>
      <div class={`frame-wrap ${width}`}>
        <iframe key={`${m.id}-${remote}`} title="HTML preview" class="html-frame" style={{ width: WIDTHS[width] }}
          src={htmlUrl(m.id, remote)} sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" />
      </div>
    </div>
  );
}

function HeadersTab({ m }: { m: MessageDetail }): JSX.Element {
  return (
    <table class="headers-table">
      <tbody>
        {m.headers.map((h, i) => (
          <tr key={i}><th scope="row">{h.name}</th><td>{h.value}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

function RawTab({ m, fileBase }: { m: MessageDetail; fileBase: string }): JSX.Element {
  const [raw, setRaw] = useState<{ id: string; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const ac = new AbortController();
    setError(null);
    api.raw(m.id, ac.signal).then((text) => setRaw({ id: m.id, text }), (e: unknown) => {
      if (!ac.signal.aborted) setError(errorText(e));
    });
    return () => ac.abort();
  }, [m.id]);
  return (
    <div class="raw-tab">
      <div class="raw-bar">
        <span class="muted">{size(m.size)}, exactly as received</span>
        <a class="btn small" href={rawUrl(m.id)} download={`${fileBase}.eml`}><Icon name="download" /> Download .eml</a>
      </div>
      {error ? <p class="inline-error">{error}</p> : <pre class="raw-body">{raw?.id === m.id ? raw.text : 'Loading…'}</pre>}
    </div>
  );
}

function EnvelopeTab({ m }: { m: MessageDetail }): JSX.Element {
  const c = m.connection;
  return (
    <dl class="envelope">
      <dt>HELO</dt><dd><code>{m.envelope.helo || '—'}</code></dd>
      <dt>MAIL FROM</dt><dd><code>&lt;{m.envelope.from}&gt;</code></dd>
      {m.envelope.to.map((r, i) => (
        <Fragment key={i}><dt>{i === 0 ? 'RCPT TO' : ''}</dt><dd><code>&lt;{r}&gt;</code></dd></Fragment>
      ))}
      <dt>Client</dt><dd><code>{c.clientAddress}:{c.clientPort}</code></dd>
      <dt>Server</dt><dd><code>{c.serverAddress}:{c.serverPort}</code> · {c.dialect === 'simplified' ? 'simplified SMTP' : 'SMTP'}</dd>
      <dt>TLS</dt><dd>{c.tls ? <span class="pill ok"><Icon name="lock" size={12} /> TLS</span> : <span class="pill">none</span>}</dd>
      <dt>AUTH</dt><dd>{c.authUser ? <code>{c.authUser}</code> : <span class="pill">none</span>}</dd>
      <dt>Received</dt><dd>{exactTime(m.receivedAt)}</dd>
      {m.messageId && <><dt>Message-ID</dt><dd><code>{m.messageId}</code></dd></>}
    </dl>
  );
}

function AttachmentsTab({ m }: { m: MessageDetail }): JSX.Element {
  if (m.attachments.length === 0) return <p class="empty">No attachments.</p>;
  return (
    <ul class="attachments">
      {m.attachments.map((a) => {
        const url = attachmentUrl(m.id, a.index);
        const name = a.filename || `attachment-${a.index}`;
        const image = a.contentType.startsWith('image/') && a.contentType !== 'image/svg+xml';
        return (
          <li key={a.index} class="attachment">
            <div class="att-thumb">{image ? <img src={url} alt={name} loading="lazy" /> : <Icon name="file" size={28} />}</div>
            <div class="att-info">
              <div class="att-name" title={name}>{name}</div>
              <div class="muted">{a.contentType} · {size(a.size)}{a.disposition === 'inline' ? ' · inline' : ''}{a.contentId ? ` · cid:${a.contentId.replace(/^<|>$/g, '')}` : ''}</div>
            </div>
            {a.contentType.toLowerCase() === 'application/pdf' && (
              <a class="btn small att-open" href={url} target="_blank" rel="noopener noreferrer" title={`Open ${name} in a new tab`}><Icon name="file" /> Open</a>
            )}
            <a class="btn small" href={url} download={name}><Icon name="download" /> Download</a>
          </li>
        );
      })}
    </ul>
  );
}
