/**
 * Deleting with Undo in real headless Chromium (issue 32 item 7): the message leaves the list at once, Undo brings it
 * back with nothing sent; without Undo the DELETE goes when the toast ends; a page left while the toast shows sends
 * it at once (keepalive). The store is asked each time.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { compose, sendRaw } from '../helpers/smtp-send.js';

declare const document: { querySelectorAll(selector: string): { length: number } };

describe('deleting with Undo in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const count = async (): Promise<number> => ((await (await fetch(`${origin}/api/v1/messages`)).json()) as { messages: unknown[] }).messages.length;
  /** The store's count once it is `n`, within 10 s. */
  const storeHolds = async (n: number): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while ((await count()) !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await count(), n);
  };
  before(async () => {
    service = await startMemoryCatcher();
    origin = `http://127.0.0.1:${service.http.port}`;
    for (const subject of ['First', 'Second', 'Third']) {
      await sendRaw(service.smtp.port, 'ann@a.test', 'bob@b.test', await compose({ from: 'ann@a.test', to: 'bob@b.test', subject, text: 'hi' }));
    }
    await storeHolds(3);
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

  it('takes the message out of the list at once; Undo brings it back and nothing is deleted', async () => {
    await page.locator('.row', { hasText: 'Second' }).click();
    await page.locator('.view-subject', { hasText: 'Second' }).waitFor();
    await page.keyboard.press('Delete');
    await page.locator('.row', { hasText: 'Second' }).waitFor({ state: 'detached' });
    await page.locator('.toast.undo').waitFor();
    await page.screenshot({ path: join(resultsDir(), 'ui-undo-toast.png') });
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.locator('.row', { hasText: 'Second' }).waitFor();
    assert.deepEqual(await page.locator('.list-scroll .row .row-subject').allInnerTexts(), ['Third', 'Second', 'First']);
    assert.equal(await count(), 3);
  });

  it('sends the DELETE when the toast ends', async () => {
    await page.locator('.row', { hasText: 'First' }).click();
    await page.locator('.view-actions').getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('.toast.undo').waitFor();
    assert.equal(await count(), 3, 'not yet: Undo is still open');
    await page.locator('.toast.undo').waitFor({ state: 'detached', timeout: 15_000 });
    await storeHolds(2);
  });

  it('sends the DELETE at once when the page is left during the toast', async () => {
    await page.locator('.row', { hasText: 'Third' }).click();
    await page.keyboard.press('Delete');
    await page.locator('.toast.undo').waitFor();
    await page.goto('about:blank');
    await storeHolds(1);
  });
});
