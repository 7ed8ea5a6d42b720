/**
 * The leak test of issue 26, driven by the route table: for every route of the OpenAPI document, every MCP tool, the
 * SSE stream and the Mailpit and MailHog APIs, workspace A's token tries workspace B's message ids, inbox addresses,
 * session ids, forged cursors and queries that match B's mail. Each answer must equal what a missing object gets
 * (same status, same body once the id asked for is put aside), and nothing of B (its ids, addresses, subject, session)
 * may appear in any of A's answers. On all three stores, through app.fetch, one store per backend.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, CONN, crlf, incoming, saveIndexed, type Opened } from '../helpers/mail.js';
import { createWebApp, type WebApp } from '../../src/web/app.js';
import { createEvents } from '../../src/events.js';
import { OPENAPI } from '../../src/web/openapi.js';
import { WorkspaceDirectory } from '../../src/workspaces/directory.js';
import { mountMcp } from '../../src/mcp/http.js';
import { sha256Hex } from '../../src/store/workspace.js';
import { encodeCursor } from '../../src/store/cursor.js';
import { timeOrderedId } from '../../src/store/ids.js';
import type { MessageStore } from '../../src/store/types.js';

const TOKEN_A = 'mw_token-of-team-a-0123456789abcdef';
const TOKEN_B = 'mw_token-of-team-b-0123456789abcdef';
const ADMIN = 'mw_admin-token-0123456789abcdef';
const B_SUBJECT = 'Bravo-secret-subject';
const B_ADDRESS = 'bravo-secret@b.test';

const mail = (subject: string, to: string): Buffer => crlf([
  'From: sender@x.test', `To: ${to}`, `Subject: ${subject}`, 'Date: Wed, 01 May 2024 09:59:00 +0000', 'Content-Type: text/html', '',
  `<p>${subject} code 482913 <a href="http://127.0.0.1:9/x">link</a></p>`,
]);

async function seed(store: MessageStore): Promise<{ a: string; b: string; sessionB: string; sessionA: string }> {
  const now = '2026-01-01T00:00:00.000Z';
  for (const [name, token] of [['team-a', TOKEN_A], ['team-b', TOKEN_B]] as const) {
    await store.workspaces.put({
      name, smtp: [], tokens: [{ name: 'ci', sha256: sha256Hex(token), createdAt: now }], recipients: [], retention: {}, source: 'api', createdAt: now,
    });
  }
  const a = await saveIndexed(store, { ...incoming(mail('Alpha subject', 'alpha@a.test'), { to: ['alpha@a.test'] }), connection: { ...CONN, workspace: 'team-a' } });
  const b = await saveIndexed(store, { ...incoming(mail(B_SUBJECT, B_ADDRESS), { to: [B_ADDRESS] }), connection: { ...CONN, workspace: 'team-b' } });
  const base = { startedAt: new Date(), endedAt: new Date(), end: 'quit' as const, truncated: false };
  const sessionB = await store.saveSession({
    ...base, connection: { ...CONN, workspace: 'team-b' }, messageIds: [b],
    transcript: [{ at: Date.now(), dir: 'client', text: `RCPT TO:<${B_ADDRESS}>` }],
  });
  const sessionA = await store.saveSession({ ...base, connection: { ...CONN, workspace: 'team-a' }, messageIds: [a], transcript: [] });
  return { a, b, sessionA, sessionB };
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: workspace A never sees workspace B`, () => {
    let o: Opened;
    let app: WebApp;
    let ids: Awaited<ReturnType<typeof seed>>;
    let secrets: string[];
    const as = (token: string, path: string, init: RequestInit = {}): Promise<Response> => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      if (init.body !== undefined) headers.set('content-type', 'application/json');
      return app.fetch(new Request(`http://localhost${path}`, { ...init, headers }));
    };
    before(async () => {
      o = await backend.open();
      ids = await seed(o.store);
      const dir = new WorkspaceDirectory(o.store.workspaces, [sha256Hex(ADMIN)]);
      await dir.reload();
      const events = createEvents();
      o.store.onIndexed((m) => events.emit('message-stored', { id: m.id })); // as the service announces them
      app = createWebApp({
        store: o.store, events, uiDir: null, access: { hosts: 'any', workspaces: dir },
        routes: [(web, ctx) => mountMcp(web, ctx.api, { version: 'test' })],
      });
      secrets = [ids.b, ids.sessionB, B_SUBJECT, B_ADDRESS, 'bravo'];
    });
    after(async () => { await o.cleanup(); });

    const noSecret = (text: string, what: string): void => {
      for (const s of secrets) assert.ok(!text.toLowerCase().includes(s.toLowerCase()), `${what} shows ${s}: ${text.slice(0, 300)}`);
    };

    it('every route of the OpenAPI document answers B\'s objects as missing ones and shows nothing of B', async () => {
      const missing = { id: timeOrderedId(), session: timeOrderedId(), address: 'nobody-here@z.test' };
      const fill = (path: string, w: { id: string; session: string; address: string }): string => path
        .replace('/sessions/{id}', `/sessions/${w.session}`).replace('{id}', w.id).replace('{n}', '0').replace('{address}', encodeURIComponent(w.address))
        .replace('{name}', 'team-b').replace('{token}', 'ci');
      const bodies: Record<string, string | undefined> = { patch: '{"read":true}', post: '{"to":["x@y.test"]}', put: '{"rules":[]}' };
      let asked = 0;
      for (const [path, ops] of Object.entries(OPENAPI.paths)) {
        for (const method of Object.keys(ops)) {
          if (path === '/api/v1/events' || path.endsWith('/wait')) continue; // streams and waits: their own cases below
          const extra = path.includes('{') ? '' : `?query=${encodeURIComponent(B_SUBJECT)}&cursor=${encodeCursor('m', 1)}`;
          const init = { method: method.toUpperCase(), ...(bodies[method] === undefined ? {} : { body: bodies[method] }) };
          const theirs = await as(TOKEN_A, fill(path, { id: ids.b, session: ids.sessionB, address: B_ADDRESS }) + extra, init);
          const text = await theirs.text();
          // What was asked for may be said back (a missing id is, the same way: compared below); nothing else of B.
          const askedFor = [ids.b, ids.sessionB, B_ADDRESS, encodeURIComponent(B_ADDRESS), B_SUBJECT];
          noSecret(askedFor.reduce((t, s) => t.split(s).join('ASKED'), text), `${method.toUpperCase()} ${path}`);
          if (path.includes('{')) {
            const none = await as(TOKEN_A, fill(path, missing), init);
            const noneText = await none.text();
            const strip = (t: string, w: { id: string; session: string; address: string }): string =>
              t.split(w.id).join('ID').split(w.session).join('ID').split(w.address).join('ADDR').split(encodeURIComponent(w.address)).join('ADDR');
            assert.equal(theirs.status, none.status, `${method.toUpperCase()} ${path}: status for B's object ${theirs.status}, for a missing one ${none.status}`);
            assert.equal(strip(text, { id: ids.b, session: ids.sessionB, address: B_ADDRESS }), strip(noneText, missing), `${method.toUpperCase()} ${path}`);
          }
          asked++;
        }
      }
      assert.ok(asked >= 25, `asked ${asked} routes`);
      // B's message is as it was: unread, still there.
      const b = await as(TOKEN_B, `/api/v1/messages/${ids.b}`);
      assert.equal(b.status, 200);
      assert.equal(((await b.json()) as { read: boolean }).read, false);
    });

    it('lists, searches and waits find only A\'s own mail', async () => {
      const list = await as(TOKEN_A, '/api/v1/messages');
      assert.deepEqual(((await list.json()) as { messages: { id: string }[] }).messages.map((m) => m.id), [ids.a]);
      for (const q of [B_SUBJECT, `inbox:${B_ADDRESS}`, 'workspace:team-b', `to:${B_ADDRESS}`, '482913']) {
        const r = await as(TOKEN_A, `/api/v1/messages?query=${encodeURIComponent(q)}`);
        const text = await r.text();
        noSecret(text, `search ${q}`);
      }
      const wait = await as(TOKEN_A, `/api/v1/messages/wait?query=${encodeURIComponent(`subject:${B_SUBJECT}`)}&timeout=0`);
      assert.equal(wait.status, 408);
      const waitInbox = await as(TOKEN_A, `/api/v1/inboxes/${encodeURIComponent(B_ADDRESS)}/wait?timeout=0`);
      assert.equal(waitInbox.status, 408);
      const sessions = await as(TOKEN_A, '/api/v1/sessions');
      assert.deepEqual(((await sessions.json()) as { sessions: { id: string }[] }).sessions.map((s) => s.id), [ids.sessionA]);
      const inboxes = await as(TOKEN_A, '/api/v1/inboxes');
      assert.deepEqual(((await inboxes.json()) as { inboxes: { address: string }[] }).inboxes.map((i) => i.address), ['alpha@a.test']);
      // The admin sees both, and picks one with ?workspace=.
      const all = await as(ADMIN, '/api/v1/messages');
      assert.equal(((await all.json()) as { messages: unknown[] }).messages.length, 2);
      const picked = await as(ADMIN, '/api/v1/messages?workspace=team-b');
      assert.deepEqual(((await picked.json()) as { messages: { id: string }[] }).messages.map((m) => m.id), [ids.b]);
    });

    it('refuses requests without a known token, and keeps /metrics and the workspaces API for admins', async () => {
      const none = await app.fetch(new Request('http://localhost/api/v1/messages'));
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
      assert.equal((await as('mw_wrong-token-000000000000000000', '/api/v1/messages')).status, 401);
      assert.equal((await as(TOKEN_A, '/metrics')).status, 404);
      assert.equal((await as(ADMIN, '/metrics')).status, 200);
      assert.equal((await as(TOKEN_A, '/api/v1/workspaces')).status, 404);
      assert.equal((await as(TOKEN_A, '/api/v1/workspaces/team-b')).status, 404);
      const basic = await app.fetch(new Request('http://localhost/api/v1/messages', { headers: { authorization: `Basic ${Buffer.from(`team-a:${TOKEN_A}`).toString('base64')}` } }));
      assert.deepEqual(((await basic.json()) as { messages: { id: string }[] }).messages.map((m) => m.id), [ids.a]);
      const crossed = await app.fetch(new Request('http://localhost/api/v1/messages', { headers: { authorization: `Basic ${Buffer.from(`team-b:${TOKEN_A}`).toString('base64')}` } }));
      assert.equal(crossed.status, 401, 'A\'s token is no password of B');
    });

    it('the Mailpit and MailHog APIs show A only its own mail', async () => {
      for (const path of ['/mailpit/api/v1/messages', `/mailpit/api/v1/search?query=${encodeURIComponent(B_SUBJECT)}`, '/mailhog/api/v2/messages',
        `/mailpit/api/v1/message/${ids.b}`, `/mailpit/api/v1/message/${ids.b}/raw`, `/mailhog/api/v1/messages/${ids.b}`, '/mailpit/api/v1/info']) {
        const r = await as(TOKEN_A, path);
        noSecret(await r.text(), path);
      }
    });

    it('every MCP tool shows A nothing of B', async () => {
      const call = async (method: string, params: unknown): Promise<string> => {
        const r = await as(TOKEN_A, '/mcp', {
          method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
          headers: { accept: 'application/json, text/event-stream' },
        });
        return r.text();
      };
      const list = JSON.parse(await call('tools/list', {})) as { result: { tools: { name: string; inputSchema: { properties?: Record<string, unknown> } }[] } };
      assert.ok(list.result.tools.length >= 6);
      for (const tool of list.result.tools) {
        const props = Object.keys(tool.inputSchema.properties ?? {});
        const args: Record<string, unknown> = {};
        if (props.includes('id')) args.id = ids.b;
        if (props.includes('ids')) args.ids = [ids.b];
        if (props.includes('query')) args.query = `subject:${B_SUBJECT}`;
        if (props.includes('check')) args.check = 'headers';
        if (props.includes('timeout_seconds')) args.timeout_seconds = 0;
        if (props.includes('prefix')) args.prefix = 'bravo';
        const text = await call('tools/call', { name: tool.name, arguments: args });
        // A tool may repeat the id or query it was given, as for a missing one; nothing else of B.
        noSecret(text.split(ids.b).join('ID').split(`subject:${B_SUBJECT}`).join('QUERY'), `MCP ${tool.name}`);
      }
      const b = await as(TOKEN_B, `/api/v1/messages/${ids.b}`);
      assert.equal(b.status, 200, 'B\'s message survived A\'s delete_messages');
    });

    it('the SSE stream tells A of its own mail only', async () => {
      const ac = new AbortController();
      const r = await as(TOKEN_A, '/api/v1/events', { signal: ac.signal });
      const reader = r.body?.getReader();
      assert.ok(reader);
      const decoder = new TextDecoder();
      let seen = '';
      const save = (ws: string, subject: string, to: string): Promise<string> =>
        saveIndexed(o.store, { ...incoming(mail(subject, to), { to: [to] }), connection: { ...CONN, workspace: ws } });
      const idA2 = await save('team-a', 'Alpha 2', 'alpha@a.test');
      const idB2 = await save('team-b', B_SUBJECT, B_ADDRESS);
      secrets.push(idB2);
      const idA3 = await save('team-a', 'Alpha 3', 'alpha@a.test');
      const until = Date.now() + 10_000;
      while (!seen.includes(idA3) && Date.now() < until) {
        const chunk = await reader.read();
        if (chunk.done) break;
        seen += decoder.decode(chunk.value);
      }
      assert.ok(seen.includes(idA2) && seen.includes(idA3), seen);
      ac.abort();
      noSecret(seen, 'SSE');
    });
  });
}
