/**
 * The web UI in real headless Chromium against the real service: mail goes in over SMTP, the page (opened once, never
 * reloaded) must show it. Every wait is a Playwright wait with a bounded timeout; screenshots go to test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { simplifiedDialect } from '../../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../../src/smtp/core/limits.js';
import { quietDisplay } from '../../src/smtp/server/display.js';
import { startService, type RunningService } from '../../src/service.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { tempDir } from '../helpers/mail.js';
import { PNG_16, compose, sendRaw } from '../helpers/smtp-send.js';

// The page functions below run in the browser; the tests compile without the DOM library, so these stand in.
declare const document: { title: string; querySelectorAll(selector: string): { length: number }; documentElement: { scrollWidth: number } };
declare const window: Record<string, unknown>;
declare function getComputedStyle(el: unknown): { backgroundColor: string };

/** The parts of an HTMLImageElement the checks read (the tests compile without the DOM library). */
type Img = { complete: boolean; naturalWidth: number; onload: (() => void) | null; onerror: (() => void) | null };

/** Script vectors that survive withoutScripts: an SVG load handler and an image error handler, each glued to the tag. */
const SURVIVORS = `<svg/onload="document.body.setAttribute('data-ran','svg')" width="1" height="1"></svg>` +
  `<img id="probe" src="no-such-image"/onerror="document.body.setAttribute('data-ran','img')">`;
/** What the script vectors left on the page, once it has loaded (null: nothing ran). */
const RAN = 'document.body.getAttribute("data-ran")';

const PDF = Buffer.from('%PDF-1.4\n% mailwire test\n\x00\x01\x02\xff binary tail\n', 'latin1');

function start(dataDir: string, httpPort = 0): Promise<RunningService> {
  return startService({
    // A short idle timeout gives a failed (timed-out) session without waiting long.
    smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits({ idleTimeoutMs: 1500 }), display: quietDisplay },
    store: { kind: 'sqlite', dataDir, maxMessages: 0 },
    http: { host: '127.0.0.1', port: httpPort },
  });
}

const report = (from: string, subject: string): Promise<Buffer> => compose({
  from, to: 'Bob Builder <bob@b.test>', cc: 'dan@d.test', subject,
  text: 'Quarterly numbers attached.\nSee you Monday.',
  html: '<!doctype html><html><head><style>h1{color:#0a5}</style></head><body><h1>Quarterly report</h1>' +
    '<p>Numbers are <b>up</b>. <a href="https://example.test/q">Details</a></p>' +
    '<img id="logo" src="cid:logo@mailwire.test" width="16" height="16" alt="logo"><img id="remote" src="https://tracker.example.test/pixel.gif">' +
    '<script>document.body.innerHTML="hacked"</script>' +
    // Two that the server's stripping lets through (no white space before the handler's name): only the sandbox and
    // the CSP stand between them and running. Each marks the body if it runs.
    SURVIVORS + '</body></html>',
  attachments: [
    { filename: 'report.pdf', content: PDF, contentType: 'application/pdf' },
    { filename: 'logo.png', content: PNG_16, contentType: 'image/png', cid: 'logo@mailwire.test' },
  ],
});

