/**
 * The UI on a phone, 390 × 844 in real headless Chromium (issue 32 item 6): the inboxes can be reached, the tab bar
 * scrolls and shows it, attachment cards and the faults table fit the screen, the header is short, and the HTML
 * preview opens at phone width.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';

declare const document: {
  querySelectorAll(selector: string): { length: number };
  querySelector(selector: string): { scrollWidth: number; clientWidth: number; getBoundingClientRect(): { height: number; right: number } } | null;
};
declare function getComputedStyle(el: unknown): { overflowX: string; maskImage: string; webkitMaskImage: string };

describe('the UI on a phone (390 × 844) in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  before(async () => {
    service = await startMemoryCatcher();
    const long = 'a-very-long-attachment-name-that-would-not-fit-on-a-phone-screen-2024-quarterly-figures.pdf';
    await sendRaw(service.smtp.port, 'ann@a.test', 'bob@b.test', await compose({
      from: 'ann@a.test', to: 'bob@b.test', subject: 'Report', text: 'See attached.', html: '<p style="width:700px">wide</p>',
      attachments: [{ filename: long, content: Buffer.from('%PDF-1.4\n'), contentType: 'application/pdf' }],
    }));
    await sendRaw(service.smtp.port, 'ann@a.test', 'carol@c.test', await compose({ from: 'ann@a.test', to: 'carol@c.test', subject: 'Other', text: 'x' }));
    assert.equal(service.faults.load({ rules: [{ on: 'rcpt', to: '*@a-rather-long-domain-name.example.test', every: 3, delay: '1500ms', disconnect: true }] }).ok, true);
    browser = await launchBrowser({ width: 390, height: 844 });
    page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${service.http.port}/`);
    await page.locator('.live.open').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 2);
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('reaches the inboxes, with a short header', async () => {
    const header = await page.evaluate(() => document.querySelector('.topbar')?.getBoundingClientRect().height ?? 0);
    assert.ok(header <= 110, `header ${header} px`);
    await page.screenshot({ path: join(resultsDir(), 'ui-phone-list.png') });
    await page.locator('.inbox-pane .inbox', { hasText: 'carol@c.test' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 1);
    await page.locator('.inbox-pane .inbox', { hasText: 'All mail' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 2);
  });

  it('opens the HTML at phone width, scrolls the tab bar with a hint, and fits the attachment cards', async () => {
    await page.locator('.row', { hasText: 'Report' }).click();
    await page.locator('.html-frame').waitFor();
    assert.equal(await page.locator('.seg-btn[aria-pressed="true"]').getAttribute('title'), 'phone width');
    const tabs = await page.evaluate(() => {
      const t = document.querySelector('.tabs');
      const s = getComputedStyle(t);
      return { overflow: s.overflowX, mask: s.maskImage || s.webkitMaskImage, scrolls: t !== null && t.scrollWidth > t.clientWidth };
    });
    assert.equal(tabs.overflow, 'auto');
    assert.notEqual(tabs.mask, 'none', 'the fading edge says the tab bar goes on');
    await page.getByRole('tab', { name: /^Attachments/ }).click();
    await page.locator('.attachment').waitFor();
    const card = await page.evaluate(() => document.querySelector('.attachment')?.getBoundingClientRect().right ?? 999);
    assert.ok(card <= 390, `attachment card ends at ${card} px`);
    await page.screenshot({ path: join(resultsDir(), 'ui-phone-attachments.png') });
  });

  it('fits the faults table on the screen (it scrolls inside itself)', async () => {
    await page.getByRole('link', { name: 'Faults' }).click();
    await page.locator('.fault-rules').waitFor();
    const right = await page.evaluate(() => document.querySelector('.fault-rules')?.getBoundingClientRect().right ?? 999);
    assert.ok(right <= 390, `faults table ends at ${right} px`);
    await page.screenshot({ path: join(resultsDir(), 'ui-phone-faults.png') });
  });
});
