/**
 * The message's Checks tab (issue 29), in real headless Chromium against the real service: the HTML compatibility
 * score per client and the features with where they occur, a client's unsupported features, the header findings, the
 * link check against a local HTTP server (200 and 404), the spam check's hint when no checker is configured, and the
 * screenshot strip at three widths, whose render never requests the remote image (the local server counts requests).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { PNG_16, sendRaw } from '../helpers/smtp-send.js';

type HtmlReport = { score: number; clients: { client: string; name: string; score: number }[]; features: { slug: string; support: Record<string, { support: string }> }[] };

describe('the Checks tab, in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let origin: string;
  let web: Server;
  let webBase: string;
  const requested: string[] = [];
  let id: string;

  before(async () => {
    web = createServer((req, res) => {
      requested.push(req.url ?? '');
      if (req.url === '/ok') res.end('fine');
      else if (req.url === '/logo.png') res.end(PNG_16);
      else {
        res.statusCode = 404;
        res.end('no');
      }
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webBase = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
    service = await startMemoryCatcher(undefined, { allowHosts: ['127.0.0.1'] });
    origin = `http://127.0.0.1:${service.http.port}`;
    const html = '<!DOCTYPE html><html><head><style>.wrap{display:flex}@media (max-width:600px){.col{width:100%}}</style></head>' +
      `<body><div class="wrap" style="background-image:linear-gradient(red,blue)"><p class="col">Hello</p>\n<a href="${webBase}/ok">ok</a>\n` +
      `<a href="${webBase}/missing">missing</a>\n<img src="${webBase}/logo.png" alt="logo" width="16"></div></body></html>`;
    // No Message-ID: the header check says so.
    const raw = Buffer.from(['From: News <news@x.test>', 'To: qa@y.test', 'Subject: Checks newsletter', 'Date: Mon, 7 Dec 2026 18:00:00 +0000',
      'MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', html, ''].join('\r\n'));
    await sendRaw(service.smtp.port, 'news@x.test', 'qa@y.test', raw);
    const list = (await (await fetch(`${origin}/api/v1/messages`)).json()) as { messages: { id: string }[] };
    id = (list.messages[0] as { id: string }).id;
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`${origin}/#/m/${id}/checks`);
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
    await new Promise<void>((r) => (web ? web.close(() => r()) : r()));
  });

  it('shows the HTML score per client, the features used with where, and a client\'s unsupported features', async () => {
    const report = (await (await fetch(`${origin}/api/v1/messages/${id}/checks/html`)).json()) as HtmlReport;
    const section = page.getByRole('region', { name: 'HTML compatibility' });
    await section.locator('table.clients tbody tr').first().waitFor();
    assert.equal(await section.getByLabel('Overall score').textContent(), `${Math.round(report.score * 100)}%`);
    assert.equal(await section.locator('table.clients tbody tr').count(), report.clients.length);
    const slugs = await section.locator('li.feature').evaluateAll((els) => els.map((e) => e.getAttribute('data-slug')));
    assert.deepEqual(slugs, report.features.map((f) => f.slug));
    for (const s of ['css-display-flex', 'css-at-media', 'css-linear-gradient', 'html-doctype', 'image-png']) assert.ok(slugs.includes(s), s);
    // Where flexbox is: its line and excerpt.
    const flex = section.locator('li.feature[data-slug="css-display-flex"]');
    await flex.locator('summary').click();
    assert.match((await flex.locator('.places li').first().textContent()) ?? '', /^line 1 flex/);
    // The lowest-scoring client first; choosing it lists the features it does not fully support.
    const worst = [...report.clients].sort((a, b) => a.score - b.score || a.client.localeCompare(b.client))[0] as HtmlReport['clients'][number];
    assert.ok(worst.score < 1, 'some client lacks something this mail uses');
    await section.locator('table.clients tbody tr').first().getByRole('button', { name: worst.name }).click();
    await section.getByRole('heading', { name: new RegExp(`^Not fully supported by ${worst.name.replace(/[()]/g, '\\$&')}`) }).waitFor();
    const lacking = await section.locator('li.feature').evaluateAll((els) => els.map((e) => e.getAttribute('data-slug')));
    assert.deepEqual(lacking, report.features.filter((f) => (f.support[worst.client]?.support ?? 'u') !== 'y').map((f) => f.slug));
    assert.ok(lacking.length > 0);
    await section.screenshot({ path: join(resultsDir(), 'ui-checks-html.png') });
  });

  it('shows the header findings', async () => {
    const section = page.getByRole('region', { name: 'Headers' });
    await section.locator('li.finding').first().waitFor();
    assert.deepEqual(await section.locator('li.finding').evaluateAll((els) => els.map((e) => e.getAttribute('data-rule'))), ['message-id-missing']);
    assert.match((await section.locator('li.finding').textContent()) ?? '', /^warningMessage-IDno Message-ID header/);
  });

  it('says how to configure a spam checker when none is', async () => {
    const section = page.getByRole('region', { name: 'Spam score' });
    await section.getByRole('button', { name: 'Check spam score' }).click();
    assert.equal(await section.getByRole('alert').textContent(),
      'no spam checker is configured: start the server with --spamd HOST:PORT (SpamAssassin) or --rspamd URL');
  });

  it('renders the screenshot strip at three widths without requesting the remote image', async () => {
    const section = page.getByRole('region', { name: 'Screenshots' });
    await section.getByRole('button', { name: 'Render screenshots' }).click();
    for (const width of [390, 768, 1280]) await section.locator(`figure.shot[data-width="${width}"][data-state="done"]`).waitFor({ timeout: 60_000 });
    const natural = await section.locator('figure.shot img').evaluateAll((imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth));
    assert.deepEqual(natural, [390, 768, 1280]);
    assert.deepEqual(requested.filter((u) => u === '/logo.png'), [], 'the screenshot requested the remote image');
    await section.screenshot({ path: join(resultsDir(), 'ui-checks-strip.png') });
  });

  it('checks the links on a click: 200 and 404 against a local server', async () => {
    const section = page.getByRole('region', { name: 'Links' });
    await section.getByRole('button', { name: 'Check links' }).click();
    await section.locator('table.links tbody tr').first().waitFor({ timeout: 30_000 });
    const rows = await section.locator('table.links tbody tr').evaluateAll((trs) => trs.map((tr) => [
      tr.querySelector('td.url a')?.textContent, tr.querySelector('td .pill')?.textContent, tr.children[2]?.textContent, tr.className]));
    assert.deepEqual(rows.sort(), [
      [`${webBase}/logo.png`, '200', 'image', 'ok'],
      [`${webBase}/missing`, '404', 'link', 'failed'],
      [`${webBase}/ok`, '200', 'link', 'ok'],
    ]);
    assert.equal(await section.locator('.check-summary').textContent(), '3 checked, 1 failed');
    await section.screenshot({ path: join(resultsDir(), 'ui-checks-links.png') });
  });
});
