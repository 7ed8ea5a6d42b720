/**
 * UI measurement with 100,000 messages stored: page load (navigation to first row shown) and scrolling the
 * virtualized list (frame intervals while scrolling, rows in the DOM, cursor-page fetch times), in headless Chromium.
 * A measurement, not a test: it prints numbers and asserts nothing. Run: npm run bench:ui  (BENCH_DIR to keep the db).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { simplifiedDialect } from '../src/smtp/core/dialects/simplified.js';
import { resolveLimits } from '../src/smtp/core/limits.js';
import { quietDisplay } from '../src/smtp/server/display.js';
import { startService } from '../src/service.js';
import { openStore } from '../src/store/open.js';
import type { IncomingMessage } from '../src/store/types.js';
import { launchBrowser } from '../test/helpers/browser.js';

// In-page code runs in the browser; the bench compiles without the DOM library, so these stand in.
type El = { scrollTop: number; scrollHeight: number; clientHeight: number };
declare const document: { querySelector(s: string): El | null; querySelectorAll(s: string): { length: number } };
declare function requestAnimationFrame(f: (t: number) => void): number;
declare const window: { performance: { now(): number; getEntriesByType(t: string): { name: string; duration: number; domContentLoadedEventEnd?: number; loadEventEnd?: number }[] } };

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 100_000);
const WORDS = ['invoice', 'meeting', 'report', 'lunch', 'deploy', 'review', 'holiday', 'budget', 'signup', 'password'];

function message(i: number): IncomingMessage {
  const word = WORDS[i % WORDS.length] ?? 'x';
  const raw = Buffer.from([
    `From: Sender ${i % 500} <sender${i % 500}@from.test>`, `To: user${i % 1000}@to.test`, `Subject: ${word} number ${i}`,
    `Message-ID: <${i}@bench.test>`, 'Date: Wed, 01 May 2024 10:00:00 +0000', '', `Hello, this is about the ${word}. Unique token u${i}.`, '',
  ].join('\r\n'));
  return {
    envelope: { helo: 'bench.test', from: `sender${i % 500}@from.test`, to: [`user${i % 1000}@to.test`] },
    connection: { clientAddress: '127.0.0.1', clientPort: 40000 + (i % 1000), serverAddress: '127.0.0.1', serverPort: 2525, dialect: 'smtp', tls: false },
    receivedAt: new Date(Date.UTC(2024, 4, 1) + i * 1000),
    raw,
  };
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
const f1 = (n: number): string => n.toFixed(1);

async function main(): Promise<void> {
  const keep = process.env.BENCH_DIR;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'mailwire-bench-ui-'));
  const store = await openStore({ kind: 'sqlite', dataDir: dir, maxMessages: 0 });
  const have = (await store.listMessages({ limit: 1 })).items.length > 0;
  if (!have) {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => { while (next < TOTAL) await store.save(message(next++)); }));
    console.log(`filled ${TOTAL} messages through the store API in ${f1((performance.now() - t0) / 1000)} s (${dir})`);
  }
  await store.close();

  const service = await startService({
    smtp: { host: '127.0.0.1', port: 0, dialect: simplifiedDialect, limits: resolveLimits(), display: quietDisplay },
    store: { kind: 'sqlite', dataDir: dir, maxMessages: 0 },
    http: { host: '127.0.0.1', port: 0 },
  });
  const base = `http://127.0.0.1:${service.http?.port ?? 0}/`;
  const browser = await launchBrowser({ width: 1400, height: 900 });
  try {
    // ---- load: navigation start → first row on screen; the first run has a cold cache, the rest a warm one
    const loads: number[] = [];
    for (let run = 0; run < 6; run++) {
      const page = await browser.context.newPage();
      await page.goto(base);
      await page.locator('.list-scroll .row').first().waitFor();
      const t = await page.evaluate(() => window.performance.now());
      const nav = await page.evaluate(() => window.performance.getEntriesByType('navigation')[0]);
      const first = await page.evaluate(() => window.performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/messages?'))?.duration ?? 0);
      loads.push(t);
      console.log(`load ${run === 0 ? 'cold' : 'warm'}: first row shown at ${f1(t)} ms (DOMContentLoaded ${f1(nav?.domContentLoadedEventEnd ?? 0)} ms, load ${f1(nav?.loadEventEnd ?? 0)} ms, first page of 100 from the API ${f1(first)} ms)`);
      await page.close();
    }
    const warm = loads.slice(1);
    console.log(`load, warm: median ${f1(pct(warm, 0.5))} ms, max ${f1(Math.max(...warm))} ms`);

    // ---- scroll: 10 rows (800 px) per frame for 1,000 frames, fetching cursor pages as the end nears
    const page = await browser.context.newPage();
    await page.goto(base);
    await page.locator('.list-scroll .row').first().waitFor();
    const result = await page.evaluate(() => new Promise<{ frames: number[]; rows: number; domRows: number; maxDomRows: number; ms: number; stalls: number }>((resolve) => {
      const el = document.querySelector('.list-scroll');
      if (!el) throw new Error('no list');
      const frames: number[] = [];
      let last = 0;
      let n = 0;
      let maxDomRows = 0;
      let stalls = 0;
      const start = window.performance.now();
      const step = (t: number): void => {
        if (last) frames.push(t - last);
        last = t;
        const before = el.scrollTop;
        el.scrollTop = before + 800;
        if (el.scrollTop === before) stalls++; // at the loaded end, waiting for the next page
        maxDomRows = Math.max(maxDomRows, document.querySelectorAll('.list-scroll .row').length);
        if (++n < 1000) requestAnimationFrame(step);
        else resolve({ frames, rows: Math.round(el.scrollHeight / 80), domRows: document.querySelectorAll('.list-scroll .row').length, maxDomRows, ms: window.performance.now() - start, stalls });
      };
      requestAnimationFrame(step);
    }));
    const fetches = await page.evaluate(() => window.performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/messages?') && e.name.includes('cursor=')).map((e) => e.duration));
    console.log(`scroll: 1000 frames in ${f1(result.ms)} ms, ~${result.rows} rows loaded, ${result.maxDomRows} rows in the DOM at most (${result.domRows} at the end)`);
    console.log(`scroll: frame interval median ${f1(pct(result.frames, 0.5))} ms, p95 ${f1(pct(result.frames, 0.95))} ms, max ${f1(Math.max(...result.frames))} ms; ${result.stalls} frames waited at the loaded end`);
    console.log(`scroll: ${fetches.length} cursor pages of 100 fetched, each median ${f1(pct(fetches, 0.5))} ms, p95 ${f1(pct(fetches, 0.95))} ms`);
    const probe = performance.now();
    await page.locator('.list-scroll .row').nth(3).click();
    await page.locator('.view-subject').waitFor();
    console.log(`open a message deep in the list: ${f1(performance.now() - probe)} ms (click → subject shown, measured from Node)`);
  } finally {
    await browser.close();
    await service.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
