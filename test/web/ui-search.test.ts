/**
 * Search errors and shareable searches in real headless Chromium (issue 32 item 3): a malformed query shows the
 * server's reason where the results go, with no stale results and bulk delete disabled, also after blur; the hint
 * closes once results show and names inbox:; the query and the inbox are in the URL, so a reload keeps the view.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';

declare const document: { querySelectorAll(selector: string): { length: number } };
declare const location: { search: string };

describe('search errors and shareable searches in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let origin: string;
  before(async () => {
    service = await startMemoryCatcher();
    origin = `http://127.0.0.1:${service.http.port}`;
    for (const [to, subject] of [['bob@b.test', 'Lunch'], ['bob@b.test', 'Invoice 7'], ['carol@c.test', 'Invoice 8']] as const) {
      await sendRaw(service.smtp.port, 'ann@a.test', to, await compose({ from: 'ann@a.test', to, subject, text: 'hi' }));
    }
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`${origin}/`);
    await page.locator('.live.open').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 3);
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('shows a malformed query\'s reason where the results go, with no results and bulk delete off, also after blur', async () => {
    const box = page.locator('.search input');
    await box.click();
    await page.locator('.hint', { hasText: 'inbox:bob@example.com' }).waitFor();
    await box.fill('subject:"open');
    const error = page.locator('.list-pane .search-error');
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /^Search: .*unterminated quote/);
    assert.equal(await page.locator('.hint').count(), 0, 'the hint does not cover the reason');
    assert.equal(await page.locator('.list-scroll .row').count(), 0);
    assert.equal(await page.locator('.list-toolbar .count').textContent(), 'Search error');
    assert.equal(await page.getByRole('button', { name: 'Delete results' }).isDisabled(), true);
    await page.screenshot({ path: join(resultsDir(), 'ui-search-error.png') });
    await box.blur();
    assert.equal(await page.locator('.list-scroll .row').count(), 0, 'no stale results after blur');
    assert.equal(await page.getByRole('button', { name: 'Delete results' }).isDisabled(), true);
  });

  it('closes the hint once results show, and keeps the query and the inbox in the URL across a reload', async () => {
    const box = page.locator('.search input');
    await box.click();
    await box.fill('invoice');
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 2);
    await page.locator('.hint').waitFor({ state: 'detached' });
    await page.locator('.inbox', { hasText: 'bob@b.test' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 1);
    await page.waitForFunction(() => location.search === '?q=invoice&inbox=bob%40b.test');
    await page.reload();
    await page.locator('.live.open').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 1);
    assert.equal(await page.locator('.search input').inputValue(), 'invoice');
    assert.deepEqual(await page.locator('.list-scroll .row .row-subject').allInnerTexts(), ['Invoice 7']);
  });
});
