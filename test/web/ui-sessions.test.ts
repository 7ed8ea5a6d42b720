/**
 * The session list as something to navigate, in real headless Chromium (issue 32 item 5): failed only, by client or
 * by address (the GET /api/v1/sessions filters), a refused HTTP client marked failed, and "queued as ID" in a
 * transcript as a link to the message.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { SocketLines } from '../helpers/socket-driver.js';

/** Sends `lines` one at a time and returns the last line of each reply (multi-line EHLO replies read whole). */
async function converse(conn: SocketLines, lines: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const line of lines) {
    conn.write(`${line}\r\n`);
    let reply = await conn.next();
    for (let i = 0; i < 30 && reply !== null && reply[3] === '-'; i++) reply = await conn.next();
    out.push(reply ?? '(closed)');
  }
  return out;
}

describe('the session list in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let queuedId = '';
  before(async () => {
    service = await startMemoryCatcher(smtpDialect);
    // A delivered message, an HTTP client refused, and a session that only said hello.
    const mail = await SocketLines.open(service.smtp.port);
    await mail.next();
    const replies = await converse(mail, ['EHLO ui.test', 'MAIL FROM:<ann@a.test>', 'RCPT TO:<bob@b.test>', 'DATA', 'Subject: filtered\r\n\r\nhello\r\n.', 'QUIT']);
    queuedId = /queued as (\S+)/.exec(replies[4] ?? '')?.[1] ?? '';
    assert.ok(queuedId, replies.join('\n'));
    const http = await SocketLines.open(service.smtp.port);
    await http.next();
    assert.match((await converse(http, ['GET / HTTP/1.1']))[0] ?? '', /^421 .*HTTP is not spoken here$/);
    const hello = await SocketLines.open(service.smtp.port);
    await hello.next();
    await converse(hello, ['HELO x.test', 'QUIT']);

    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${service.http.port}/#/sessions`);
    await page.locator('.live.open').waitFor();
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('shows on each row what the client said: HELO name, MAIL FROM, first RCPT TO (none for the HTTP client)', async () => {
    await page.locator('.srow').nth(2).waitFor();
    const said = async (i: number): Promise<string | null> => {
      const row = page.locator('.srow').nth(i).locator('.row-said');
      return (await row.count()) === 0 ? null : (await row.innerText()).replace(/\s+/g, ' ').trim();
    };
    // Newest first: the hello-only session, the HTTP client, the delivered message.
    assert.deepEqual([await said(0), await said(1), await said(2)], ['HELO x.test', null, 'HELO ui.test FROM ann@a.test TO bob@b.test']);
    await page.screenshot({ path: join(resultsDir(), 'ui-sessions-said.png') });
  });

  it('draws a session\'s per-command response times as a waterfall, one bar per timed reply', async () => {
    const row = page.locator('.srow').nth(2);
    const id = await row.getAttribute('data-id');
    const detail = (await (await fetch(`http://127.0.0.1:${service.http.port}/api/v1/sessions/${id}`)).json()) as {
      transcript: { dir: string; text: string; responseMs?: number }[];
    };
    const timed = detail.transcript.filter((l) => l.dir === 'server' && l.responseMs !== undefined);
    await row.click();
    const bars = page.locator('.waterfall rect.bar');
    await bars.first().waitFor();
    assert.equal(await bars.count(), timed.length);
    const labels = await page.locator('.waterfall text.wf-label').allTextContents();
    assert.deepEqual(labels, ['(greeting)', 'EHLO ui.test', 'MAIL FROM:<ann@a.test>', 'RCPT TO:<bob@b.test>', 'DATA', '(message)', 'QUIT']);
    assert.match((await bars.nth(2).locator('title').textContent()) ?? '', /^MAIL FROM:<ann@a\.test>: .+, from \+\d+ ms$/);
    await page.screenshot({ path: join(resultsDir(), 'ui-sessions-waterfall.png') });
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => location.hash === '#/sessions');
  });

  it('filters failed only, by address and by client, and links "queued as ID" to the message', async () => {
    const rows = page.locator('.srow');
    await page.locator('.srow').nth(2).waitFor();
    assert.equal(await rows.count(), 3);

    await page.getByLabel('Failed only').check();
    await page.locator('.srow.failed').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.srow').length === 1);
    assert.match((await rows.first().textContent()) ?? '', /error/);
    await page.getByLabel('Failed only').uncheck();
    await page.waitForFunction(() => document.querySelectorAll('.srow').length === 3);

    const box = page.getByLabel('Filter sessions by client address or mail address');
    await box.fill('BOB@b.test');
    await box.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('.srow').length === 1);
    await page.screenshot({ path: join(resultsDir(), 'ui-sessions-filtered.png') });

    await box.fill('10.9.9.9');
    await box.press('Enter');
    await page.getByText('No session matches these filters.').waitFor();
    await box.fill('127.0.0.1');
    await box.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('.srow').length === 3);

    await box.fill('bob@b.test');
    await box.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('.srow').length === 1);
    await rows.first().click();
    const link = page.locator('.transcript a.queued');
    assert.equal(await link.textContent(), queuedId);
    await link.click();
    await page.locator('.view-subject', { hasText: 'filtered' }).waitFor();
    assert.equal(await page.evaluate(() => location.hash), `#/m/${queuedId}`);
  });
});

declare const document: { querySelectorAll(selector: string): { length: number } };
declare const location: { hash: string };
