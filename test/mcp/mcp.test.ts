/**
 * The MCP server through the SDK's own client, over both transports: streamable HTTP at /mcp of a running catcher,
 * and stdio (`mailwire mcp --url …` as a child process). The same tool calls, the same answers.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import nodemailer from 'nodemailer';
import { startMailwire, type Mailwire } from '../../src/index.js';
import { createServer } from 'node:net';
import { runChild } from '../helpers/child.js';

type ToolAnswer = { isError: boolean; text: string; json: Record<string, unknown> | null };

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
  const r = await client.callTool({ name, arguments: args });
  const content = r.content as { type: string; text: string }[];
  const text = content.map((c) => c.text).join('');
  let parsed: Record<string, unknown> | null = null;
  try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { /* an error text */ }
  // Each answer carries its data as structuredContent too, the same as its JSON text.
  if (r.isError !== true) assert.deepEqual(r.structuredContent, parsed, `${name}: structuredContent`);
  return { isError: r.isError === true, text, json: parsed };
}

const transports: Record<string, (url: string) => Transport> = {
  'streamable HTTP at /mcp': (url) => new StreamableHTTPClientTransport(new URL(`${url}/mcp`)),
  'stdio (mailwire mcp --url)': (url) => new StdioClientTransport({ command: process.execPath, args: ['bin/mailwire.js', 'mcp', '--url', url], stderr: 'pipe' }),
};

for (const [label, transportFor] of Object.entries(transports)) {
  describe(`MCP over ${label}`, () => {
    let mailwire: Mailwire;
    let client: Client;
    const send = async (mail: Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0]): Promise<void> => {
      const t = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
      try { await t.sendMail(mail); } finally { t.close(); }
    };
    before(async () => {
      mailwire = await startMailwire();
      client = new Client({ name: 'mailwire-test', version: '1.0.0' });
      await client.connect(transportFor(mailwire.url));
    });
    after(async () => {
      await client.close();
      await mailwire.close();
    });

    it('lists its six tools', async () => {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['check_message', 'delete_messages', 'get_message', 'list_inboxes', 'search_messages', 'wait_for_message']);
      assert.equal(client.getServerVersion()?.name, 'mailwire');
    });

    // Each tool in a test of its own, each from an empty catcher: none depends on another's mail or order.
    beforeEach(async () => {
      await mailwire.clear();
    });
    const CONFIRM = {
      from: 'app@x.test', to: 'qa+1@y.test', cc: 'boss@y.test', subject: 'Confirm your e-mail',
      text: 'Code: 771204', html: '<p>Hello <b>QA</b>,</p><p><a href="https://x.test/c?t=1">confirm</a></p><p>code 771204</p>',
      headers: { 'X-Flow': 'signup' },
    };
    const NEWSLETTER = { from: 'app@x.test', to: 'other@y.test', subject: 'Newsletter', text: 'nothing to see' };

    it('search_messages: finds by query, and lists every message without one', async () => {
      await send(CONFIRM);
      await send(NEWSLETTER);
      const found = await call(client, 'search_messages', { query: 'to:qa+1@y.test' });
      const rows = found.json?.['messages'] as { id: string; subject: string; envelopeTo: string[] }[];
      assert.deepEqual(rows.map((r) => [r.subject, r.envelopeTo]), [['Confirm your e-mail', ['qa+1@y.test', 'boss@y.test']]]);
      assert.equal(((await call(client, 'search_messages', {})).json?.['messages'] as unknown[]).length, 2);
    });

    it('get_message: text, HTML as text, headers, links and codes; an unknown id is an error', async () => {
      await send(CONFIRM);
      const [caught] = await mailwire.messages();
      const id = caught?.id ?? '';
      const m = (await call(client, 'get_message', { id })).json ?? {};
      assert.equal(m['subject'], 'Confirm your e-mail');
      assert.equal(String(m['text']).trim(), 'Code: 771204');
      assert.equal(m['htmlAsText'], 'Hello QA,\n\nconfirm\n\ncode 771204');
      assert.deepEqual(m['links'], ['https://x.test/c?t=1']);
      assert.deepEqual(m['codes'], ['771204']);
      assert.equal((m['headers'] as { name: string; value: string }[]).find((h) => h.name.toLowerCase() === 'x-flow')?.value, 'signup');
      const unknown = await call(client, 'get_message', { id: 'no-such-id' });
      assert.deepEqual([unknown.isError, unknown.text], [true, 'no message with id no-such-id']);
    });

    it('wait_for_message: answers a message that arrives while it waits; none in time is an error', async () => {
      const waiting = call(client, 'wait_for_message', { query: 'subject:"password reset"', timeout_seconds: 20 });
      await send({ from: 'app@x.test', to: 'qa+1@y.test', subject: 'Your password reset', text: 'Use 5531.' });
      const waited = await waiting;
      assert.equal(waited.isError, false, waited.text);
      assert.deepEqual([waited.json?.['subject'], waited.json?.['codes']], ['Your password reset', ['5531']]);
      const late = await call(client, 'wait_for_message', { query: 'subject:nothing', timeout_seconds: 0.2 });
      assert.deepEqual([late.isError, late.text], [true, 'no message matching subject:nothing arrived within 200 ms']);
    });

    it('list_inboxes: every envelope recipient with its counts, and by prefix', async () => {
      await send(CONFIRM);
      await send(NEWSLETTER);
      await send({ from: 'app@x.test', to: 'qa+1@y.test', subject: 'Your password reset', text: 'Use 5531.' });
      const inboxes = await call(client, 'list_inboxes', {});
      assert.deepEqual(inboxes.json?.['inboxes'], [
        { address: 'boss@y.test', total: 1, unread: 1 },
        { address: 'other@y.test', total: 1, unread: 1 },
        { address: 'qa+1@y.test', total: 2, unread: 2 },
      ]);
      assert.deepEqual((await call(client, 'list_inboxes', { prefix: 'QA+' })).json?.['inboxes'], [{ address: 'qa+1@y.test', total: 2, unread: 2 }]);
    });

    it('delete_messages: by ids, by query, or all, exactly one of them', async () => {
      await send(CONFIRM);
      await send(NEWSLETTER);
      await send({ from: 'app@x.test', to: 'qa+1@y.test', subject: 'Your password reset', text: 'Use 5531.' });
      const [confirm] = await mailwire.messages('subject:confirm');
      const id = confirm?.id ?? '';
      assert.deepEqual(await call(client, 'delete_messages', {}), { isError: true, text: 'give exactly one of: ids, query, or all: true', json: null });
      assert.deepEqual((await call(client, 'delete_messages', { ids: [id, 'no-such-id'] })).json, { deleted: 1, ids: [id], notFound: ['no-such-id'] });
      const gone = await call(client, 'get_message', { id });
      assert.deepEqual([gone.isError, gone.text], [true, `no message with id ${id}`]);
      assert.deepEqual((await call(client, 'delete_messages', { query: 'subject:newsletter' })).json, { deleted: 1 });
      assert.deepEqual((await call(client, 'delete_messages', { all: true })).json, { deleted: 1 });
      assert.deepEqual((await call(client, 'search_messages', {})).json, { messages: [], more: false });
    });
  });
}

