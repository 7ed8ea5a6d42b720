/**
 * The checks from a test suite (MailwireClient.check and .screenshot) and from an agent (MCP's check_message), against
 * a real server started by startMailwire.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import nodemailer from 'nodemailer';
import { MailwireApiError, MailwireClient, startMailwire, type Mailwire } from '../../src/index.js';

describe('checks from the library and MCP', () => {
  let mailwire: Mailwire;
  let client: MailwireClient;
  let id = '';
  before(async () => {
    mailwire = await startMailwire();
    client = new MailwireClient(mailwire.url);
    const t = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
    try {
      await t.sendMail({ from: 'app@x.test', to: 'qa@y.test', subject: 'Welcome', html: '<div style="display:grid"><svg></svg>Hi</div>' });
    } finally {
      t.close();
    }
    id = (await client.waitForMessage({ subject: 'Welcome' })).id;
  });
  after(async () => {
    await client.close();
    await mailwire.close();
  });

  it('check(id, "html") and check(id, "headers") answer the reports; "spam" without a checker is a 404 saying why', async () => {
    const html = await client.check(id, 'html', { clients: 'outlook.*' });
    assert.ok(html.features.some((f) => f.slug === 'css-display-grid'));
    assert.ok(html.clients.every((c) => c.client.startsWith('outlook.')));
    const headers = await client.check(id, 'headers');
    assert.deepEqual(headers.findings, [], 'nodemailer writes every header a receiver wants');
    await assert.rejects(client.check(id, 'spam'), (e: unknown) => e instanceof MailwireApiError && e.status === 404 && /--spamd/.test(e.message));
  });

  it('screenshot(id) is a PNG of the asked width', async () => {
    const png = await client.screenshot(id, { width: 600 });
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.equal(png.readUInt32BE(16), 600);
  });

  it('MCP check_message answers the same report, and a clear error for a missing message', async () => {
    const mcp = new Client({ name: 'mailwire-test', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${mailwire.url}/mcp`)));
    try {
      const r = await mcp.callTool({ name: 'check_message', arguments: { id, check: 'html' } });
      const report = JSON.parse((r.content as { text: string }[])[0]?.text ?? '{}') as { features: { slug: string }[] };
      assert.ok(report.features.some((f) => f.slug === 'html-svg'));
      const missing = await mcp.callTool({ name: 'check_message', arguments: { id: 'nope', check: 'headers' } });
      assert.equal(missing.isError, true);
      assert.match((missing.content as { text: string }[])[0]?.text ?? '', /no message nope/);
    } finally {
      await mcp.close();
    }
  });
});
