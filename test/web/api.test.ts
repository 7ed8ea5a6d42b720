import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createEvents } from '../../src/events.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore } from '../../src/store/open.js';
import type { MessageSummary } from '../../src/store/types.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { startHttpServer } from '../../src/web/server.js';
import { OPENAPI } from '../../src/web/openapi.js';
import { CONN, MULTIPART, PDF_BYTES, PNG_BYTES, SIMPLE, UTF8_TEXT, crlf, incoming, saveIndexed, tempDir } from '../helpers/mail.js';
import { waitFor } from '../helpers/wait.js';

const BASE = 'http://mailwire.test';
const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * A temp SQLite store holding SIMPLE, MULTIPART and UTF8_TEXT (in that order), the app over it, and counters of who
 * listens for newly indexed messages (a waiting long-poll holds one) and of the nextMatch queries answered.
 */
async function openFixture(metrics = createMetrics({ processMetrics: false })) {
  const dir = tempDir();
  const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
  const events = createEvents();
  const counts = { indexListeners: 0, matchesAnswered: 0 };
  // The store as the app sees it, counting who listens for newly indexed messages.
  const counted = new Proxy(store, {
    get(target, key) {
      if (key === 'onIndexed') {
        return (listener: (m: MessageSummary) => void) => {
          counts.indexListeners++;
          const off = target.onIndexed(listener);
          return () => {
            counts.indexListeners--;
            off();
          };
        };
      }
      if (key === 'nextMatch') {
        return async (query: string, after: string | null) => {
          const r = await target.nextMatch(query, after);
          counts.matchesAnswered++;
          return r;
        };
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const app: WebApp = createWebApp({ store: counted, events, metrics });
  const call = (path: string, init?: RequestInit): Promise<Response> => app.fetch(new Request(BASE + path, init));
  /** Saves as the server does, and waits until the message is searchable (the store announces it then). */
  const deliver = (raw: Buffer, to = ['bob@b.test']): Promise<string> => saveIndexed(store, incoming(raw, { to }));
  const ids = { simple: await deliver(SIMPLE), multi: await deliver(MULTIPART), utf8: await deliver(UTF8_TEXT) };
  return {
    store, events, counts, ids, call, deliver,
    json: async (path: string, init?: RequestInit): Promise<[number, unknown]> => {
      const r = await call(path, init);
      return [r.status, await r.json()];
    },
    async close(): Promise<void> {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
type Fixture = Awaited<ReturnType<typeof openFixture>>;

/** A fixture of its own for a test that changes what is stored, so that no test depends on another's order. */
async function withOwnFixture(run: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await openFixture();
  try {
    await run(f);
  } finally {
    await f.close();
  }
}

/**
 * Lets pending handlers run until `cond` holds, for at most 10 s: the store answers from its reader thread, which
 * yields to other work (nice 10), so a fixed number of event-loop turns was not always enough on a busy machine.
 */
const settle = async (cond: () => boolean, what = 'the condition'): Promise<void> => {
  await waitFor(what, cond, { everyMs: 1 });
};

/** SIMPLE as the list shows it, every field written out from what deliver() sent (only the id is the store's). */
const simpleSummary = (id: string): Record<string, unknown> => ({
  id, receivedAt: '2024-05-01T10:00:00.000Z', size: SIMPLE.byteLength, read: false,
  from: { name: 'Ann Example', address: 'ann@a.test' }, to: [{ name: 'Bob', address: 'bob@b.test' }], cc: [], subject: 'Lunch plans',
  date: '2024-05-01T09:59:00.000Z', messageId: '<lunch-1@a.test>', attachmentCount: 0,
  snippet: 'Shall we meet at noon? .leading dot kept Your code is 482913.', indexLimited: false,
  envelope: { helo: 'client.test', from: 'ann@a.test', to: ['bob@b.test'] },
});

// Tests that only read share one fixture; each test that stores, deletes or marks something opens its own.
describe('web API over a temp SQLite store', () => {
  const metrics = createMetrics({ processMetrics: false, storeHealth: () => shared.store.health() });
  let shared: Fixture;
  const ids = { simple: '', multi: '', utf8: '' };
  const call = (path: string, init?: RequestInit): Promise<Response> => shared.call(path, init);
  const json = (path: string, init?: RequestInit): Promise<[number, unknown]> => shared.json(path, init);

  before(async () => {
    shared = await openFixture(metrics);
    Object.assign(ids, shared.ids);
  });
  after(async () => {
    await shared.close();
  });

  it('lists newest first and pages with nextCursor', async () => {
    const [s1, p1] = await json('/api/v1/messages?limit=2') as [number, { messages: { id: string }[]; nextCursor: string }];
    assert.equal(s1, 200);
    assert.deepEqual(p1.messages.map((m) => m.id), [ids.utf8, ids.multi]);
    const [, p2] = await json(`/api/v1/messages?limit=2&cursor=${encodeURIComponent(p1.nextCursor)}`) as [number, { messages: { id: string }[]; nextCursor: null }];
    assert.deepEqual(p2, { messages: [simpleSummary(ids.simple)], nextCursor: null });
  });

  it('gets one message as exact JSON', async () => {
    const [status, body] = await json(`/api/v1/messages/${ids.simple}`);
    assert.equal(status, 200);
    assert.deepEqual(body, {
      ...simpleSummary(ids.simple), connection: CONN,
      headers: [
        { name: 'From', value: 'Ann Example <ann@a.test>' }, { name: 'To', value: 'Bob <bob@b.test>' }, { name: 'Subject', value: 'Lunch plans' },
        { name: 'Date', value: 'Wed, 01 May 2024 09:59:00 +0000' }, { name: 'Message-ID', value: '<lunch-1@a.test>' },
      ],
      text: 'Shall we meet at noon?\n.leading dot kept\nYour code is 482913.\n', html: '', attachments: [], remoteContent: false,
      links: [], codes: ['482913'],
    });
  });

  it('names the links and one-time codes found in a message', async () => {
    const [status, body] = await json(`/api/v1/messages/${ids.multi}`) as [number, { links: string[]; codes: string[] }];
    assert.equal(status, 200);
    assert.deepEqual([body.links, body.codes], [['https://example.test/r?id=7'], ['5531']]);
  });

  it('serves the raw message as message/rfc822, byte for byte', async () => {
    const r = await call(`/api/v1/messages/${ids.multi}/raw`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'message/rfc822');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), MULTIPART);
  });

  it('serves attachments with nosniff and sandboxed; images and PDFs inline, the rest as attachment', async () => {
    const pdf = await call(`/api/v1/messages/${ids.multi}/attachments/0`);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers.get('content-type'), 'application/pdf');
    assert.equal(pdf.headers.get('content-disposition'), `inline; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    assert.equal(pdf.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(pdf.headers.get('content-security-policy'), 'sandbox');
    assert.equal(pdf.headers.get('cross-origin-resource-policy'), 'same-origin');
    assert.deepEqual(Buffer.from(await pdf.arrayBuffer()), PDF_BYTES);
    const png = await call(`/api/v1/messages/${ids.multi}/attachments/1`);
    assert.equal(png.headers.get('content-disposition'), `inline; filename="logo.png"; filename*=UTF-8''logo.png`);
    assert.equal(png.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(png.headers.get('content-security-policy'), 'sandbox');
    assert.deepEqual(Buffer.from(await png.arrayBuffer()), PNG_BYTES);
  });

  it('keeps every other type a sandboxed download: SVG, HTML, a PDF named otherwise', () => withOwnFixture(async ({ call, deliver }) => {
    const part = (type: string, name: string, body: string): string[] => [
      '--b', `Content-Type: ${type}`, `Content-Disposition: attachment; filename="${name}"`, 'Content-Transfer-Encoding: base64', '',
      Buffer.from(body).toString('base64'),
    ];
    const id = await deliver(crlf([
      'From: a@a.test', 'To: b@b.test', 'Subject: types', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
      '--b', 'Content-Type: text/plain', '', 'see attached',
      ...part('image/svg+xml', 'x.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
      ...part('text/html', 'x.html', '<script>alert(1)</script>'),
      ...part('application/x-pdf', 'x.pdf', '%PDF-1.4'),
      ...part('application/octet-stream', 'y.pdf', '%PDF-1.4'), '--b--',
    ]));
    for (const [n, type, name] of [[0, 'image/svg+xml', 'x.svg'], [1, 'text/html', 'x.html'], [2, 'application/x-pdf', 'x.pdf'], [3, 'application/octet-stream', 'y.pdf']] as const) {
      const r = await call(`/api/v1/messages/${id}/attachments/${n}`);
      assert.equal(r.headers.get('content-type'), type);
      assert.equal(r.headers.get('content-disposition'), `attachment; filename="${name}"; filename*=UTF-8''${name}`, type);
      assert.equal(r.headers.get('content-security-policy'), 'sandbox', type);
    }
  }));

  it('serves HTML sandboxed and without scripts', async () => {
    const r = await call(`/api/v1/messages/${ids.multi}/html`);
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /^sandbox allow-popups allow-popups-to-escape-sandbox;/);
    assert.doesNotMatch(csp, /allow-scripts|allow-same-origin/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await r.text(), '<base target="_blank"><p>See <a href="https://example.test/r?id=7">the report</a></p>\n');
  });

  it('sets and clears the read flag with PATCH, and filters on it', () => withOwnFixture(async ({ ids, json }) => {
    assert.deepEqual(await json(`/api/v1/messages/${ids.utf8}`, { method: 'PATCH', body: '{"read":true}', headers: { 'content-type': 'application/json' } }), [200, { id: ids.utf8, read: true }]);
    const [, page] = await json('/api/v1/messages?query=is:read') as [number, { messages: { id: string; read: boolean }[] }];
    assert.deepEqual(page.messages.map((m) => [m.id, m.read]), [[ids.utf8, true]]);
    assert.deepEqual(await json(`/api/v1/messages/${ids.utf8}`, { method: 'PATCH', body: '{"read":false}', headers: JSON_TYPE }), [200, { id: ids.utf8, read: false }]);
    assert.deepEqual(await json(`/api/v1/messages/${ids.utf8}`, { method: 'PATCH', body: '{"read":"yes"}', headers: JSON_TYPE }),
      [400, { error: { code: 'bad_request', message: 'body must be {"read": true|false}' } }]);
    assert.deepEqual(await json(`/api/v1/messages/${ids.utf8}`, { method: 'PATCH', body: 'nope', headers: JSON_TYPE }),
      [400, { error: { code: 'bad_request', message: 'body must be JSON: {"read": true|false}' } }]);
  }));

  it('answers 404 for any unknown id, whatever its form', async () => {
    const notFound = { error: { code: 'not_found', message: 'no such message' } };
    for (const id of ['nope', '00000000-0000-0000-0000-000000000000', "'%20OR%201=1--", '%E2%98%83', 'x'.repeat(300)]) {
      assert.deepEqual(await json(`/api/v1/messages/${id}`), [404, notFound], id);
      assert.deepEqual(await json(`/api/v1/messages/${id}/raw`), [404, notFound], id);
      assert.deepEqual(await json(`/api/v1/messages/${id}/html`), [404, notFound], id);
      assert.deepEqual(await json(`/api/v1/messages/${id}`, { method: 'DELETE' }), [404, notFound], id);
      assert.deepEqual(await json(`/api/v1/messages/${id}`, { method: 'PATCH', body: '{"read":true}', headers: JSON_TYPE }), [404, notFound], id);
      assert.deepEqual(await json(`/api/v1/sessions/${id}`), [404, { error: { code: 'not_found', message: 'no such session' } }], id);
    }
    const noAttachment = { error: { code: 'not_found', message: 'no such attachment' } };
    assert.deepEqual(await json(`/api/v1/messages/${ids.multi}/attachments/9`), [404, noAttachment]);
    assert.deepEqual(await json(`/api/v1/messages/${ids.multi}/attachments/-1`), [404, noAttachment]);
    assert.deepEqual(await json(`/api/v1/messages/${ids.multi}/attachments/x`), [404, noAttachment]);
    assert.deepEqual(await json(`/api/v1/messages/${ids.simple}/html`), [404, { error: { code: 'not_found', message: 'message has no HTML part' } }]);
    assert.deepEqual(await json('/api/v2/nothing'), [404, { error: { code: 'not_found', message: 'no route for GET /api/v2/nothing' } }]);
  });

  it('answers 400 with the reason for malformed queries and parameters', async () => {
    assert.deepEqual(await json('/api/v1/messages?query=from:%22open'), [400, { error: { code: 'bad_query', message: 'unterminated quote' } }]);
    assert.deepEqual(await json('/api/v1/messages?query=is:maybe'), [400, { error: { code: 'bad_query', message: 'is: knows only "read" and "unread", not "maybe"' } }]);
    assert.deepEqual(await json('/api/v1/messages?cursor=zzz!'), [400, { error: { code: 'bad_cursor', message: 'malformed cursor' } }]);
    assert.deepEqual(await json('/api/v1/sessions?cursor=bTE'), [400, { error: { code: 'bad_cursor', message: 'malformed cursor' } }]);
    for (const limit of ['0', '1001', 'ten', '-1', '2.5']) {
      assert.deepEqual(await json(`/api/v1/messages?limit=${limit}`), [400, { error: { code: 'bad_request', message: 'limit must be an integer from 1 to 1000' } }]);
    }
    assert.deepEqual(await json('/api/v1/messages/wait?timeout=301'), [400, { error: { code: 'bad_request', message: 'timeout must be a number of seconds from 0 to 300' } }]);
    assert.deepEqual(await json('/api/v1/messages/wait?query=before:soon&timeout=0'), [400, { error: { code: 'bad_query', message: 'before: wants a date like 2024-05-31 or 2024-05-31T12:00:00Z, not "soon"' } }]);
    assert.deepEqual(await json('/api/v1/messages?query=-%20%22%40%22%20a%3Ab'), [200, { messages: [], nextCursor: null }]);
  });

  it('wait: returns at once a message that arrived before, with its links and codes', async () => {
    const [status, body] = await json('/api/v1/messages/wait?query=to:bob@b.test%20has:attachment&timeout=5') as [number, { message: { id: string }; links: string[]; codes: string[]; cursor: string }];
    assert.equal(status, 200);
    assert.equal(body.message.id, ids.multi);
    assert.deepEqual(body.links, ['https://example.test/r?id=7']);
    assert.deepEqual(body.codes, ['5531']);
    const [, simple] = await json('/api/v1/messages/wait?query=subject:lunch&timeout=0') as [number, { codes: string[]; links: string[] }];
    assert.deepEqual([simple.codes, simple.links], [['482913'], []]);
  });

  it('wait: holds until a matching message is stored after the cursor', () => withOwnFixture(async ({ ids, json, deliver, counts }) => {
    const [, first] = await json('/api/v1/messages/wait?timeout=0') as [number, { cursor: string; message: { id: string } }];
    assert.equal(first.message.id, ids.utf8); // the newest
    const listeners = counts.indexListeners;
    const answered = counts.matchesAnswered;
    const pending = json(`/api/v1/messages/wait?query=subject:signup&timeout=30&after=${encodeURIComponent(first.cursor)}`);
    // Listening, and its first look found nothing: from here only a newly indexed message can answer it.
    await settle(() => counts.indexListeners > listeners && counts.matchesAnswered > answered);
    await deliver(crlf(['Subject: other', '', 'not this one']));
    assert.equal(counts.matchesAnswered, answered + 1, 'a message the summary rules out costs no store query');
    const id = await deliver(crlf(['Subject: Your signup', 'Content-Type: text/html', '', '<a href="https://app.test/verify?t=abc&amp;u=1">Verify</a> code <b>0042137</b>']));
    // Woken by the newly indexed message (not by its own timeout, 30 s): one more look, which finds it.
    await settle(() => counts.matchesAnswered >= answered + 2, 'the waiting request to be woken by the new message');
    assert.equal(counts.matchesAnswered, answered + 2);
    const [status, body] = await pending as [number, { message: { id: string }; links: string[]; codes: string[] }];
    assert.equal(status, 200);
    assert.equal(body.message.id, id);
    assert.deepEqual(body.links, ['https://app.test/verify?t=abc&u=1']);
    assert.deepEqual(body.codes, ['0042137']);
    assert.equal(counts.indexListeners, listeners);
  }));

  it('wait: answers 408 when nothing matches in time', async () => {
    assert.deepEqual(await json('/api/v1/messages/wait?query=subject:never&timeout=0'),
      [408, { error: { code: 'timeout', message: 'no matching message within 0 s' } }]);
  });

  it('streams events as SSE', async () => {
    const controller = new AbortController();
    const r = await call('/api/v1/events', { signal: controller.signal });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    shared.events.emit('session-ended', { id: 'sess-1' });
    let text = '';
    for (let i = 0; i < 10 && !text.includes('\n\nevent:') && !/event:[^\n]*\ndata:[^\n]*\n\n/.test(text); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.equal(text, ': connected\nretry: 2000\n\nevent: session-ended\ndata: {"id":"sess-1"}\n\n');
    controller.abort();
    await reader.cancel();
  });

  it('deletes one message and announces it', () => withOwnFixture(async ({ call, deliver, events }) => {
    const id = await deliver(crlf(['Subject: delete me', '', 'x']));
    const seen: string[] = [];
    const off = events.on('message-deleted', (e) => seen.push(e.id));
    const r = await call(`/api/v1/messages/${id}`, { method: 'DELETE' });
    off();
    assert.equal(r.status, 204);
    assert.deepEqual(seen, [id]);
    assert.equal((await call(`/api/v1/messages/${id}`)).status, 404);
  }));

  it('bulk-deletes by query', () => withOwnFixture(async ({ ids, call, json, deliver }) => {
    const a = await deliver(crlf(['Subject: bulk one', '', 'x']));
    const b = await deliver(crlf(['Subject: bulk two', '', 'x']));
    assert.deepEqual(await json('/api/v1/messages?query=subject:bulk', { method: 'DELETE' }), [200, { deleted: 2, ids: [a, b] }]);
    assert.deepEqual(await json('/api/v1/messages?query=subject:bulk'), [200, { messages: [], nextCursor: null }]);
    assert.equal((await call(`/api/v1/messages/${ids.simple}`)).status, 200);
  }));

  it('lists and gets sessions', () => withOwnFixture(async ({ ids, json, store }) => {
    const id = await store.saveSession({
      connection: CONN, startedAt: new Date('2024-05-01T10:00:00Z'), endedAt: new Date('2024-05-01T10:00:02Z'), end: 'quit',
      messageIds: [ids.simple], transcript: [{ at: 1714557600000, dir: 'client', text: 'QUIT' }], truncated: false,
    });
    const summary = { id, startedAt: '2024-05-01T10:00:00.000Z', endedAt: '2024-05-01T10:00:02.000Z', end: 'quit', connection: CONN, messageIds: [ids.simple], truncated: false, helo: null, mailFrom: null, rcptTo: [] };
    assert.deepEqual(await json('/api/v1/sessions'), [200, { sessions: [summary], nextCursor: null }]);
    assert.deepEqual(await json(`/api/v1/sessions/${id}`), [200, { ...summary, transcript: [{ at: 1714557600000, dir: 'client', text: 'QUIT' }] }]);
  }));

  it('exports metrics the server records, and health', async () => {
    metrics.messageStored(1234);
    metrics.rejection(451);
    metrics.sessionEnded('quit');
    metrics.commandResponse('mail', 0.0003);
    const r = await call('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await r.text();
    for (const line of [
      'mailwire_messages_stored_total 1', 'mailwire_message_bytes_total 1234', 'mailwire_rejections_total{code="451"} 1',
      'mailwire_sessions_total{end="quit"} 1', 'mailwire_command_response_seconds_bucket{le="0.0005",verb="MAIL"} 1',
      'mailwire_command_response_seconds_count{verb="MAIL"} 1', 'mailwire_index_backlog 0', 'mailwire_index_lag_seconds 0',
    ]) assert.ok(text.split('\n').includes(line), `missing ${line}`);
    assert.deepEqual(await json('/healthz'), [200, { status: 'ok', store: { ok: true, reason: null, indexBacklog: 0, indexLagMs: 0 } }]);
  });

  it('serves an OpenAPI document naming every route', async () => {
    const [status, doc] = await json('/api/openapi.json') as [number, typeof OPENAPI];
    assert.equal(status, 200);
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/api/v1/events', '/api/v1/faults', '/api/v1/inboxes', '/api/v1/inboxes/{address}/messages', '/api/v1/inboxes/{address}/wait', '/api/v1/messages', '/api/v1/messages/count', '/api/v1/messages/wait', '/api/v1/messages/{id}', '/api/v1/messages/{id}/attachments/{n}',
      '/api/v1/messages/{id}/checks/headers', '/api/v1/messages/{id}/checks/html', '/api/v1/messages/{id}/checks/links', '/api/v1/messages/{id}/checks/spam',
      '/api/v1/messages/{id}/html', '/api/v1/messages/{id}/raw', '/api/v1/messages/{id}/release', '/api/v1/messages/{id}/screenshot', '/api/v1/server', '/api/v1/sessions', '/api/v1/sessions/{id}',
      '/api/v1/webhooks', '/api/v1/webhooks/{id}', '/api/v1/webhooks/{id}/deliveries', '/api/v1/webhooks/{id}/deliveries/{did}/retry',
      '/api/v1/workspaces', '/api/v1/workspaces/{name}', '/api/v1/workspaces/{name}/tokens', '/api/v1/workspaces/{name}/tokens/{token}', '/healthz', '/metrics',
    ]);
  });
});

describe('web API over node:http', () => {
  it('serves the same app on a real loopback port', async () => {
    const store = await openStore({ kind: 'memory' });
    const events = createEvents();
    const server = await startHttpServer({ app: createWebApp({ store, events }), host: '127.0.0.1', port: 0 });
    try {
      const id = await store.save(incoming(SIMPLE));
      const list = await fetch(`http://127.0.0.1:${server.port}/api/v1/messages`);
      assert.equal(list.status, 200);
      assert.deepEqual(((await list.json()) as { messages: { id: string }[] }).messages.map((m) => m.id), [id]);
      const raw = await fetch(`http://127.0.0.1:${server.port}/api/v1/messages/${id}/raw`);
      assert.deepEqual(Buffer.from(await raw.arrayBuffer()), SIMPLE);
      const missing = await fetch(`http://127.0.0.1:${server.port}/api/v1/messages/nope`);
      assert.deepEqual([missing.status, await missing.json()], [404, { error: { code: 'not_found', message: 'no such message' } }]);
      // An open SSE stream must not keep close() from finishing.
      const sse = await fetch(`http://127.0.0.1:${server.port}/api/v1/events`);
      assert.equal(sse.status, 200);
      await (sse.body as ReadableStream<Uint8Array>).getReader().read();
    } finally {
      await server.close();
      await store.close();
    }
  });
});