describe('the /mcp endpoint', () => {
  it('is stateless: GET and DELETE get 405 with Allow: POST', async () => {
    const mailwire = await startMailwire();
    try {
      for (const method of ['GET', 'DELETE']) {
        const r = await fetch(`${mailwire.url}/mcp`, { method });
        assert.deepEqual([r.status, r.headers.get('allow')], [405, 'POST']);
        await r.body?.cancel();
      }
    } finally {
      await mailwire.close();
    }
  });
});

describe('mailwire mcp at start', () => {
  it('says in one line that --url answers nothing, and exits 1 before serving', async () => {
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    const address = spare.address();
    assert.ok(address !== null && typeof address === 'object');
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const url = `http://127.0.0.1:${address.port}`; // nothing listens there now
    const r = await runChild(process.execPath, ['bin/mailwire.js', 'mcp', '--url', url], { timeoutMs: 60_000 });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^mailwire mcp: no mailwire API at --url ${url} \\(mailwire API at ${url} did not answer: [^\\n]*ECONNREFUSED[^\\n]*\\); start one \\(npm run catcher\\) or give --url\\n$`));
    const bad = await runChild(process.execPath, ['bin/mailwire.js', 'mcp', '--url', 'ftp://x'], { timeoutMs: 60_000 });
    assert.deepEqual([bad.code, bad.stderr], [1, 'mailwire mcp: --url ftp://x is not an http(s) URL such as http://127.0.0.1:8025\n']);
  });
});
