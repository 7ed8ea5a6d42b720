/**
 * What a new user looks for, in real headless Chromium against the real service (issue 32): where SMTP listens and
 * in which dialect (header and empty states, from GET /api/v1/server), the one-time codes and links of a message with
 * a copy button each, clickable URLs in the Text tab, the Date header, "(empty body)", and fault rules in words.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';

declare const navigator: { clipboard: { readText(): Promise<string> } };

describe('what a new user looks for, in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let origin: string;
  before(async () => {
    service = await startMemoryCatcher();
    origin = `http://127.0.0.1:${service.http.port}`;
    browser = await launchBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    page = await browser.context.newPage();
    await page.goto(`${origin}/`);
    await page.locator('.live.open').waitFor();
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('says where SMTP listens and its dialect, in the header and the empty states', async () => {
    const address = `127.0.0.1:${service.smtp.port}`;
    await page.locator('.smtp-addr code', { hasText: address }).waitFor();
    assert.equal(await page.locator('.smtp-addr .dialect').textContent(), 'simplified');
    const empty = await page.locator('.list-pane .placeholder p').textContent();
    assert.equal(empty, `No mail yet. Point your application's SMTP at ${address} (simplified dialect: one recipient per message, no EHLO; ` +
      'applications want --dialect smtp); new mail appears here at once.');
    await page.screenshot({ path: join(resultsDir(), 'ui-server-address.png') });
    await page.getByRole('link', { name: 'Sessions' }).click();
    assert.equal(await page.locator('.list-pane .empty').textContent(), `No SMTP sessions yet. Send mail to ${address} and it shows up here.`);
    await page.getByRole('link', { name: 'Inbox' }).click();
  });

  it('shows the codes and links of a message with copy buttons, clickable URLs in the text, and the Date header', async () => {
    const raw = await compose({
      from: 'app@x.test', to: 'qa@y.test', subject: 'رمز التحقق: Your sign-in code', date: new Date('2024-05-01T09:59:00Z'),
      text: 'Your code is 482913.\nConfirm at https://app.x.test/confirm?t=abc. Thanks.',
    });
    await sendRaw(service.smtp.port, 'app@x.test', 'qa@y.test', raw);
    await page.locator('.row', { hasText: 'Your sign-in code' }).click();
    await page.locator('.found.codes').waitFor();
    assert.deepEqual(await page.locator('.found.codes code').allTextContents(), ['482913']);
    assert.equal(await page.locator('.found.links a').getAttribute('href'), 'https://app.x.test/confirm?t=abc');
    assert.equal(await page.locator('.view-subject').getAttribute('dir'), 'auto');
    await page.getByRole('button', { name: 'Copy code 482913' }).click();
    await page.getByRole('button', { name: 'Copy code 482913' }).filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), '482913');
    assert.match((await page.locator('.view-meta').textContent()) ?? '', /Date/);
    assert.equal(await page.locator('.view-meta time').first().getAttribute('datetime'), '2024-05-01T09:59:00.000Z');
    const link = page.locator('.text-body a');
    assert.deepEqual([await link.textContent(), await link.getAttribute('href'), await link.getAttribute('target'), await link.getAttribute('rel')],
      ['https://app.x.test/confirm?t=abc', 'https://app.x.test/confirm?t=abc', '_blank', 'noopener noreferrer']);
    assert.equal(await page.locator('.text-body').textContent(), 'Your code is 482913.\nConfirm at https://app.x.test/confirm?t=abc. Thanks.\n');
    await page.screenshot({ path: join(resultsDir(), 'ui-codes-links.png') });
  });

  it('says "(empty body)" for a message with neither text nor HTML', async () => {
    await sendRaw(service.smtp.port, 'app@x.test', 'qa@y.test', Buffer.from('Subject: nothing inside\r\nFrom: app@x.test\r\n\r\n'));
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.locator('.row', { hasText: 'nothing inside' }).click();
    await page.locator('.view-body .empty', { hasText: '(empty body)' }).waitFor();
  });

  it('shows each fault rule in words', async () => {
    assert.equal(service.faults.load({ rules: [{ on: 'data', delay: '1s', probability: 0.5 }, { on: 'connect', first: 2, disconnect: true }] }).ok, true);
    await page.getByRole('link', { name: 'Faults' }).click();
    await page.locator('.fault-rules td.words').first().waitFor();
    assert.deepEqual(await page.locator('.fault-rules td.words').allTextContents(), ['at DATA, 50% of the time: wait 1s', 'on connect, the first 2 times: disconnect']);
    await page.screenshot({ path: join(resultsDir(), 'ui-faults-in-words.png') });
  });
});
