/**
 * The inbox list of the web UI in real headless Chromium: every envelope recipient with its counts beside the
 * message list; choosing one scopes the list, the search and the live updates. Mail goes in over SMTP (nodemailer).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { Page } from 'playwright-core';
import { startMailwire, type Mailwire } from '../../src/index.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';

describe('web UI inboxes in headless Chromium', () => {
  let mailwire: Mailwire;
  let browser: Browser;
  let page: Page;
  const send = async (to: string[], subject: string): Promise<void> => {
    const t = nodemailer.createTransport({ host: mailwire.smtp.host, port: mailwire.smtp.port, secure: false });
    try { await t.sendMail({ from: 'app@x.test', to, subject, text: `${subject} body` }); } finally { t.close(); }
  };
  const inbox = (address: string) => page.locator(`.inbox[data-address="${address}"]`);
  const rows = () => page.locator('.list-scroll .row');
  /** Waits until the list shows exactly these subjects (in order), or fails with what it shows. */
  const expectRows = async (want: string[]): Promise<void> => {
    const deadline = Date.now() + 10_000;
    let got: string[] = [];
    while (Date.now() < deadline) {
      got = (await rows().allInnerTexts()).map((t) => want.find((w) => t.includes(w)) ?? t.split('\n').join(' | '));
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      await page.waitForTimeout(50);
    }
    assert.deepEqual(got, want);
  };

  before(async () => {
    mailwire = await startMailwire();
    await send(['qa+1@x.test'], 'Alpha');
    await send(['qa+2@x.test'], 'Beta');
    await send(['qa+1@x.test', 'qa+2@x.test'], 'Gamma');
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(mailwire.url + '/');
    await page.locator('.live.open').waitFor();
  });
  after(async () => {
    await browser?.close();
    await mailwire?.close();
  });

  it('lists each envelope recipient with its unread and total counts', async () => {
    await inbox('qa+1@x.test').waitFor();
    assert.deepEqual(await page.locator('.inbox').allInnerTexts(), ['All mail', 'qa+1@x.test\n2\n2', 'qa+2@x.test\n2\n2']);
    assert.equal(await page.locator('.inbox.active').innerText(), 'All mail');
    await expectRows(['Gamma', 'Beta', 'Alpha']);
  });

  it('scopes the list, the search and the live updates to the inbox chosen', async () => {
    await inbox('qa+1@x.test').click();
    await expectRows(['Gamma', 'Alpha']);
    assert.equal(await inbox('qa+1@x.test').getAttribute('aria-pressed'), 'true');

    await page.locator('input[type=search]').fill('alpha');
    await expectRows(['Alpha']);
    await page.locator('input[type=search]').fill('');
    await page.locator('input[type=search]').press('Escape'); // the search hint closes with the focus
    await expectRows(['Gamma', 'Alpha']);

    await send(['qa+2@x.test'], 'Delta'); // another inbox: must not appear here
    await send(['qa+1@x.test'], 'Epsilon');
    await expectRows(['Epsilon', 'Gamma', 'Alpha']);
    await page.locator('.inbox[data-address="qa+2@x.test"] .total').filter({ hasText: '3' }).waitFor(); // counts follow live
    await page.screenshot({ path: join(resultsDir(), 'ui-inboxes-scoped.png') });

    await page.locator('.inbox').first().click(); // All mail
    await expectRows(['Epsilon', 'Delta', 'Gamma', 'Beta', 'Alpha']);
  });

  it('counts a message read once it has been opened', async () => {
    await inbox('qa+2@x.test').click();
    await expectRows(['Delta', 'Gamma', 'Beta']);
    await rows().filter({ hasText: 'Beta' }).click();
    await page.locator('.inbox[data-address="qa+2@x.test"] .unread').filter({ hasText: /^2$/ }).waitFor();
    assert.equal(await inbox('qa+2@x.test').innerText(), 'qa+2@x.test\n2\n3');
  });
});
