/**
 * A webhook as the API takes it (POST whole, PATCH in part): every field checked, each refusal one line naming the
 * field and what it takes. The URL's host is checked by the outbound guard at creation, so a refused address is a 400
 * then rather than a failed delivery later.
 */
import { parseQuery } from '../store/index.js';
import type { WebhookEventName, WebhookPayloadKind } from '../store/index.js';
import { parseSecret } from './signature.js';

export const WEBHOOK_EVENTS: readonly WebhookEventName[] = ['message-stored', 'message-deleted', 'session-ended', 'relay-finished'];
export const PAYLOAD_KINDS: readonly WebhookPayloadKind[] = ['summary', 'message', 'raw'];

export type WebhookFields = Readonly<{ url: string; events: readonly WebhookEventName[]; query: string; payload: WebhookPayloadKind; secret?: string }>;

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks a POST body (`partial` false: url required, the rest defaulted) or a PATCH body (only what it names). */
export function checkWebhookFields(body: unknown, partial: boolean): Checked<Partial<WebhookFields>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: 'body must be a JSON object: {"url": "http://…", "events": ["message-stored"], "query": "", "payload": "summary", "secret": "whsec_…"}' };
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!['url', 'events', 'query', 'payload', 'secret'].includes(key)) return { ok: false, error: `unknown field "${key}": a webhook has url, events, query, payload and secret` };
  }
  const out: { -readonly [K in keyof WebhookFields]?: WebhookFields[K] } = {};
  if (b.url !== undefined || !partial) {
    if (typeof b.url !== 'string') return { ok: false, error: '"url" must be an http:// or https:// URL' };
    let u: URL;
    try {
      u = new URL(b.url);
    } catch {
      return { ok: false, error: `"url" is not a URL: ${b.url.slice(0, 200)}` };
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return { ok: false, error: `"url" must be http:// or https://, not ${u.protocol}` };
    if (u.username !== '' || u.password !== '') return { ok: false, error: '"url" must not hold a user name or password (they would not be sent)' };
    out.url = u.href;
  }
  if (b.events !== undefined) {
    if (!Array.isArray(b.events) || b.events.length === 0) return { ok: false, error: `"events" must be a non-empty list of: ${WEBHOOK_EVENTS.join(', ')}` };
    for (const e of b.events) {
      if (typeof e !== 'string' || !(WEBHOOK_EVENTS as readonly string[]).includes(e)) {
        return { ok: false, error: `"events": unknown event ${JSON.stringify(e)}; the events are ${WEBHOOK_EVENTS.join(', ')}` };
      }
    }
    out.events = [...new Set(b.events as WebhookEventName[])];
  } else if (!partial) out.events = WEBHOOK_EVENTS;
  if (b.query !== undefined) {
    if (typeof b.query !== 'string') return { ok: false, error: '"query" must be a string in the search syntax ("" for every message)' };
    try {
      parseQuery(b.query);
    } catch (e) {
      return { ok: false, error: `"query": ${e instanceof Error ? e.message : String(e)}` };
    }
    out.query = b.query;
  } else if (!partial) out.query = '';
  if (b.payload !== undefined) {
    if (typeof b.payload !== 'string' || !(PAYLOAD_KINDS as readonly string[]).includes(b.payload)) {
      return { ok: false, error: `"payload" must be one of ${PAYLOAD_KINDS.join(', ')}` };
    }
    out.payload = b.payload as WebhookPayloadKind;
  } else if (!partial) out.payload = 'summary';
  if (b.secret !== undefined) {
    if (typeof b.secret !== 'string') return { ok: false, error: '"secret" must be a string whsec_<base64>' };
    const s = parseSecret(b.secret);
    if (!s.ok) return { ok: false, error: `"secret": ${s.reason}` };
    out.secret = b.secret;
  }
  return { ok: true, value: out };
}