describe('web UI in headless Chromium', () => {
  let dir: string;
  let service: RunningService;
  let browser: Browser;
  let page: Page;
  let base = '';
  const shots = resultsDir();
  const rows = (p: Page = page) => p.locator('.list-scroll .row');
  const row = (subject: string, p: Page = page) => rows(p).filter({ hasText: subject });

  before(async () => {
    dir = tempDir();
    service = await start(dir);
    assert.ok(service.http, String(service.httpError));
    base = `http://127.0.0.1:${service.http.port}`;
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(base + '/');
    await page.getByText('No mail yet').waitFor();
    await page.locator('.live.open').waitFor(); // the event stream is up before any mail is sent
    await page.evaluate(() => { window['marker'] = 42; });
  });
  after(async () => {
    await browser?.close();
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a mail sent over SMTP in the open page without a reload, counted in the tab title', async () => {
    await sendRaw(service.smtp.port, 'ann@a.test', 'bob@b.test', await report('Ann Example <ann@a.test>', 'Quarterly report'));
    const r = row('Quarterly report');
    await r.waitFor();
    assert.equal(await page.evaluate(() => window['marker']), 42, 'the page was reloaded');
    assert.match(await r.innerText(), /Ann Example/);
    assert.match(await r.innerText(), /To: Bob Builder/);
    assert.equal(await r.locator('.row-att').count(), 1, 'attachment mark');
    assert.match(await r.getAttribute('class') ?? '', /\bunread\b/);
    await page.waitForFunction(() => document.title.startsWith('(1) '));
    // A second and a third mail, for search and delete below.
    await sendRaw(service.smtp.port, 'carol@c.test', 'bob@b.test', await compose({ from: 'Carol <carol@c.test>', to: 'bob@b.test', subject: 'Lunch on Friday?', text: 'Pizza or sushi?' }));
    await sendRaw(service.smtp.port, 'eve@e.test', 'frank@f.test', await compose({ from: 'eve@e.test', to: 'frank@f.test', subject: 'Password reset', text: 'Your code is 123456.' }));
    await row('Password reset').waitFor();
    assert.deepEqual(await rows().locator('.row-subject').allInnerTexts(), ['Password reset', 'Lunch on Friday?', 'Quarterly report']);
    await page.waitForFunction(() => document.title.startsWith('(3) '));
    await page.screenshot({ path: join(shots, 'ui-list.png') });
  });

  it('opens the message: sandboxed HTML with cid: images resolved and remote ones blocked, then text and headers', async () => {
    await row('Quarterly report').click();
    await page.locator('.view-subject', { hasText: 'Quarterly report' }).waitFor();
    const frame = page.frameLocator('iframe.html-frame');
    await frame.locator('h1', { hasText: 'Quarterly report' }).waitFor();
    assert.equal(await frame.locator('body').innerText().then((t) => t.includes('hacked')), false, 'a script ran');
    // The load event comes after the SVG's load and the broken image's error: by then a handler that could run has run.
    const html = page.frame({ url: /\/api\/v1\/messages\/[^/]+\/html/ });
    assert.ok(html, 'the preview frame');
    await html.waitForLoadState('load');
    assert.equal(await html.evaluate(RAN), null, 'a script that survived stripping ran in the preview frame');
    await frame.locator('#logo').evaluate((img) => new Promise<void>((resolve, reject) => {
      const i = img as unknown as Img;
      if (i.complete) (i.naturalWidth > 0 ? resolve() : reject(new Error('cid image did not load')));
      else { i.onload = () => resolve(); i.onerror = () => reject(new Error('cid image did not load')); }
    }));
    assert.equal(await frame.locator('#remote').evaluate((i) => (i as unknown as Img).naturalWidth), 0, 'remote image loaded');
    await page.getByText('Remote images blocked').waitFor();
    // Links open in a new tab (the sandbox lets popups out); the site itself is faked, nothing leaves 127.0.0.1.
    await browser.context.route('https://example.test/**', (r) => r.fulfill({ contentType: 'text/html', body: '<title>Details page</title>' }));
    const [popup] = await Promise.all([browser.context.waitForEvent('page'), frame.locator('a', { hasText: 'Details' }).click()]);
    await popup.waitForURL('https://example.test/q');
    await popup.close();
    // Opening marked it read: no longer bold, and the title count went down.
    await page.waitForFunction(() => document.title.startsWith('(2) '));
    assert.doesNotMatch(await row('Quarterly report').getAttribute('class') ?? '', /\bunread\b/);
    await page.screenshot({ path: join(shots, 'ui-message-html.png') });

    await page.getByRole('tab', { name: 'Text' }).click();
    await page.locator('pre.text-body', { hasText: 'Quarterly numbers attached.' }).waitFor();
    await page.getByRole('tab', { name: 'Headers' }).click();
    const subjectRow = page.locator('.headers-table tr', { has: page.locator('th', { hasText: /^Subject$/ }) });
    assert.equal(await subjectRow.locator('td').innerText(), 'Quarterly report');
    await page.screenshot({ path: join(shots, 'ui-message-headers.png') });

    await page.getByRole('tab', { name: 'Envelope' }).click();
    const env = await page.locator('dl.envelope').innerText();
    for (const want of ['a.test', '<ann@a.test>', '<bob@b.test>', '127.0.0.1']) assert.ok(env.includes(want), `${want} in ${env}`);
    await page.getByRole('tab', { name: 'Raw' }).click();
    await page.locator('pre.raw-body', { hasText: 'Subject: Quarterly report' }).waitFor();
  });

  it('runs no script in the HTML opened on its own, outside the UI\'s sandboxed iframe', async () => {
    const list = await (await fetch(`${base}/api/v1/messages?query=${encodeURIComponent('subject:"Quarterly report"')}`)).json() as { messages: { id: string }[] };
    const id = list.messages[0]?.id;
    assert.ok(id, 'the message\'s id');
    const alone = await browser.context.newPage();
    try {
      await alone.goto(`${base}/api/v1/messages/${id}/html`, { waitUntil: 'load' });
      await alone.locator('h1', { hasText: 'Quarterly report' }).waitFor();
      assert.equal(await alone.evaluate(RAN), null, 'a script that survived stripping ran in the page');
    } finally {
      await alone.close();
    }
  });

  it('downloads the attachment with the right bytes, and shows inline images', async () => {
    await page.getByRole('tab', { name: /Attachments \(2\)/ }).click();
    const pdf = page.locator('.attachment', { hasText: 'report.pdf' });
    const [download] = await Promise.all([page.waitForEvent('download'), pdf.getByRole('link', { name: 'Download' }).click()]);
    assert.equal(download.suggestedFilename(), 'report.pdf');
    const path = await download.path();
    assert.deepEqual(readFileSync(path), PDF);
    await page.locator('.attachment', { hasText: 'logo.png' }).locator('img').waitFor();
  });

  it('narrows the list as a search is typed, and explains a malformed one', async () => {
    await page.keyboard.press('/');
    await page.keyboard.type('from:carol');
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 1);
    assert.deepEqual(await rows().locator('.row-subject').allInnerTexts(), ['Lunch on Friday?']);
    await page.locator('.search input').fill('subject:"open');
    await page.locator('.search-error', { hasText: 'unterminated quote' }).waitFor();
    await page.locator('.search input').fill('');
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 3);
    await page.locator('.search input').press('Escape');
  });

  it('deletes only the search results, after asking', async () => {
    await page.locator('.search input').fill('subject:lunch');
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 1);
    await page.getByRole('button', { name: 'Delete results' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Every message matching “subject:lunch” will be deleted').waitFor();
    await dialog.getByRole('button', { name: 'Delete results' }).click();
    await page.getByText('No messages match').waitFor();
    await page.locator('.search input').fill('');
    await page.waitForFunction(() => document.querySelectorAll('.list-scroll .row').length === 2);
    assert.deepEqual(await rows().locator('.row-subject').allInnerTexts(), ['Password reset', 'Quarterly report']);
    await page.locator('.search input').press('Escape');
  });

  it('deletes the open message with the Delete key and from the store once its Undo toast ends', async () => {
    await row('Password reset').click();
    await page.locator('.view-subject', { hasText: 'Password reset' }).waitFor();
    const id = await row('Password reset').getAttribute('data-id');
    await page.keyboard.press('Delete');
    await row('Password reset').waitFor({ state: 'detached' });
    await page.locator('.toast.undo').waitFor({ state: 'detached', timeout: 15_000 }); // the DELETE goes as it ends
    for (let i = 0; i < 200 && (await fetch(`${base}/api/v1/messages/${id}`)).status !== 404; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await fetch(`${base}/api/v1/messages/${id}`)).status, 404);
  });

  it('moves through the list with j/k and opens with Enter', async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    await page.keyboard.press('Enter');
    await page.locator('.view-subject').waitFor();
    assert.equal(await page.locator('.row.open').count(), 1);
  });

  it('shows every SMTP session with its transcript and response times, failed ones flagged', async () => {
    // A client that says HELO and then nothing: the server times it out (421) and records a failed session.
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: service.smtp.port }, () => socket.write('HELO idle.test\r\n'));
      socket.on('data', () => {});
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.locator('.srow.failed', { hasText: 'timed out' }).waitFor();
    const srows = page.locator('.srow');
    await page.waitForFunction(() => document.querySelectorAll('.srow').length >= 4);
    assert.equal(await page.locator('.srow.failed').count(), 1);
    await srows.last().click(); // the oldest: Ann's quarterly report
    const table = page.locator('table.transcript');
    await table.locator('tr.t-client', { hasText: 'HELO a.test' }).waitFor();
    await table.locator('tr.t-server', { hasText: '250 Message received and to be delivered' }).waitFor();
    const times = await table.locator('tr.t-server td.t-rt').allInnerTexts();
    assert.ok(times.filter((t) => /^\d+(\.\d+)? (ms|s)$/.test(t)).length >= 5, `response times: ${times.join(' | ')}`);
    assert.match(await table.locator('tr.t-client td.t-time').first().innerText(), /^\d\d:\d\d:\d\d\.\d{3}$/);
    await page.locator('.toast').waitFor({ state: 'detached' }); // the "deleted" notice fades by itself
    await page.screenshot({ path: join(shots, 'ui-sessions.png') });

    await page.locator('.srow.failed').click();
    await page.locator('.view-subject .pill.bad', { hasText: 'failed: timed out' }).waitFor();
    await table.locator('tr.t-error', { hasText: /^.*421/ }).waitFor();
  });

  it('asks before deleting everything, and deletes everything when confirmed', async () => {
    await page.getByRole('link', { name: 'Inbox' }).click();
    await rows().first().waitFor();
    await page.getByRole('button', { name: 'Delete all' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('Every stored message will be deleted').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await rows().count(), 1);
    await page.getByRole('button', { name: 'Delete all' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete all' }).click();
    await page.getByText('No mail yet').waitFor();
    const left = await (await fetch(`${base}/api/v1/messages`)).json() as { messages: unknown[] };
    assert.equal(left.messages.length, 0);
  });

  it('is usable at phone width: the list, then the message, then back', async () => {
    await sendRaw(service.smtp.port, 'ann@a.test', 'bob@b.test', await report('Ann Example <ann@a.test>', 'Phone check'));
    const phone = await browser.context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(base + '/');
      const r = row('Phone check', phone);
      await r.waitFor();
      const box = await r.boundingBox();
      assert.ok(box && box.width >= 380 && box.x >= 0, `row box ${JSON.stringify(box)}`);
      assert.ok(await phone.locator('.search input').isVisible());
      await phone.screenshot({ path: join(shots, 'ui-phone-list.png') });
      await r.click();
      await phone.frameLocator('iframe.html-frame').locator('h1').waitFor();
      assert.equal(await phone.locator('.list-pane').isVisible(), false, 'the list hides behind the open message');
      const frameBox = await phone.locator('iframe.html-frame').boundingBox();
      assert.ok(frameBox && frameBox.x >= 0 && frameBox.x + frameBox.width <= 390, `frame ${JSON.stringify(frameBox)}`);
      const scrollWidth = await phone.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(scrollWidth <= 390, `page scrolls sideways: ${scrollWidth}`);
      await phone.screenshot({ path: join(shots, 'ui-phone-message.png') });
      await phone.getByRole('button', { name: 'Back' }).click();
      await r.waitFor();
    } finally {
      await phone.close();
    }
  });

  it('follows the system into a dark theme', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      const bg = await page.locator('.topbar').evaluate((el) => getComputedStyle(el).backgroundColor);
      const [r = 255, g = 255, b = 255] = (bg.match(/\d+/g) ?? []).map(Number);
      assert.ok(r + g + b < 150, `top bar background in dark mode: ${bg}`);
      await page.locator('.toast').waitFor({ state: 'detached' });
      await page.screenshot({ path: join(shots, 'ui-dark.png') });
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  });

  it('shows API errors in a banner instead of a blank page', async () => {
    const p = await browser.context.newPage();
    try {
      await p.route('**/api/v1/messages?*', (route) => route.fulfill({
        status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'internal', message: 'internal error' } }),
      }));
      await p.goto(base + '/');
      await p.getByRole('alert').filter({ hasText: 'Could not load messages: internal error' }).waitFor();
      assert.ok(await p.locator('.topbar').isVisible());
    } finally {
      await p.close();
    }
  });

  it('reconnects the event stream after the server restarts, and shows mail sent meanwhile', async () => {
    const port = service.http?.port ?? 0;
    await page.locator('.live.open').waitFor();
    await service.close();
    await page.locator('.live.down').waitFor();
    await page.getByText('Lost the connection to the server').waitFor();
    service = await start(dir, port);
    await sendRaw(service.smtp.port, 'gina@g.test', 'bob@b.test', await compose({ from: 'gina@g.test', to: 'bob@b.test', subject: 'After the restart', text: 'Still here.' }));
    await page.locator('.live.open').waitFor({ timeout: 20_000 });
    await row('After the restart').waitFor();
  });
});
