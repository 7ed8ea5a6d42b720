/**
 * List polish in real headless Chromium (issue 32 item 8): the exact total of the view instead of "100+" (the list
 * loads 100 a page), its unread count, labelled inbox counts, and "Mark all read" over the whole view (an inbox's, or
 * everything), not only what is loaded.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isMessageStore } from '../../src/store/index.js';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { crlf, incoming, saveIndexed } from '../helpers/mail.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';

describe('exact counts and mark all read in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const toolbar = () => page.locator('.list-toolbar .count');
  const markAll = () => page.locator('.list-toolbar button.mark-read');
  const unreadIn = async (query: string): Promise<number> =>
    ((await (await fetch(`${origin}/api/v1/messages/count?query=${encodeURIComponent(`${query} is:unread`.trim())}`)).json()) as { total: number }).total;

  before(async () => {
    service = await startMemoryCatcher();
    origin = `http://127.0.0.1:${service.http.port}`;
    const store = service.store;
    assert.ok(isMessageStore(store));
    // 130 messages: more than the 100 the list loads at once. 30 of them also went to ops@x.test.
    for (let i = 0; i < 130; i++) {
      const to = i < 30 ? ['qa@x.test', 'ops@x.test'] : ['qa@x.test'];
      await saveIndexed(store, incoming(crlf([`Subject: message ${i}`, '', `body ${i}`]), { to }, new Date(Date.UTC(2024, 4, 1, 10, 0, i))));
    }
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`${origin}/`);
    await page.locator('.live.open').waitFor();
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('says the exact total and the unread count, and labels the inbox counts', async () => {
    await toolbar().filter({ hasText: '130 messages · 130 unread' }).waitFor();
    assert.equal(await page.locator('.list-scroll .row').count() <= 100, true, 'only the first page is loaded');
    assert.equal(await page.locator('.inbox-head').innerText().then((t) => t.replace(/\s+/g, ' ').trim().toLowerCase()), 'inboxes unread total');
    assert.equal(await page.locator('.inbox[data-address="ops@x.test"] .counts').getAttribute('aria-label'), '30 unread, 30 in total');
    assert.equal(await page.locator('.inbox[data-address="qa@x.test"] .total').getAttribute('title'), '130 messages in total');
    await page.screenshot({ path: join(resultsDir(), 'ui-counts-total.png') });
  });

  it('marks every message of an inbox read, then all of them, and follows new mail', async () => {
    await page.locator('.inbox[data-address="ops@x.test"]').click();
    await toolbar().filter({ hasText: '30 messages · 30 unread' }).waitFor();
    assert.equal(await markAll().getAttribute('title'), 'Mark the 30 unread messages of this view read');
    await markAll().click();
    await page.locator('.toast', { hasText: '30 messages marked read' }).waitFor();
    await toolbar().filter({ hasText: /^30 messages$/ }).waitFor();
    assert.equal(await markAll().isDisabled(), true);
    assert.equal(await unreadIn('inbox:ops@x.test'), 0);
    assert.equal(await unreadIn(''), 100, 'only that inbox was marked');
    await page.locator('.inbox[data-address="ops@x.test"] .counts[aria-label="0 unread, 30 in total"]').waitFor();

    await page.locator('.inbox-pane .inbox', { hasText: 'All mail' }).click();
    await toolbar().filter({ hasText: '130 messages · 100 unread' }).waitFor();
    await markAll().click();
    await toolbar().filter({ hasText: /^130 messages$/ }).waitFor();
    assert.equal(await unreadIn(''), 0, 'the 30 messages not loaded were marked too');
    await page.screenshot({ path: join(resultsDir(), 'ui-counts-marked.png') });

    await sendRaw(service.smtp.port, 'ann@a.test', 'qa@x.test', await compose({ from: 'ann@a.test', to: 'qa@x.test', subject: 'One more', text: 'hi' }));
    await toolbar().filter({ hasText: '131 messages · 1 unread' }).waitFor();
    assert.equal(await markAll().isDisabled(), false);
  });
});
