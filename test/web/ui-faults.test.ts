/**
 * The faults panel in real headless Chromium against the real service: view the rules, edit them as JSON (a bad
 * document shows the server's reason and changes nothing), watch a rule's counters move as SMTP sessions meet it, see
 * the faulted session marked in the session list, and clear. Every wait is a bounded Playwright wait.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { smtpDialect } from '../../src/smtp/core/dialects/smtp.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { SocketLines } from '../helpers/socket-driver.js';

describe('the faults panel in headless Chromium', () => {
  let service: RunningService;
  let browser: Browser;
  let page: Page;
  before(async () => {
    service = await startService({
      smtp: { host: '127.0.0.1', port: 0, dialect: smtpDialect, limits: resolveLimits(), display: quietDisplay },
      store: { kind: 'memory' },
      http: { host: '127.0.0.1', port: 0 },
    });
    assert.ok(service.http);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`http://127.0.0.1:${service.http.port}/#/faults`);
    await page.locator('.live.open').waitFor();
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('edits the rules as JSON, shows a refusal\'s reason, counts a faulted session, marks it, and clears', async () => {
    await page.getByText('No fault rules: every session is served normally.').waitFor();
    await page.getByRole('button', { name: 'Edit as JSON' }).click();
    const editor = page.getByRole('textbox', { name: 'Fault document (JSON)' });
    await editor.fill(JSON.stringify({ rules: [{ on: 'mail', every: 0, reply: '451 4.3.0 x' }] }));
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.fault-problem').filter({ hasText: 'rules[0].every: must be a whole number ≥ 1' }).waitFor();
    assert.equal(service.faults.active(), false, 'a refused document changes nothing');

    await editor.fill(JSON.stringify({ seed: 7, rules: [{ on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' }] }));
    await page.getByRole('button', { name: 'Apply' }).click();
    const row = page.locator('.fault-rules tr[data-rule="1"]');
    await row.waitFor();
    assert.equal(await row.locator('td.fired').textContent(), '0');
    await page.getByText('1 rule, seed 7').waitFor();

    // A session meets the rule; the session-ended event refreshes the counters without a reload.
    const conn = await SocketLines.open(service.smtp.port);
    await conn.next();
    for (const line of ['EHLO ui.test', 'MAIL FROM:<a@x.test>']) {
      conn.write(`${line}\r\n`);
      for (let l = await conn.next(); l !== null && l[3] === '-'; l = await conn.next());
    }
    conn.write('RCPT TO:<gone@bounce.test>\r\n');
    assert.equal(await conn.next(), '550 5.1.1 No such user here');
    conn.write('QUIT\r\n');
    assert.equal(await conn.next(), '221 2.0.0 127.0.0.1 closing connection');
    await row.locator('td.fired', { hasText: '1' }).waitFor();
    assert.equal(await row.locator('td.matched').textContent(), '1');
    await page.screenshot({ path: join(resultsDir(), 'faults-panel.png') });

    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.locator('.srow .pill.fault', { hasText: 'fault: rule 1' }).waitFor();

    await page.getByRole('link', { name: 'Faults' }).click();
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('No fault rules: every session is served normally.').waitFor();
    assert.equal(service.faults.active(), false);
  });
});
