/**
 * A PDF attachment opens in a new tab, in real headless Chromium (issue 32 item 4): the Attachments tab has an Open
 * link for it (target _blank, noopener), the new tab loads the attachment URL served inline as application/pdf (under
 * CSP sandbox, as everything from a mail), and the browser's PDF viewer draws it. Other types keep only Download.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isMessageStore } from '../../src/store/index.js';
import { startMemoryCatcher, type Catcher } from '../helpers/catcher.js';
import { launchBrowser, resultsDir, type Browser } from '../helpers/browser.js';
import { crlf, incoming, saveIndexed } from '../helpers/mail.js';

/** A one-page PDF saying "mailwire", with a correct cross-reference table. */
function tinyPdf(): Buffer {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    '<< /Length 44 >>\nstream\nBT /F1 24 Tf 20 40 Td (mailwire) Tj ET\nendstream',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((n) => `${String(n).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

describe('a PDF attachment in headless Chromium', () => {
  let service: Catcher;
  let browser: Browser;
  let page: Page;
  let origin: string;
  let id = '';
  before(async () => {
    service = await startMemoryCatcher();
    origin = `http://127.0.0.1:${service.http.port}`;
    assert.ok(isMessageStore(service.store));
    id = await saveIndexed(service.store, incoming(crlf([
      'From: a@a.test', 'To: b@b.test', 'Subject: invoice attached', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"', '',
      '--b', 'Content-Type: text/plain', '', 'see attached',
      '--b', 'Content-Type: application/pdf', 'Content-Disposition: attachment; filename="invoice.pdf"', 'Content-Transfer-Encoding: base64', '',
      tinyPdf().toString('base64'),
      '--b', 'Content-Type: text/csv', 'Content-Disposition: attachment; filename="rows.csv"', '', 'a,b', '--b--',
    ])));
    browser = await launchBrowser();
    page = await browser.context.newPage();
    await page.goto(`${origin}/#/m/${id}/attachments`);
    await page.locator('.attachment').nth(1).waitFor();
  });
  after(async () => {
    await browser?.close();
    await service?.close(1000);
  });

  it('opens the PDF in a new tab, shown inline by the viewer; the CSV keeps only its download', async () => {
    const cards = page.locator('.attachment');
    assert.equal(await cards.nth(1).locator('.att-open').count(), 0, 'no Open for a CSV');
    const open = cards.nth(0).locator('a.att-open');
    assert.equal(await open.getAttribute('target'), '_blank');
    assert.equal(await open.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await open.getAttribute('download'), null);
    await page.screenshot({ path: join(resultsDir(), 'ui-pdf-attachments.png') });

    const [tab] = await Promise.all([browser.context.waitForEvent('page'), open.click()]);
    // (The headers of that response, which Chromium hands to its viewer unseen by the page, are tested in api.test.ts.)
    await tab.waitForLoadState();
    assert.equal(tab.url(), `${origin}/api/v1/messages/${id}/attachments/0`);
    // Chromium shows a PDF as a document of that type wrapping its viewer, which leaves a page snapshot (a PDF's first
    // page as pixels); a download leaves about:blank, a blocked viewer an error page of type text/html.
    await tab.waitForFunction(() => document.contentType === 'application/pdf');
    // The viewer drew the page: white pixels on its dark background (a viewer that draws nothing stays dark).
    // The screenshot is decoded by the UI page's own canvas (its policy allows data: images).
    const deadline = Date.now() + 10_000;
    let white = 0;
    while (Date.now() < deadline) {
      const shot = (await tab.screenshot({ path: join(resultsDir(), 'ui-pdf-tab.png') })).toString('base64');
      white = await page.evaluate(async (png) => {
        const img = new Image();
        img.src = `data:image/png;base64,${png}`;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const ctx = canvas.getContext('2d');
        if (ctx === null) return 0;
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, img.width, img.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) if ((px[i] ?? 0) > 240 && (px[i + 1] ?? 0) > 240 && (px[i + 2] ?? 0) > 240) n++;
        return n / (px.length / 4);
      }, shot);
      if (white > 0.02) break;
      await tab.waitForTimeout(200);
    }
    assert.ok(white > 0.02, `the PDF viewer drew no page (white share ${white})`);
    await tab.close();
  });
});

declare const document: {
  contentType: string;
  createElement(t: 'canvas'): { width: number; height: number; getContext(k: '2d'): { drawImage(i: unknown, x: number, y: number): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null };
};
declare class Image { src: string; width: number; height: number; decode(): Promise<void> }
